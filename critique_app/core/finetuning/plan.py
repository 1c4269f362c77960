"""What the wizard asks for, as the trainer's command line.

A plan holds the photographer's choices; :meth:`FineTuningPlan.argv` turns them
into ``python -m train TASK ...`` arguments. Options left at None are left to
the trainer's defaults (which are chosen per task and per GPU).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.finetuning.personal import personal_argv, personal_model_name

# The wizard's tasks: (trainer task, title, what it needs, what it makes)
TASKS = {
    "score": ("Score model", "photos with ratings (CSV, AVA, XMP stars…)",
              "a score model for the histogram and folder scoring"),
    "personal": ("Personal taste", "your own star ratings or picks (XMP) in a folder "
                 "(at least 20), and optionally a trained score model to start from",
                 "a score model that predicts how you rate"),
    "critic": ("Critic", "critiques of photos (PCCD, Impressions, ArtEmis, CSV/JSONL)",
               "a LoRA adapter that writes critiques in that style"),
    "ssl": ("Self-supervised on my library", "a folder of photos, no ratings",
            "a backbone that later score training starts from"),
}


@dataclass
class FineTuningPlan:
    task: str
    data: Path | None = None
    data_format: str | None = None
    base: str | None = None  # score/ssl: backbone; personal: score model; critic: the VLM
    init: Path | None = None  # score: a score model or ssl backbone folder to start from
    profile: str = "auto"
    precision: str = "auto"
    epochs: int = 10
    batch_size: int | None = None
    accumulate: int = 1
    lr: float | None = None
    val_fraction: float = 0.1
    freeze: str | None = None
    gradient_checkpointing: bool | None = None
    seed: int = 0
    name: str | None = None
    persona: str | None = None  # critic
    input_size: int | None = None  # score, ssl
    extra: list[str] = field(default_factory=list)  # advanced: passed through as typed

    @property
    def learns_my_taste(self) -> bool:
        """Personal taste without a starting model: the photo page's "Learn my taste" run
        (:func:`~critique_app.core.finetuning.personal.personal_argv`), the same command."""
        return self.task == "personal" and not self.base and self.init is None

    def argv(self, out: Path) -> list[str]:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}")
        if self.learns_my_taste:
            if self.data is None:
                raise ValueError("'personal' needs the folder of rated photos")
            return personal_argv(self.data, out, personal_model_name(self.data))
        args = [self.task, "--out", str(out), "--progress", "json",
                "--profile", self.profile, "--precision", self.precision,
                "--epochs", str(self.epochs), "--accumulate", str(self.accumulate),
                "--val-fraction", str(self.val_fraction), "--seed", str(self.seed)]
        if self.data is not None:
            args += ["--data", str(self.data)]
        if self.data_format and self.task != "ssl":
            args += ["--format", self.data_format]
        if self.base:
            args += [{"personal": "--base", "critic": "--model"}.get(self.task, "--backbone"),
                     str(self.base)]
        optional = {"--init": self.init, "--batch-size": self.batch_size, "--lr": self.lr,
                    "--freeze": self.freeze, "--name": self.name, "--persona": self.persona,
                    "--input-size": self.input_size}
        for flag, value in optional.items():
            if value is not None and value != "":
                args += [flag, str(value)]
        if self.gradient_checkpointing is not None:
            args.append("--gradient-checkpointing" if self.gradient_checkpointing
                        else "--no-gradient-checkpointing")
        return args + list(self.extra)


def train_command(argv: list[str]) -> list[str]:
    """The full command: this Python, ``-m train``, the arguments."""
    return [sys.executable, "-m", "train", *argv]


def resume_argv(task: str, out: Path) -> list[str]:
    return [task, "--out", str(out), "--resume", "--progress", "json"]
