"""Questions the wizard asks the trainer before a run: is this dataset valid, what
hardware is there, how much memory will it take. Each runs ``python -m train``
briefly and reads its JSON answer; they block, so the GUI calls them through its
bridge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from critique_app.core.finetuning.plan import train_command
from critique_app.core.util.errors import CritiqueError


def ask_trainer(argv: list[str], *, timeout: float = 300.0, ok_codes=(0,)) -> object:
    try:
        done = subprocess.run(train_command(argv), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CritiqueError(f"the trainer did not answer within {timeout:.0f} s") from None
    if done.returncode not in ok_codes:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise CritiqueError(reason.removeprefix("error: "))
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise CritiqueError("the trainer's answer could not be read") from None


def validate_data(path: Path, data_format: str | None = None,
                  images: Path | None = None) -> dict:
    """Counts, a preview and every bad row (with its line) of a dataset."""
    argv = ["validate", "--data", str(path), "--json"]
    if data_format:
        argv += ["--format", data_format]
    if images:
        argv += ["--images", str(images)]
    return ask_trainer(argv, ok_codes=(0, 1))  # 1: valid JSON, but some rows are bad


def detect_hardware() -> dict:
    return ask_trainer(["hardware", "--json"], timeout=120)


def estimate_memory(task: str, *, base: str | None = None, batch_size: int | None = None,
                    input_size: int | None = None, limit_gb: float = 11.0) -> list[dict]:
    argv = ["estimate", "--task", "critic" if task == "critic" else "score",
            "--limit-gb", str(limit_gb), "--json"]
    if base and task != "personal":
        argv += ["--model" if task == "critic" else "--backbone", base]
    if batch_size:
        argv += ["--batch-size", str(batch_size)]
    if input_size and task != "critic":
        argv += ["--input-size", str(input_size)]
    return ask_trainer(argv, timeout=300)
