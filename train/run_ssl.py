"""``python -m train ssl``: self-supervised pre-training on an unrated folder, start to finish.

The entry point of the ssl task, shaped like every task's (``train/run_<task>.py``):
:func:`run` takes the parsed command line, the hardware and the progress reporter, and
returns the result the ``done`` event carries. What is learnt, and how it is measured,
is in :mod:`train.tasks.ssl`; the result is a backbone folder ``score --init`` starts from.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from train.common import loop_settings, require_data
from train.distributed import is_main_process
from train.loop import fit
from train.tasks.images import InputCache
from train.tasks.score_model import build_score_net
from train.tasks.ssl import SslTask, export_backbone, split_photos


def run(args: argparse.Namespace, hardware, progress) -> dict:
    """Learn to rank the folder's photos above degraded copies; export the backbone."""
    train_paths, val_paths = split_photos(require_data(args), recursive=args.recursive,
                                          val_fraction=args.val_fraction, seed=args.seed)
    built = build_score_net(args.backbone, input_size=args.input_size)
    cache = InputCache(Path(args.out) / "cache")
    task = SslTask(built, train_paths, val_paths, cache, freeze=args.freeze, margin=args.margin,
                   copies=args.degradations, seed=args.seed)
    progress.log(f"{len(train_paths)} photos to learn from, {len(val_paths)} held out")
    settings = loop_settings(args, hardware)
    result = fit(task, settings, hardware, Path(args.out), progress, resume=args.resume)
    model_dir = None
    if not result.stopped_early and is_main_process():
        name = args.name or f"ssl-{Path(args.out).resolve().name}"
        model_dir = export_backbone(task, Path(args.out) / "model", name=name,
                                    metrics=result.metrics, hardware=hardware.to_dict(),
                                    settings={**asdict(settings), "margin": args.margin,
                                              "freeze": args.freeze},
                                    photos=len(train_paths))
    return {"task": "ssl", "model_dir": str(model_dir) if model_dir else None,
            "stopped_early": result.stopped_early, "steps": result.steps,
            "metrics": result.metrics}
