"""The commands that are not fine-tuning runs: validate, eval, export, estimate, hardware."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import CritiqueError
from train.common import model_folder


def run_validate(args: argparse.Namespace) -> int:
    """Counts, a preview and every bad row with its line; exit 1 when rows are bad."""
    from train.data.formats import describe_validation, load_dataset

    dataset = load_dataset(args.data, args.format, images=args.images)
    if args.json:
        print(json.dumps(dataset.to_dict(preview=5), indent=2))
    else:
        print(describe_validation(dataset))
    return 1 if dataset.errors else 0


def run_compare_personas(args: argparse.Namespace) -> int:
    """Both adapters critique the same photos; the tests say whether they differ."""
    from train.data.formats import load_dataset
    from train.tasks.persona_compare import compare_personas

    dataset = load_dataset(args.data, args.format, images=args.images, kind="critique")
    result = compare_personas(args.adapter_a, args.adapter_b, dataset.rows,
                              max_new_tokens=args.max_new_tokens, limit=args.limit,
                              seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"{result['persona_a']} vs {result['persona_b']} on {len(result['images'])} "
              f"photos ({', '.join(result['sections'])}):")
        for test in result["tests"]:
            print(f"  {test['summary']}")
    return 0


def run_hardware(args: argparse.Namespace) -> int:
    from train.hardware import resolve_hardware

    hardware = resolve_hardware("auto")
    if args.json:
        print(json.dumps({"describe": hardware.describe(), **hardware.to_dict()}, default=str))
    else:
        print(hardware.describe())
    return 0


def run_estimate(args: argparse.Namespace) -> int:
    """Peak GPU memory: the critic's default settings for each known VLM (or one
    model), or a score model's for a backbone, input size and batch size."""
    limit = int(args.limit_gb * 1024**3)
    if args.task == "score":
        table = [_score_estimate(args, limit)]
    else:
        from train.memory import critic_memory_table

        batches = (args.batch_size,) if args.batch_size else (1, 2, 4)
        models = [args.model] if args.model else None
        table = critic_memory_table(limit, batch_sizes=batches, models=models)
    if args.json:
        print(json.dumps(table, indent=2, default=str))
        return 0
    for row in table:
        print("  ".join(f"{k}={v}" for k, v in row.items() if not isinstance(v, dict)))
    return 0


def _score_estimate(args: argparse.Namespace, limit: int) -> dict:
    from critique_app.core.scoring.backbone import LITE0, create_backbone
    from critique_app.core.scoring.model import ScoreNet
    from train.tasks.score_model import score_memory_by_batch

    name = LITE0 if args.backbone == "lite0" else args.backbone
    batch = args.batch_size or 32
    net = ScoreNet(create_backbone(name))  # shapes only: random weights are fine here
    estimate = score_memory_by_batch(net, args.input_size, amp=True,
                                     gradient_checkpointing=False)(batch)
    return {"model": name, "batch_size": batch, "input_size": args.input_size,
            "total": estimate.total, "total_gib": round(estimate.total / 1024**3, 2),
            "fits": estimate.fits(limit), "limit_gib": round(limit / 1024**3, 2),
            "breakdown": estimate.to_dict()}


def run_eval(args: argparse.Namespace) -> int:
    """Held-out metrics of a trained score model (the split training used, by seed)."""
    folder = model_folder(args.model)
    metadata = json.loads((folder / LOCAL_METADATA).read_text(encoding="utf-8"))
    _default_split(args, folder)
    if metadata.get("task") == "critic-adapter":
        from train.tasks.critic_adapter import evaluate_adapter

        metrics = evaluate_adapter(folder, args)
    elif metadata.get("task") == "score":
        metrics = _evaluate_score_model(folder, args)
    else:
        raise CritiqueError(f"{folder}: 'eval' works on score models and critic adapters, "
                            f"not '{metadata.get('task')}' models")
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
    else:
        print(f"{metadata.get('name', folder.name)} on {args.data} ({args.split}):")
        for key, value in metrics.items():
            print(f"  {key:>12}  {value:.4f}" if isinstance(value, float)
                  else f"  {key:>12}  {value}")
    return 0


def _default_split(args: argparse.Namespace, folder: Path) -> None:
    """Evaluate on the split the model was trained with, unless told otherwise."""
    try:
        split = json.loads((folder / "metrics.json").read_text(encoding="utf-8")).get("split", {})
    except (OSError, ValueError):
        split = {}
    if args.val_fraction is None:
        args.val_fraction = split.get("val_fraction", 0.1)
    if args.seed is None:
        args.seed = split.get("seed", 0)


def _evaluate_score_model(folder: Path, args: argparse.Namespace) -> dict:
    from critique_app.core.scoring.package import load_score_model
    from train.data.formats import load_dataset
    from train.data.split import split_rows
    from train.metrics.scores import score_metrics
    from train.tasks.images import InputCache
    from train.tasks.score import ScoreSamples, predict
    from train.tasks.score_model import BuiltNet

    net, info = load_score_model(folder)
    dataset = load_dataset(args.data, args.format, images=args.images, kind="score")
    rows = dataset.rows if args.split == "all" else split_rows(dataset.rows, args.val_fraction,
                                                               args.seed)[1]
    if not rows:
        raise CritiqueError(f"{args.data}: no usable rows to evaluate on")
    built = BuiltNet(net, info.backbone, info.input, info.backbone_kwargs, info.name)
    samples = ScoreSamples(rows, info.modality, built, InputCache(None), flip=False, seed=0)
    predicted, target = predict(net, samples, "cpu")
    if info.output == "mean":  # a mean-only model (e.g. `personal` without --base)
        import numpy as np

        from train.tasks.heads import mean_metrics, means_of

        metrics = mean_metrics(np.asarray(predicted).reshape(-1), means_of(target))
    else:
        metrics = score_metrics(predicted, target)
    metrics["unreadable"] = len(rows) - len(predicted)
    return metrics


def run_export(args: argparse.Namespace) -> int:
    """Copy a finished run's model folder (adding ONNX for score models), or write one
    from the last checkpoint of a stopped score run."""
    run = Path(args.run)
    target = Path(args.to) if args.to else run / "model"
    finished = run / "model"
    if (finished / LOCAL_METADATA).is_file():
        if target.resolve() != finished.resolve():
            shutil.copytree(finished, target, dirs_exist_ok=True)
    else:
        _export_from_checkpoint(run, target)
    metadata = json.loads((target / LOCAL_METADATA).read_text(encoding="utf-8"))
    wants_onnx = metadata.get("task") == "score" and not args.no_onnx
    if wants_onnx and not (target / "model.onnx").is_file():
        from critique_app.core.scoring.onnx_runtime import export_onnx
        from critique_app.core.scoring.package import load_score_model

        net, info = load_score_model(target)
        export_onnx(net, target / "model.onnx", info.input.size, output=info.output)
    print(f"model written to {target}; install it with: critique models import {target}")
    return 0


def _export_from_checkpoint(run: Path, target: Path) -> None:
    import torch

    from train.checkpoint import checkpoint_path
    from train.export import ModelCard, export_score_model
    from train.parser import RUN_FILE, build_parser
    from train.tasks.score_model import build_score_net

    stored = run / RUN_FILE
    if not stored.is_file() or not checkpoint_path(run).is_file():
        raise CritiqueError(f"{run} is not a training run folder (no {RUN_FILE} or checkpoint)")
    saved = json.loads(stored.read_text(encoding="utf-8"))
    if saved["command"] not in ("score", "modality"):
        raise CritiqueError(f"a stopped '{saved['command']}' run cannot be exported; resume it "
                            "with --resume until it finishes")
    args = build_parser().parse_args(saved["argv"])
    state = torch.load(checkpoint_path(run), map_location="cpu", weights_only=False)
    built = build_score_net(args.backbone, init=args.init, input_size=args.input_size)
    built.net.load_state_dict({k.removeprefix("net."): v for k, v in state["model"].items()})
    history = state["history"]
    metrics = history[-1]["metrics"] if history else {}
    step = state["position"]["step"]
    card = ModelCard(
        name=args.name or f"{saved['command']}-{run.resolve().name}", task="score",
        summary=f"Exported from the checkpoint at step {step}: the run did not finish.",
        dataset=str(args.data), samples=step * args.batch_size if args.batch_size else step,
        licence="the training data's terms", data_licence="as stated by the dataset's owners",
        started_from=built.started_from, hyper_parameters=vars(args) | {"argv": None},
        hardware={}, metrics=metrics,
        notes=["metrics are from the last evaluation before the checkpoint" if metrics
               else "no evaluation had run yet"])
    export_score_model(built.net, target, card=card, backbone=built.backbone,
                       modality=getattr(args, "modality", None) or "photo",
                       input_spec=built.input_spec, backbone_kwargs=built.backbone_kwargs,
                       epochs=state["position"]["epoch"], onnx=False)
