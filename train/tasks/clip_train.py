"""``score|personal --backbone clip-vit-l14``: a head on cached, frozen CLIP embeddings.

1. split the rated photos (train / held out, by image, fixed by the seed);
2. embed every photo once (:mod:`train.tasks.embeddings`; cached across runs);
3. train the head (:mod:`train.tasks.heads`): a 10-bin distribution for ``score``; for
   ``personal`` LAION's head fine-tuned on the photographer's ratings when LAION aesthetic
   v2 is installed, else a ridge regression;
4. measure it on the held-out photos (SRCC with a bootstrap interval, and the number of
   ratings used) and export a score model folder that names the backbone's store model
   instead of copying it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from critique_app.core.scoring.pretrained import clip_head
from train.data.records import DataError, ScoreRow
from train.data.split import split_rows
from train.distributed import is_main_process
from train.export import ModelCard, export_clip_head
from train.loop import LoopSettings, fit
from train.metrics import describe_metrics
from train.metrics.scores import score_metrics
from train.tasks.embeddings import (
    ClipEmbedder,
    EmbeddingCache,
    FeatureBackbone,
    embed_photos,
)
from train.tasks.heads import (
    HeadData,
    HeadTask,
    fit_ridge,
    mean_metrics,
    means_of,
    predict_head,
    srcc_interval,
)
from train.tasks.score import ScoreOptions, data_fingerprint

MIN_TRAIN, MIN_VAL = 4, 2
STOP_FRACTION = 0.15  # of the training photos, held apart to choose the epoch kept
DEFAULT_LR = {"distribution": 1e-3, "laion": 3e-4}
L2SP = 1e-3  # pull of a fine-tuned LAION head towards where it started


@dataclass
class ClipHeadRun:
    command: str  # "score" | "personal"
    name: str
    dataset_name: str
    head: str  # "distribution" | "laion" | "linear"
    val_fraction: float = 0.1
    batch_size: int | None = None  # None: chosen from the number of photos
    lr: float | None = None
    embed_batch_size: int | None = None
    workers: int = 2
    options: ScoreOptions | None = None
    laion_folder: Path | None = None  # the installed LAION model (its head starts "laion")
    summary: str = ""
    licence: str = "the training data's terms"
    data_licence: str = "as stated by the dataset's owners"


@dataclass
class Split:
    train: list[ScoreRow]
    stop: list[ScoreRow]
    val: list[ScoreRow]


def _data(rows: list[ScoreRow], vectors: dict, output: str) -> HeadData:
    dimension = len(next(iter(vectors.values()))) if vectors else clip_head.EMBEDDING
    x = (np.stack([vectors[row.image] for row in rows]) if rows
         else np.zeros((0, dimension), np.float32))
    targets = np.asarray([row.distribution for row in rows], np.float32).reshape(-1, 10)
    y = targets if output == "distribution" else means_of(targets).astype(np.float32)
    return HeadData(x.astype(np.float32), y)


def train_clip_head(plan: ClipHeadRun, rows: list[ScoreRow], backbone: FeatureBackbone,
                    cache: EmbeddingCache, settings: LoopSettings, hardware, run_dir: Path,
                    progress, *, resume: bool = False) -> dict:
    run_dir = Path(run_dir)
    train_rows, val_rows = split_rows(rows, plan.val_fraction, settings.seed)
    embed_batch = plan.embed_batch_size or (64 if hardware.device == "cuda" else 8)
    embedded = embed_photos([row.image for row in rows], backbone, cache, progress,
                            make_embedder=lambda: ClipEmbedder(backbone, hardware),
                            batch_size=embed_batch, workers=plan.workers)
    bad = {path for path, _ in embedded.failures}
    for _, message in embedded.failures[:20]:
        progress.log(f"skipped {message}", level="warning")
    train_rows = [row for row in train_rows if row.image not in bad]
    val_rows = [row for row in val_rows if row.image not in bad]
    if len(train_rows) < MIN_TRAIN or len(val_rows) < MIN_VAL:
        raise DataError(f"too few usable photos: {len(train_rows)} to train on and "
                        f"{len(val_rows)} held out (need {MIN_TRAIN} and {MIN_VAL}); add "
                        "photos or lower --val-fraction")
    if plan.head == "linear":  # cross-validation chooses the ridge strength: no stop split
        split = Split(train_rows, [], val_rows)
    else:
        fit_rows, stop_rows = split_rows(train_rows, STOP_FRACTION, settings.seed + 1)
        split = Split(fit_rows, stop_rows, val_rows)
    output = clip_head.OUTPUTS[plan.head]
    data = {part: _data(getattr(split, part), embedded.vectors, output)
            for part in ("train", "stop", "val")}
    progress.log(f"{len(split.train)} ratings to train on, {len(split.stop)} to choose the "
                 f"epoch, {len(split.val)} held out; head: {plan.head}")
    if plan.head == "linear":
        head, result, baseline, started = _ridge(plan, data, progress, hardware)
    else:
        head, result, baseline, started = _fit_head(plan, data, split, settings, hardware,
                                                    run_dir, progress, resume=resume)
    if result.get("stopped_early"):
        return result
    predicted = predict_head(head, data["val"].x)
    metrics = _metrics(output, predicted, data["val"].y, settings.seed)
    metrics["ratings_used"] = len(split.train) + len(split.stop)
    progress.log(f"held-out ({len(split.val)} photos, {metrics['ratings_used']} ratings "
                 f"learned from): {describe_metrics(metrics)}")
    model_dir = run_dir / "model"
    if is_main_process():
        hyper = {"head": plan.head, "head_kwargs": _head_kwargs(plan.head),
                 "backbone": backbone.name, "backbone_version": backbone.version,
                 "val_fraction": plan.val_fraction, "early_stopping_fraction":
                     0.0 if plan.head == "linear" else STOP_FRACTION,
                 **result.get("hyper", {})}
        card = ModelCard(
            name=plan.name, task="score", dataset=plan.dataset_name,
            summary=plan.summary, samples=metrics["ratings_used"], licence=plan.licence,
            data_licence=plan.data_licence, started_from=started,
            hyper_parameters=hyper, hardware=hardware.to_dict(), metrics=metrics,
            baseline_metrics=baseline,
            notes=[f"skipped unreadable: {m}" for _, m in embedded.failures[:20]]
                  + [f"the CLIP ViT-L/14 backbone is not in this folder: it is "
                     f"{backbone.model}'s (critique models pull {backbone.model})"])
        extra = {"split": {"val_fraction": plan.val_fraction, "seed": settings.seed},
                 "embeddings": {"cached": embedded.cached, "computed": embedded.computed,
                                "seconds": round(embedded.seconds, 1)},
                 "history": result.get("history", []),
                 "peak_gpu_memory_bytes": result.get("peak_gpu_memory_bytes")}
        export_clip_head(head, model_dir, card=card, kind=plan.head,
                         head_kwargs=_head_kwargs(plan.head), epochs=result.get("epochs", 0),
                         backbone_digest=backbone.digest,
                         scale="1-10" if plan.command == "score" else
                         "1-10 (your stars: 1★ = 1 … 5★ = 10)", extra_metrics=extra)
        _write_examples(model_dir, split.val, predicted, data["val"].y, output)
    return {"task": plan.command, "model_dir": str(model_dir), "stopped_early": False,
            "steps": result.get("steps", 0), "metrics": metrics, "baseline_metrics": baseline,
            "skipped": len(embedded.failures), "ratings_used": metrics["ratings_used"],
            "head": plan.head, "embeddings_cached": embedded.cached,
            "embeddings_computed": embedded.computed,
            "peak_gpu_memory_bytes": result.get("peak_gpu_memory_bytes")}


def _head_kwargs(kind: str) -> dict:
    return {}


def _metrics(output: str, predicted: np.ndarray, target: np.ndarray, seed: int) -> dict:
    if output == "distribution":
        metrics = score_metrics(predicted, target)
        low, high = srcc_interval(means_of(predicted), means_of(target), seed=seed)
    else:
        metrics = mean_metrics(predicted, target)
        low, high = srcc_interval(predicted, target, seed=seed)
    return {**metrics, "srcc_low": low, "srcc_high": high}


def _fit_head(plan: ClipHeadRun, data: dict, split: Split, settings: LoopSettings, hardware,
              run_dir: Path, progress, *, resume: bool):
    output = clip_head.OUTPUTS[plan.head]
    baseline: dict = {}
    if plan.head == "laion":
        from critique_app.core.scoring.pretrained.laion import HEAD_FILE, load_head

        head = load_head(plan.laion_folder / HEAD_FILE)
        head.requires_grad_(True)
        baseline = mean_metrics(predict_head(head, data["val"].x), data["val"].y)
        progress.log("LAION aesthetic v2 as installed, on the held-out photos: "
                     + describe_metrics(baseline))
        started = f"LAION aesthetic v2's head ({clip_head.BACKBONE_MODEL}), fine-tuned"
        anchor = L2SP
    else:
        head = clip_head.build_head(plan.head)
        started = "a fresh distribution head on CLIP ViT-L/14 embeddings"
        anchor = 0.0
    batch = plan.batch_size or int(min(256, max(16, len(split.train) // 8)))
    settings = replace(settings, batch_size=batch,
                       lr=plan.lr or DEFAULT_LR[plan.head])
    rows = split.train + split.stop + split.val
    task = HeadTask(name=plan.command, model=head, output=output, train=data["train"],
                    stop=data["stop"], val=data["val"], options=plan.options or ScoreOptions(),
                    anchor=anchor, data_fingerprint=data_fingerprint(rows))
    result = fit(task, settings, hardware, run_dir, progress, resume=resume)
    if result.stopped_early:
        return head, {"stopped_early": True, "task": plan.command, "model_dir": None,
                      "steps": result.steps, "metrics": result.metrics}, baseline, started
    epoch = task.keep_best()
    if epoch:
        progress.log(f"kept the weights of epoch {epoch} of {result.epochs_done:g} (lowest "
                     f"error on the early-stopping photos: {task.best_loss:.4f})")
    head = head.cpu().eval()
    hyper = {**asdict(settings), "l2sp": anchor, "kept_epoch": epoch,
             **asdict(plan.options or ScoreOptions())}
    return head, {"steps": result.steps, "epochs": result.epochs_done, "history": result.history,
                  "peak_gpu_memory_bytes": result.peak_gpu_memory_bytes,
                  "hyper": hyper}, baseline, started


def _ridge(plan: ClipHeadRun, data: dict, progress, hardware):
    progress.start(f"{plan.command} (ridge)", 1, 1, {"head": "linear"}, hardware.to_dict())
    fitted = fit_ridge(data["train"].x, data["train"].y)
    head = clip_head.build_head("linear")
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(fitted.weights.astype(np.float32))[None])
        head.linear.bias.fill_(fitted.bias)
    progress.step(1, 1.0, fitted.cv_rmse[fitted.alpha] ** 2, None)
    metrics = mean_metrics(predict_head(head, data["val"].x), data["val"].y)
    progress.evaluate(1, 1, metrics)
    progress.log(f"ridge strength {fitted.alpha:g} (cross-validated RMSE "
                 f"{fitted.cv_rmse[fitted.alpha]:.3f})")
    hyper = {"ridge_alpha": fitted.alpha, "cv_folds": 5,
             "cv_rmse": {f"{a:g}": round(v, 4) for a, v in fitted.cv_rmse.items()
                         if math.isfinite(v)}}
    return head.eval(), {"steps": 1, "epochs": 1, "hyper": hyper}, {}, \
        "a ridge regression on CLIP ViT-L/14 embeddings (no pretrained head installed)"


def _write_examples(model_dir: Path, rows: list[ScoreRow], predicted: np.ndarray,
                    target: np.ndarray, output: str, count: int = 8) -> None:
    """A few held-out photos with rated and predicted means (examples.json)."""
    from critique_app.core.util.files import write_text_atomically

    if output == "distribution":
        predicted, target = means_of(predicted), means_of(target)
    examples = [{"image": str(row.image), "rated": round(float(t), 2),
                 "predicted": round(float(p), 2)}
                for row, p, t in zip(rows[:count], predicted[:count], target[:count],
                                     strict=True)]
    write_text_atomically(Path(model_dir) / "examples.json", json.dumps(examples, indent=2))
