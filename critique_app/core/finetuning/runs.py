"""Fine-tuning runs on disk: where the wizard puts them, and what each holds.

A run folder is written by the trainer: ``run.json`` (its command),
``progress.jsonl`` (every event), ``checkpoint.pt`` and, once finished,
``model/`` (weights, ``critique_model.json``, ``metrics.json``, model card,
and for critics ``examples.json``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.finetuning.events import RunProgress
from critique_app.core.util.paths import data_dir


def runs_root() -> Path:
    return data_dir() / "training"


def new_run_dir(task: str, root: Path | None = None) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = (root or runs_root()) / f"{task}-{stamp}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = folder.with_name(f"{task}-{stamp}-{suffix}")
    return folder


@dataclass
class RunInfo:
    folder: Path
    task: str
    finished: bool  # a model folder was written
    resumable: bool  # stopped with a checkpoint, not finished
    progress: RunProgress

    @property
    def model_dir(self) -> Path:
        return self.folder / "model"


def read_run(folder: Path) -> RunInfo | None:
    """The run in ``folder``, or None when it is not a fine-tuning run."""
    folder = Path(folder)
    try:
        command = json.loads((folder / "run.json").read_text(encoding="utf-8"))["command"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    progress = RunProgress()
    log = folder / "progress.jsonl"
    if log.is_file():
        progress.apply_lines(log.read_text(encoding="utf-8", errors="replace").splitlines())
    finished = (folder / "model" / "critique_model.json").is_file()
    resumable = not finished and (folder / "checkpoint.pt").is_file()
    return RunInfo(folder, command, finished, resumable, progress)


def list_runs(root: Path | None = None) -> list[RunInfo]:
    root = root or runs_root()
    if not root.is_dir():
        return []
    runs = [read_run(child) for child in sorted(root.iterdir(), reverse=True) if child.is_dir()]
    return [run for run in runs if run is not None]


def read_results(model_dir: Path) -> dict:
    """What the results page shows: name, task, held-out metrics (and the starting
    model's), and example predictions or critiques when the run wrote them."""
    model_dir = Path(model_dir)

    def load(name: str, default):
        try:
            return json.loads((model_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default

    metadata = load("critique_model.json", {})
    metrics = load("metrics.json", {})
    return {"name": metadata.get("name", model_dir.parent.name),
            "task": metadata.get("task", ""), "trained_on": metadata.get("trained_on", ""),
            "extra": metadata.get("extra", {}),
            "metrics": metrics.get("metrics", {}),
            "baseline_metrics": metrics.get("baseline_metrics", {}),
            "peak_gpu_memory_bytes": metrics.get("peak_gpu_memory_bytes"),
            "examples": load("examples.json", [])}
