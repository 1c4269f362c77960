"""From parsed command-line arguments to a finished run, for every training task."""

from __future__ import annotations

import argparse
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from train.loop import LoopSettings

# (CPU, GPU) micro-batch defaults; a GPU run may lower them to fit (see train/memory/).
DEFAULT_BATCH = {"score": (16, 32), "modality": (16, 32), "personal": (16, 32),
                 "ssl": (8, 24), "critic": (2, 4)}
DEFAULT_LR = {"score": 3e-4, "modality": 3e-4, "personal": 1e-3, "ssl": 1e-4, "critic": 2e-4}


def run_task(args: argparse.Namespace, progress) -> dict:
    from train.hardware import apply_memory_cap, resolve_hardware
    from train.seed import seed_everything

    seed_everything(args.seed)  # before any model is built: fresh heads start the same way
    hardware = resolve_hardware(args.profile, args.precision, args.gradient_checkpointing)
    apply_memory_cap(hardware)
    progress.log(f"hardware: {hardware.describe()}")
    if args.command == "critic":
        from train.tasks.critic_cli import run_critic

        result = run_critic(args, hardware, progress)
    elif args.command == "ssl":
        from train.tasks.ssl import run_ssl

        result = run_ssl(args, hardware, progress)
    else:
        result = _run_score_like(args, hardware, progress)
    progress.done(result)
    return result


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


def load_validated(args: argparse.Namespace, progress, kind: str):
    """The dataset, with its validation report sent as one progress event; bad rows
    are reported and left out, a dataset without a usable row stops the run."""
    from train.data.formats import load_dataset

    dataset = load_dataset(require_data(args), args.format, images=args.images, kind=kind)
    progress.emit("validation", **dataset.to_dict(preview=3))
    for error in dataset.errors[:50]:
        progress.log(f"{dataset.source.name} {error}", level="warning")
    if len(dataset.errors) > 50:
        progress.log(f"… and {len(dataset.errors) - 50} more bad rows", level="warning")
    if not dataset.rows:
        raise CritiqueError(f"{dataset.source}: no usable rows ({len(dataset.errors)} bad); "
                            "check it with 'python -m train validate'")
    return dataset


def _run_score_like(args: argparse.Namespace, hardware, progress) -> dict:
    from train.run_score import ScoreRun, run_score
    from train.tasks.score import ScoreOptions
    from train.tasks.score_model import build_score_net

    command = args.command
    dataset = load_validated(args, progress, "score")
    if command == "personal":
        base = _personal_base(args.base)
        if args.rater:
            dataset.rows = [row for row in dataset.rows if row.rater == args.rater]
            if not dataset.rows:
                raise CritiqueError(f"no ratings by '{args.rater}' in {dataset.source}")
        built = build_score_net(init=base)
        options = ScoreOptions(freeze=args.freeze, flip=True)
        summary = (f"A personal score model: {built.started_from}, adapted to "
                   f"{args.rater or 'one person'}'s ratings.")
    else:
        if command == "modality" and not args.modality:
            raise CritiqueError("'modality' needs --modality saliency, depth or blur")
        built = build_score_net(args.backbone, init=args.init, input_size=args.input_size)
        options = ScoreOptions(modality=getattr(args, "modality", None) or "photo",
                               freeze=args.freeze, mean_weight=args.mean_weight,
                               std_weight=args.std_weight, flip=not args.no_flip,
                               depth_model=getattr(args, "depth_model", None))
        summary = ""
    name = args.name or f"{command}-{Path(args.out).resolve().name}"
    run = ScoreRun(name=name, dataset_name=f"{dataset.source.name} ({dataset.format})",
                   val_fraction=args.val_fraction, cache=not args.no_cache, summary=summary)
    outcome = run_score(run, dataset, built, options, loop_settings(args, hardware), hardware,
                        args.out, progress, resume=args.resume,
                        baseline=command == "personal" or args.init is not None)
    return {"task": command, "model_dir": None if outcome.fit.stopped_early
            else str(outcome.model_dir),
            "stopped_early": outcome.fit.stopped_early, "steps": outcome.fit.steps,
            "metrics": outcome.metrics, "baseline_metrics": outcome.baseline_metrics,
            "skipped": len(outcome.skipped),
            "peak_gpu_memory_bytes": outcome.fit.peak_gpu_memory_bytes}


def _personal_base(base: str | None) -> Path:
    """The score model a personal model starts from: a folder or an installed name."""
    from critique_app.core.store.store import ModelStore

    if not base:
        raise CritiqueError("'personal' needs --base: the trained score model to start from")
    if Path(base).is_dir():
        return Path(base)
    folder = ModelStore().path(base)
    if folder is None:
        raise CritiqueError(f"no score model '{base}' is installed (see 'critique models list')")
    return folder
