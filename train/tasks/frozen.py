"""A head on frozen EfficientNet-Lite0 features: ``personal`` without ``--base`` and the
small-data recipe of ``score`` (``--recipe frozen``).

1. split the rated photos (train / held out, by image, fixed by the seed);
2. compute every photo's Lite0 features once (the ImageNet EfficientNet-Lite0 of the model
   store: the mean and standard deviation over the image of each block's output, then the
   pooled output; 2848 numbers, see :mod:`critique_app.core.scoring.mean_net`), cached
   across runs by photo content and backbone version (:mod:`train.tasks.embeddings`). Each
   photo is decoded as `critique score` decodes it (JPEG draft decoding to a long side of
   720) and squashed by the same ``to_network_input``, so the head learns from what the
   exported model sees; on the CPU the features come from the feature graph run by ONNX
   Runtime (exported once, kept beside the embedding cache, checked against torch);
3. fit a ridge regression of the rated mean score on the standardised features, its
   strength chosen by 5-fold cross-validation on the training photos (closed form: well
   under a second for hundreds of photos);
4. measure it on the held-out photos (SRCC with a bootstrap interval, and the number of
   ratings it learned from);
5. export a normal score model: the Lite0 backbone plus one ``Linear(2848, 1)`` holding the
   ridge weights (the standardisation folded in), ``"output": "mean"``, and ``model.onnx``
   (one graph, photo in, mean out) checked against torch on held-out photos.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from critique_app.core.folder_scoring.runner import CULLING_MAX_SIDE
from critique_app.core.scoring.backbone import (
    LITE0,
    LITE0_INPUT,
    LITE0_STORE_NAME,
    InputSpec,
)
from critique_app.core.scoring.preprocess import PREPROCESS_VERSION
from critique_app.core.util.errors import CritiqueError, ModelError
from train.data.records import DataError, ScoreRow
from train.data.split import split_rows
from train.distributed import is_main_process
from train.metrics import describe_metrics
from train.tasks.embeddings import EmbeddingCache, FeatureBackbone, embed_photos
from train.tasks.heads import fit_ridge, mean_metrics, means_of, srcc_interval

LITE0_FEATURES = "lite0"  # the FeatureBackbone name
FEATURE_KIND = "stages"  # what the head reads (mean_net.FEATURES); measured in
# benchmarks/bench_small_data.py against "pooled" (the pooled output alone)
# How a photo becomes features (part of every cache key): decoded as `critique score`
# decodes it (JPEG draft decoding to a long side of CULLING_MAX_SIDE), squashed as the score
# models see it. Version 1 decoded at the app's analysis size (1280): a photo larger than
# 720 px saw a different input in training than at scoring time.
DECODE_VERSION = f"culling-{CULLING_MAX_SIDE}"
FEATURE_VERSION = f"lite0-{FEATURE_KIND}-2|{DECODE_VERSION}+{PREPROCESS_VERSION}"
FEATURE_GRAPH_TOLERANCE = 1e-3  # the feature graph (ONNX) against torch, largest difference
FEATURES = 2848
MIN_RATINGS = 20  # personal: fewer usable ratings stop the run with how many more to rate
MIN_HELD_OUT = 5  # personal: photos held out at least (an SRCC needs a few)
MIN_TRAIN, MIN_VAL = 4, 2
PARITY_TOLERANCE = 0.01  # ONNX vs torch, on the 1-10 scale
PARITY_PHOTOS = 8
# `score --recipe auto`: below this many rated photos the frozen-feature head is used (see
# docs/training.md: measured at 400 photos, where it beat the 10-epoch fine-tune).
FROZEN_BELOW = 1000


def missing_lite0_message() -> str:
    return (f"the ImageNet EfficientNet-Lite0 backbone is not installed: run 'critique models "
            f"pull {LITE0_STORE_NAME}'")


def resolve_lite0_backbone(store=None, input_size: int = LITE0_INPUT.size) -> FeatureBackbone:
    """The installed Lite0 as a feature backbone; a one-line error with the pull command
    when it is missing."""
    from critique_app.core.scoring.pretrained.scorer import files_digest
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    folder = store.path(LITE0_STORE_NAME)
    if folder is None:
        raise ModelError(missing_lite0_message())
    digest = files_digest((store.record(LITE0_STORE_NAME) or {}).get("files", {}))
    return FeatureBackbone(LITE0_FEATURES, folder,
                           f"store:{digest}|{FEATURE_VERSION}|{input_size}",
                           LITE0_STORE_NAME, digest, FEATURES)


def lite0_spec(input_size: int = LITE0_INPUT.size) -> InputSpec:
    return InputSpec(input_size, LITE0_INPUT.mean, LITE0_INPUT.std)


def lite0_input(path: Path, spec: InputSpec) -> np.ndarray:
    """float32 (3, S, S): the photo as `critique score` decodes it (draft decoding to a long
    side of CULLING_MAX_SIDE) and squashes it for a score model."""
    from critique_app.core.photo import load_photo
    from critique_app.core.scoring.preprocess import to_network_input

    return to_network_input(load_photo(path, max_side=CULLING_MAX_SIDE).pixels, spec)


def feature_module(net):
    """``net`` (a MeanScoreNet) as a module whose output is its head's input features: what
    the feature graph is exported from."""
    import torch

    class FeatureGraph(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, images):
            return self.inner.embed(images)

    return FeatureGraph(net).eval()


class Lite0Embedder:
    """Lite0's features as the exported model computes them: (B, 3, S, S) normalised
    inputs -> (B, FEATURES). On a GPU in torch; on the CPU through ONNX Runtime (as
    `critique score` runs the exported model): the feature graph is exported once, kept
    beside the embedding cache (``graph_dir``) under the backbone's version, and checked
    against torch when it is made."""

    def __init__(self, backbone: FeatureBackbone, hardware, graph_dir: Path | None = None,
                 *, runtime: str = "auto") -> None:
        import torch

        from critique_app.core.scoring.backbone import lite0_from_folder
        from critique_app.core.scoring.mean_net import MeanScoreNet

        self.device = hardware.device
        self._torch = torch
        self.session = None
        self.graph_seconds = 0.0  # time spent exporting and checking the graph (0: reused)
        use_onnx = runtime == "onnx" or (runtime == "auto" and self.device == "cpu")
        self.net = None
        if use_onnx:
            path = self.graph_path(backbone, graph_dir)
            try:
                self.session = _feature_session(path) if path.is_file() else None
            except Exception:  # a damaged file: made again
                self.session = None
            if self.session is None:
                started = time.perf_counter()
                net = MeanScoreNet(lite0_from_folder(backbone.folder), FEATURE_KIND).eval()
                export_feature_graph(net, path, _input_size(backbone))
                self.session = _feature_session(path)
                self.graph_seconds = time.perf_counter() - started
            self.runtime = "onnx"
        else:
            self.net = MeanScoreNet(lite0_from_folder(backbone.folder), FEATURE_KIND)
            self.net = self.net.to(self.device).eval()
            self.runtime = "torch"

    @staticmethod
    def graph_path(backbone: FeatureBackbone, graph_dir: Path | None) -> Path:
        import hashlib
        import tempfile

        folder = Path(graph_dir) if graph_dir else Path(tempfile.gettempdir())
        tag = hashlib.sha256(backbone.version.encode()).hexdigest()[:16]
        return folder / f"lite0-features-{tag}.onnx"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.session is not None:
            (out,) = self.session.run(None, {"image": batch})
            return np.asarray(out, np.float32)
        torch = self._torch
        images = torch.from_numpy(batch).to(self.device)
        with torch.inference_mode():
            return self.net.embed(images).float().cpu().numpy()


def _input_size(backbone: FeatureBackbone) -> int:
    return int(backbone.version.rsplit("|", 1)[1])


def export_feature_graph(net, path: Path, input_size: int) -> dict:
    """Export ``net``'s feature graph to ``path`` (atomically) and check it against torch on
    a few inputs; a difference above FEATURE_GRAPH_TOLERANCE removes it and refuses."""
    import torch

    from critique_app.core.scoring.onnx_runtime import export_onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = feature_module(net)
    export_onnx(graph, path, input_size, output="features")
    rng = np.random.default_rng(0)
    inputs = rng.normal(0.0, 1.0, (2, 3, input_size, input_size)).astype(np.float32)
    with torch.inference_mode():
        expected = graph(torch.from_numpy(inputs)).numpy()
    (got,) = _feature_session(path).run(None, {"image": inputs})
    difference = float(np.abs(got - expected).max())
    if not math.isfinite(difference) or difference > FEATURE_GRAPH_TOLERANCE:
        path.unlink(missing_ok=True)
        raise ModelError(f"the Lite0 feature graph (ONNX) differs from torch by "
                         f"{difference:.3g} (more than {FEATURE_GRAPH_TOLERANCE})", path=path)
    return {"max_abs_difference": difference}


def _feature_session(path: Path):
    """An ONNX Runtime session set up as :class:`OnnxScorer`'s CPU session (no spinning
    threads: the photo decoders share the cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass
class FrozenRun:
    command: str  # "score" | "personal"
    name: str
    dataset_name: str
    val_fraction: float = 0.1
    input_size: int = LITE0_INPUT.size
    embed_batch_size: int | None = None
    workers: int = 2
    min_ratings: int = 0  # personal: MIN_RATINGS
    recipe_note: str = ""  # why this recipe (for the log, the card and the result)
    summary: str = ""
    licence: str = "the training data's terms"
    data_licence: str = "as stated by the dataset's owners"


@dataclass
class LinearFit:
    weights: np.ndarray  # (D,) on the raw features (standardisation folded in)
    bias: float
    alpha: float
    cv_rmse: float
    cv_srcc: float


def too_few_ratings(count: int, needed: int = MIN_RATINGS) -> CritiqueError:
    more = needed - count
    return DataError(f"{count} usable ratings; at least {needed} are needed: rate {more} more "
                     f"photo{'s' if more != 1 else ''}")


def fit_standardised_ridge(x: np.ndarray, y: np.ndarray, seed: int = 0) -> LinearFit:
    """Ridge on features scaled to unit variance (each of Lite0's 1280 channels has its own
    scale), the strength by 5-fold cross-validation; the scaling is folded back into the
    weights so the head reads raw features."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    z = (x - mean) / std
    fitted = fit_ridge(z, y, seed=seed)
    weights = fitted.weights / std
    bias = fitted.bias - float(mean @ weights)
    return LinearFit(weights, bias, fitted.alpha, fitted.cv_rmse[fitted.alpha],
                     _cv_srcc(z, y, fitted.alpha, seed))


def _cv_srcc(z: np.ndarray, y: np.ndarray, alpha: float, seed: int, folds: int = 5) -> float:
    """SRCC of the out-of-fold predictions at the chosen strength (reported only)."""
    from train.metrics.scores import srcc
    from train.tasks.heads import _ridge_solve

    folds = max(2, min(folds, len(y)))
    order = np.random.default_rng(seed).permutation(len(y))
    predicted = np.zeros(len(y))
    for fold in range(folds):
        held = order[fold::folds]
        kept = np.setdiff1d(order, held)
        (w, b), = _ridge_solve(z[kept], y[kept], [alpha])
        predicted[held] = z[held] @ w + b
    return srcc(predicted, y)


def train_frozen_head(plan: FrozenRun, rows: list[ScoreRow], backbone: FeatureBackbone,
                      cache: EmbeddingCache, hardware, run_dir: Path, progress, *,
                      seed: int = 0) -> dict:
    """Embed, fit, measure and export (see the module's docstring); the ``done`` result."""
    started_at = time.perf_counter()
    run_dir = Path(run_dir)
    _check_count(len({row.image for row in rows}), plan.min_ratings)
    spec = lite0_spec(plan.input_size)
    embed_batch = plan.embed_batch_size or (64 if hardware.device == "cuda" else 16)
    embedded = embed_photos([row.image for row in rows], backbone, cache, progress,
                            make_embedder=lambda: Lite0Embedder(backbone, hardware, cache.folder),
                            batch_size=embed_batch, workers=plan.workers,
                            load_input=partial(lite0_input, spec=spec))
    bad = {path for path, _ in embedded.failures}
    for _, message in embedded.failures[:20]:
        progress.log(f"skipped {message}", level="warning")
    rows = [row for row in rows if row.image not in bad]
    _check_count(len({row.image for row in rows}), plan.min_ratings)
    fraction = plan.val_fraction
    if plan.min_ratings:  # an SRCC on two photos says nothing: hold out a few at least
        fraction = max(fraction, min(0.5, MIN_HELD_OUT / max(1, len(rows))))
    plan = replace(plan, val_fraction=fraction)
    train_rows, val_rows = split_rows(rows, fraction, seed)
    if len(train_rows) < MIN_TRAIN or len(val_rows) < MIN_VAL:
        raise DataError(f"too few usable photos: {len(train_rows)} to train on and "
                        f"{len(val_rows)} held out (need {MIN_TRAIN} and {MIN_VAL}); add "
                        "photos or lower --val-fraction")
    x_train, y_train = _xy(train_rows, embedded.vectors)
    x_val, y_val = _xy(val_rows, embedded.vectors)
    progress.log(f"{len(train_rows)} ratings to train on, {len(val_rows)} held out; head: "
                 f"ridge regression on {backbone.name} features ({plan.recipe_note or 'frozen'})")
    progress.start(f"{plan.command} (ridge on {backbone.name} features)", 1, 1,
                   {"head": "ridge", "backbone": backbone.name, "recipe": "frozen"},
                   hardware.to_dict())
    fit_started = time.perf_counter()
    fitted = fit_standardised_ridge(x_train, y_train, seed)
    fit_seconds = time.perf_counter() - fit_started
    progress.step(1, 1.0, fitted.cv_rmse ** 2, None)
    predicted = x_val @ fitted.weights + fitted.bias
    metrics = mean_metrics(predicted, y_val)
    low, high = srcc_interval(predicted, y_val, seed=seed)
    metrics.update(srcc_low=low, srcc_high=high, ratings_used=len(train_rows))
    progress.evaluate(1, 1, metrics)
    progress.log(f"ridge strength {fitted.alpha:g} (5-fold cross-validated RMSE "
                 f"{fitted.cv_rmse:.3f}, SRCC {fitted.cv_srcc:.3f}); fitted in "
                 f"{fit_seconds:.2f} s")
    progress.log(f"held-out ({len(val_rows)} photos, {len(train_rows)} ratings learned from): "
                 f"{describe_metrics(metrics)}")
    model_dir = run_dir / "model"
    parity = None
    if is_main_process():
        parity = _export(plan, fitted, metrics, backbone, spec, hardware, model_dir,
                         embedded, val_rows, predicted, y_val, seed,
                         seconds=time.perf_counter() - started_at)
        progress.log(f"ONNX export checked against torch on {parity['photos']} held-out "
                     f"photos: largest difference {parity['max_abs_difference']:.2g}")
    return {"task": plan.command, "model_dir": str(model_dir), "stopped_early": False,
            "steps": 1, "metrics": metrics, "baseline_metrics": {},
            "skipped": len(embedded.failures), "ratings_used": len(train_rows),
            "recipe": "frozen", "recipe_note": plan.recipe_note, "head": "ridge",
            "output": "mean", "backbone": backbone.name,
            "embeddings_cached": embedded.cached, "embeddings_computed": embedded.computed,
            "embedding_seconds": round(embedded.seconds, 2),
            "fit_seconds": round(fit_seconds, 3), "onnx_parity": parity,
            "peak_gpu_memory_bytes": None}


def _check_count(count: int, needed: int) -> None:
    if needed and count < needed:
        raise too_few_ratings(count, needed)


def _xy(rows: list[ScoreRow], vectors: dict) -> tuple[np.ndarray, np.ndarray]:
    x = (np.stack([vectors[row.image] for row in rows]).astype(np.float64) if rows
         else np.zeros((0, FEATURES)))
    y = means_of(np.asarray([row.distribution for row in rows], np.float64).reshape(-1, 10))
    return x, y


def build_mean_net(backbone: FeatureBackbone, fitted: LinearFit):
    """The Lite0 backbone and a Linear(FEATURES, 1) holding the ridge weights."""
    import torch

    from critique_app.core.scoring.backbone import lite0_from_folder
    from critique_app.core.scoring.mean_net import MeanScoreNet

    net = MeanScoreNet(lite0_from_folder(backbone.folder), FEATURE_KIND)
    with torch.no_grad():
        net.head.weight.copy_(torch.from_numpy(fitted.weights.astype(np.float32))[None])
        net.head.bias.fill_(float(fitted.bias))
    return net.eval()


def check_onnx_parity(net, onnx_path: Path, inputs: np.ndarray) -> dict:
    """Torch and the exported ONNX graph on the same inputs: the largest difference of the
    mean score; over PARITY_TOLERANCE refuses the export."""
    import torch

    from critique_app.core.scoring.onnx_runtime import OnnxScorer

    with torch.inference_mode():
        expected = net(torch.from_numpy(inputs)).numpy()
    got = OnnxScorer(onnx_path, device="cpu")(inputs)
    difference = float(np.abs(got - expected).max())
    if not math.isfinite(difference) or difference > PARITY_TOLERANCE:
        raise ModelError(f"the ONNX export differs from torch by {difference:.3g} on the "
                         f"1-10 scale (more than {PARITY_TOLERANCE}); not exported",
                         path=onnx_path)
    return {"photos": len(inputs), "max_abs_difference": difference,
            "tolerance": PARITY_TOLERANCE}


def _export(plan: FrozenRun, fitted: LinearFit, metrics: dict, backbone: FeatureBackbone,
            spec: InputSpec, hardware, model_dir: Path, embedded, val_rows, predicted,
            target, seed: int, *, seconds: float) -> dict:
    from critique_app.core.util.files import write_text_atomically
    from train.export import ONNX_FILE, ModelCard, export_score_model

    net = build_mean_net(backbone, fitted)
    hyper = {"recipe": "frozen", "recipe_note": plan.recipe_note, "head": "ridge",
             "features": f"{backbone.name} {FEATURE_KIND} ({FEATURES}: each block's mean "
                         "and standard deviation over the image, then the pooled output)",
             "standardised": True, "ridge_alpha": fitted.alpha, "cv_folds": 5,
             "cv_rmse": round(fitted.cv_rmse, 4), "cv_srcc": round(fitted.cv_srcc, 4),
             "backbone": LITE0, "backbone_version": backbone.version, "input_size": spec.size,
             "val_fraction": plan.val_fraction, "seed": seed, "output": "mean"}
    card = ModelCard(
        name=plan.name, task="score", dataset=plan.dataset_name,
        summary=plan.summary or ("A score model: a ridge regression on frozen "
                                 "EfficientNet-Lite0 features; it predicts a mean score."),
        samples=metrics["ratings_used"], licence=plan.licence, data_licence=plan.data_licence,
        started_from=f"{LITE0_STORE_NAME} (ImageNet), frozen; a ridge head on its features",
        hyper_parameters=hyper, hardware=hardware.to_dict(), metrics=metrics,
        notes=[f"skipped unreadable: {m}" for _, m in embedded.failures[:20]])
    extra = {"split": {"val_fraction": plan.val_fraction, "seed": seed},
             "embeddings": {"cached": embedded.cached, "computed": embedded.computed,
                            "seconds": round(embedded.seconds, 1)},
             "seconds": round(seconds, 1), "recipe": "frozen", "output": "mean"}
    export_score_model(net, model_dir, card=card, backbone=LITE0, modality="photo",
                       input_spec=spec, backbone_kwargs={}, epochs=1, extra_metrics=extra,
                       output="mean", features=FEATURE_KIND)
    photos = [row.image for row in val_rows[:PARITY_PHOTOS]]
    inputs = np.stack([lite0_input(path, spec) for path in photos])
    try:
        parity = check_onnx_parity(net, model_dir / ONNX_FILE, inputs)
    except ModelError:
        import shutil

        shutil.rmtree(model_dir, ignore_errors=True)  # nothing half-checked to import
        raise
    record = json.loads((model_dir / "metrics.json").read_text())
    record["onnx_parity"] = parity
    write_text_atomically(model_dir / "metrics.json", json.dumps(record, indent=2, default=str))
    examples = [{"image": str(row.image), "rated": round(float(t), 2),
                 "predicted": round(float(p), 2)}
                for row, p, t in zip(val_rows[:8], predicted[:8], target[:8], strict=True)]
    write_text_atomically(model_dir / "examples.json", json.dumps(examples, indent=2))
    return parity
