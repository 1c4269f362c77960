"""Checkpoints: everything a killed run needs to continue as if never stopped.

One file, ``<run>/checkpoint.pt``, replaced atomically after an optimizer step
(never mid-accumulation): model and optimizer state, scheduler, gradient
scaler, every random generator, and where in which epoch the run was. The
settings that shape the run (seed, batch size, data...) are stored with it, so
resuming with different ones is refused instead of silently diverging.
"""

from __future__ import annotations

from pathlib import Path

import torch

from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import atomic_path

CHECKPOINT = "checkpoint.pt"


class ResumeError(CritiqueError):
    """The run cannot be resumed (no checkpoint, or other settings)."""


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT


def save_checkpoint(run_dir: Path, state: dict) -> Path:
    path = checkpoint_path(run_dir)
    with atomic_path(path) as temporary:
        torch.save(state, temporary)
    return path


def load_checkpoint(run_dir: Path, fingerprint: dict) -> dict:
    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise ResumeError(f"{run_dir} has no checkpoint to resume from (start without --resume)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ResumeError(f"{path} could not be read ({type(error).__name__}); "
                          "start again without --resume") from None
    differences = [f"{key} {state['fingerprint'].get(key)!r} → {value!r}"
                   for key, value in fingerprint.items()
                   if state["fingerprint"].get(key) != value]
    if differences:
        raise ResumeError("the checkpoint was made with other settings (" +
                          "; ".join(differences) + "): resume with the same ones")
    return state
