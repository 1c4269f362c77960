"""What every task's entry point (``train/run_<task>.py``) takes from its parsed command
line: the loop settings, with each task's default micro-batch and learning rate; the
``--data`` it needs; its dataset, validated, with the report sent as progress; and the
model a ``--model``/``--base`` names (a folder or an installed model)."""

from __future__ import annotations

import argparse
from pathlib import Path

from critique_app.core.util.errors import CritiqueError, ModelError
from train.loop import LoopSettings

# (CPU, GPU) micro-batch defaults; a GPU run may lower them to fit (see train/memory/).
DEFAULT_BATCH = {"score": (16, 32), "modality": (16, 32), "personal": (16, 32),
                 "ssl": (8, 24), "critic": (2, 4)}
DEFAULT_LR = {"score": 3e-4, "modality": 3e-4, "personal": 1e-3, "ssl": 1e-4, "critic": 2e-4}


def loop_settings(args: argparse.Namespace, hardware) -> LoopSettings:
    cpu_batch, gpu_batch = DEFAULT_BATCH[args.command]
    batch = args.batch_size or (gpu_batch if hardware.device == "cuda" else cpu_batch)
    if batch < 1 or args.accumulate < 1 or args.epochs < 1:
        raise CritiqueError("--batch-size, --accumulate and --epochs must be at least 1")
    return LoopSettings(epochs=args.epochs, batch_size=batch, accumulate=args.accumulate,
                        lr=args.lr or DEFAULT_LR[args.command], weight_decay=args.weight_decay,
                        seed=args.seed, checkpoint_every=args.checkpoint_every,
                        max_steps=args.max_steps, workers=args.workers)


def require_data(args: argparse.Namespace) -> Path:
    if args.data is None:
        raise CritiqueError(f"'{args.command}' needs --data (a dataset file or folder)")
    return args.data


def load_validated(args: argparse.Namespace, progress, kind: str, *, allow_empty: bool = False):
    """The dataset, with its validation report sent as one progress event; bad rows
    are reported and left out, a dataset without a usable row stops the run (unless
    ``allow_empty``: the caller says how many more it needs)."""
    from train.data.formats import load_dataset

    dataset = load_dataset(require_data(args), args.format, images=args.images, kind=kind)
    progress.emit("validation", **dataset.to_dict(preview=3))
    for error in dataset.errors[:50]:
        progress.log(f"{dataset.source.name} {error}", level="warning")
    if len(dataset.errors) > 50:
        progress.log(f"… and {len(dataset.errors) - 50} more bad rows", level="warning")
    if not dataset.rows and not allow_empty:
        raise CritiqueError(f"{dataset.source}: no usable rows ({len(dataset.errors)} bad); "
                            "check it with 'python -m train validate'")
    return dataset


def model_folder(model: str) -> Path:
    """A model folder, or the folder of an installed model of that name."""
    from critique_app.core.store.store import ModelStore

    if Path(model).is_dir():
        return Path(model)
    folder = ModelStore().path(model)
    if folder is None:
        raise ModelError(f"'{model}' is neither a model folder nor an installed model "
                         "(see 'critique models list')")
    return folder
