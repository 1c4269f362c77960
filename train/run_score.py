"""``python -m train score|modality|personal``: one score-model run, start to finish.

The entry point of the score task, shaped like every task's (``train/run_<task>.py``):
:func:`run` takes the parsed command line, the hardware and the progress reporter, and
returns the result the ``done`` event carries. ``modality`` is a score run on a
saliency, depth or blur map instead of the photo; ``personal`` one that starts from a
trained score model (``--base``) and learns one person's ratings, or without ``--base``
a head on frozen features (:mod:`train.tasks.frozen`, :mod:`train.tasks.clip_train`). Each
splits the data, checks every photo, trains and exports.

Recipes of ``score`` (``--recipe``): ``finetune`` trains the network; ``frozen`` fits a
ridge regression on frozen EfficientNet-Lite0 features (a mean-only model); ``auto`` (the
default) takes ``frozen`` below :data:`train.tasks.frozen.FROZEN_BELOW` rated photos when
the backbone is Lite0 and no ``--init`` or ``--freeze`` asks for fine-tuning.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from train.common import load_validated, loop_settings, model_folder
from train.data.records import DataError, Dataset
from train.data.split import split_rows
from train.distributed import is_main_process
from train.export import ModelCard, export_score_model
from train.loop import FitResult, LoopSettings, fit
from train.metrics import describe_metrics
from train.tasks.embeddings import CLIP_BACKBONES
from train.tasks.images import InputCache
from train.tasks.score import (
    ScoreOptions,
    ScoreTask,
    data_fingerprint,
    predict,
    prepare_inputs,
)
from train.tasks.score_model import BuiltNet, build_score_net, score_memory_by_batch

MIN_TRAIN, MIN_VAL = 4, 2
DEFAULT_FREEZE = "last:2"
LITE0_NAMES = ("lite0", "tf_efficientnet_lite0")


@dataclass
class ScoreRun:
    name: str  # the exported model's name
    dataset_name: str  # for the model card, e.g. "AVA (AVA.txt)"
    val_fraction: float = 0.1
    cache: bool = True
    data_licence: str = "as stated by the dataset's owners"
    licence: str = "the training data's terms"
    summary: str = ""
    recipe: dict | None = None  # score: {"recipe": "finetune", "recipe_note": why}


@dataclass
class ScoreOutcome:
    model_dir: Path
    fit: FitResult
    metrics: dict
    baseline_metrics: dict
    skipped: list[str]


def run(args: argparse.Namespace, hardware, progress) -> dict:
    """``score``, ``modality`` or ``personal``, as ``args.command`` says."""
    command = args.command
    if command == "personal" and not args.base:
        if args.backbone is None:
            args.backbone = _installed_feature_backbone()
        if args.backbone in LITE0_NAMES:
            return run_frozen(args, hardware, progress)
    if command in ("score", "personal") and getattr(args, "backbone", None) in CLIP_BACKBONES:
        return run_on_embeddings(args, hardware, progress)
    if command == "personal" and args.backbone:
        raise CritiqueError(f"'personal' learns from --base MODEL, or without it from "
                            f"--backbone clip-vit-l14 or lite0, not '{args.backbone}'")
    dataset = load_validated(args, progress, "score")
    if command == "score":
        recipe, note = choose_recipe(args, dataset)
        progress.log(f"recipe: {recipe} ({note})")
        if recipe == "frozen":
            return run_frozen(args, hardware, progress, dataset=dataset, recipe_note=note)
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
                               freeze=args.freeze or DEFAULT_FREEZE, mean_weight=args.mean_weight,
                               std_weight=args.std_weight, flip=not args.no_flip,
                               depth_model=getattr(args, "depth_model", None))
        summary = ""
    name = args.name or f"{command}-{Path(args.out).resolve().name}"
    score_run = ScoreRun(name=name, dataset_name=f"{dataset.source.name} ({dataset.format})",
                         val_fraction=args.val_fraction, cache=not args.no_cache,
                         summary=summary,
                         recipe={"recipe": "finetune", "recipe_note": note}
                         if command == "score" else None)
    outcome = train_score_model(score_run, dataset, built, options,
                                loop_settings(args, hardware), hardware, args.out, progress,
                                resume=args.resume,
                                baseline=command == "personal" or args.init is not None)
    return {**(score_run.recipe or {}), "task": command,
            "model_dir": None if outcome.fit.stopped_early else str(outcome.model_dir),
            "stopped_early": outcome.fit.stopped_early, "steps": outcome.fit.steps,
            "metrics": outcome.metrics, "baseline_metrics": outcome.baseline_metrics,
            "skipped": len(outcome.skipped),
            "peak_gpu_memory_bytes": outcome.fit.peak_gpu_memory_bytes}


def choose_recipe(args: argparse.Namespace, dataset: Dataset) -> tuple[str, str]:
    """("frozen" | "finetune", why) for ``score``."""
    from train.tasks.frozen import FROZEN_BELOW

    photos = len({row.image for row in dataset.rows})
    lite0 = args.backbone in LITE0_NAMES
    if args.recipe == "frozen":
        if not lite0 or args.init is not None:
            raise CritiqueError("--recipe frozen learns from the ImageNet EfficientNet-Lite0's "
                                "features: use it with --backbone lite0 and without --init")
        return "frozen", f"asked for; {photos} rated photos"
    if args.recipe == "finetune":
        return "finetune", "asked for"
    if not lite0 or args.init is not None or args.freeze is not None:
        why = ("--init" if args.init is not None else "--freeze" if args.freeze is not None
               else f"--backbone {args.backbone}")
        return "finetune", f"auto: {why} asks for fine-tuning"
    if photos < FROZEN_BELOW:
        return "frozen", (f"auto: {photos} rated photos, fewer than {FROZEN_BELOW:,}: a ridge "
                          "head on frozen Lite0 features beats fine-tuning on small data; "
                          "--recipe finetune to fine-tune")
    return "finetune", f"auto: {photos} rated photos, {FROZEN_BELOW:,} or more"


def _installed_feature_backbone(store=None) -> str:
    """``personal`` without --base: CLIP when laion-aesthetic-v2 is installed, else Lite0."""
    from critique_app.core.scoring.pretrained.clip_head import backbone_folder
    from critique_app.core.store.store import ModelStore
    from critique_app.core.util.errors import ModelError

    try:
        backbone_folder(store or ModelStore())
    except ModelError:
        return "lite0"
    return CLIP_BACKBONES[0]


def run_frozen(args: argparse.Namespace, hardware, progress, *, dataset: Dataset | None = None,
               recipe_note: str = "") -> dict:
    """``personal`` without --base on Lite0, or ``score --recipe frozen``: a ridge head on
    frozen EfficientNet-Lite0 features (:mod:`train.tasks.frozen`)."""
    from critique_app.core.store.store import ModelStore
    from train.tasks.embeddings import EmbeddingCache, default_cache_dir
    from train.tasks.frozen import (
        MIN_RATINGS,
        FrozenRun,
        resolve_lite0_backbone,
        too_few_ratings,
        train_frozen_head,
    )

    command = args.command
    input_size = getattr(args, "input_size", 224)
    backbone = resolve_lite0_backbone(ModelStore(), input_size)  # before reading any photo
    personal = command == "personal"
    if dataset is None:
        dataset = load_validated(args, progress, "score", allow_empty=personal)
    rows = dataset.rows
    if personal and args.rater:
        rows = [row for row in rows if row.rater == args.rater]
    if personal and len({row.image for row in rows}) < MIN_RATINGS:
        raise too_few_ratings(len({row.image for row in rows}))
    who = (args.rater or "one person") if personal else None
    summary = (f"A personal score model: {who}'s ratings learned by a ridge regression on "
               "frozen EfficientNet-Lite0 features; it predicts a mean score." if personal
               else "A score model: a ridge regression on frozen EfficientNet-Lite0 features "
                    "(the small-data recipe); it predicts a mean score.")
    if personal:
        recipe_note = "no --base: a head on the installed Lite0's frozen features"
        progress.log(f"recipe: frozen ({recipe_note})")
    name = args.name or f"{command}-{Path(args.out).resolve().name}"
    plan = FrozenRun(command=command, name=name,
                     dataset_name=f"{dataset.source.name} ({dataset.format})",
                     val_fraction=args.val_fraction, input_size=input_size,
                     embed_batch_size=getattr(args, "embed_batch_size", None),
                     workers=args.workers or 2, min_ratings=MIN_RATINGS if personal else 0,
                     recipe_note=recipe_note, summary=summary)
    cache = EmbeddingCache(None if args.no_cache else
                           (getattr(args, "embedding_cache", None) or default_cache_dir()))
    try:
        return train_frozen_head(plan, rows, backbone, cache, hardware, args.out, progress,
                                 seed=args.seed)
    finally:
        cache.close()


def _personal_base(base: str | None) -> Path:
    """The score model a personal model starts from: a folder or an installed name."""
    if not base:
        raise CritiqueError("'personal' needs --base (the trained score model to start from) "
                            "or --backbone clip-vit-l14")
    return model_folder(base)


def run_on_embeddings(args: argparse.Namespace, hardware, progress) -> dict:
    """``score|personal --backbone clip-vit-l14``: a head on cached, frozen CLIP embeddings
    (see :mod:`train.tasks.clip_train`)."""
    from critique_app.core.scoring.pretrained.clip_head import BACKBONE_MODEL
    from critique_app.core.store.store import ModelStore
    from train.tasks.clip_train import ClipHeadRun, train_clip_head
    from train.tasks.embeddings import (
        EmbeddingCache,
        default_cache_dir,
        resolve_clip_backbone,
    )

    command = args.command
    store = ModelStore()
    backbone = resolve_clip_backbone(args.backbone_dir, store)  # before reading any photo
    dataset = load_validated(args, progress, "score", allow_empty=command == "personal")
    rows = dataset.rows
    laion = None
    if command == "personal":
        from train.tasks.frozen import MIN_RATINGS, too_few_ratings

        if getattr(args, "base", None):
            raise CritiqueError("give --base or --backbone clip-vit-l14, not both")
        if args.rater:
            rows = [row for row in rows if row.rater == args.rater]
        if len({row.image for row in rows}) < MIN_RATINGS:
            raise too_few_ratings(len({row.image for row in rows}))
        laion = None if args.fresh_head else store.path(BACKBONE_MODEL)
        head = "laion" if laion is not None else "linear"
        who = args.rater or "one person"
        summary = (f"A personal score model: {who}'s ratings learned "
                   + ("by fine-tuning LAION aesthetic v2's head" if laion else
                      "by a ridge regression") + " on CLIP ViT-L/14 embeddings.")
        options = None
    else:
        head = "distribution"
        options = ScoreOptions(mean_weight=args.mean_weight, std_weight=args.std_weight)
        summary = ("A NIMA score model: a 10-bin distribution head on frozen CLIP ViT-L/14 "
                   "embeddings, trained with Critique's trainer.")
    name = args.name or f"{command}-{Path(args.out).resolve().name}"
    plan = ClipHeadRun(command=command, name=name,
                       dataset_name=f"{dataset.source.name} ({dataset.format})", head=head,
                       val_fraction=args.val_fraction, batch_size=args.batch_size, lr=args.lr,
                       embed_batch_size=args.embed_batch_size, workers=args.workers or 2,
                       options=options, laion_folder=laion, summary=summary)
    cache = EmbeddingCache(None if args.no_cache else
                           (args.embedding_cache or default_cache_dir()))
    try:
        return train_clip_head(plan, rows, backbone, cache, loop_settings(args, hardware),
                               hardware, args.out, progress, resume=args.resume)
    finally:
        cache.close()


def train_score_model(score_run: ScoreRun, data: Dataset, built: BuiltNet,
                      options: ScoreOptions, settings: LoopSettings, hardware, run_dir: Path,
                      progress, *, resume: bool = False, baseline: bool = False) -> ScoreOutcome:
    """Split, check every photo, fit and export (the shared part of the score commands).

    ``baseline``: also measure the starting model on the held-out split (when it
    is itself a trained scorer), so the result shows what training changed."""
    run_dir = Path(run_dir)
    train_rows, val_rows = split_rows(data.rows, score_run.val_fraction, settings.seed)
    cache = InputCache(run_dir / "cache" if score_run.cache else None)
    task = ScoreTask(built, train_rows, val_rows, options, cache, seed=settings.seed,
                     data_fingerprint=data_fingerprint(data.rows), name=score_run.name)
    skipped = _drop_unreadable(task, progress, settings.workers or 2)
    if len(task.train_samples) < MIN_TRAIN or len(task.val_samples) < MIN_VAL:
        raise DataError(f"too few usable photos: {len(task.train_samples)} to train on and "
                        f"{len(task.val_samples)} held out (need {MIN_TRAIN} and {MIN_VAL}); "
                        "add photos or lower --val-fraction")
    progress.log(f"{len(task.train_samples)} photos to train on, {len(task.val_samples)} held "
                 f"out; starting from {built.started_from}")
    baseline_metrics = {}
    if baseline:
        built.net.eval()
        predicted, target = predict(built.net, task.val_samples, "cpu")
        from train.metrics.scores import score_metrics

        baseline_metrics = score_metrics(predicted, target)
        progress.log("the starting model on the held-out photos: "
                     + describe_metrics(baseline_metrics))
    settings, memory = fit_to_memory(task, settings, hardware, progress)
    result = fit(task, settings, hardware, run_dir, progress, resume=resume,
                 memory=memory.to_dict())
    model_dir = run_dir / "model"
    if not result.stopped_early and is_main_process():
        card = ModelCard(
            name=score_run.name, task="score", dataset=score_run.dataset_name,
            summary=score_run.summary or f"NIMA score model on the {options.modality}, "
                                         "trained with Critique's trainer.",
            samples=len(task.train_samples), licence=score_run.licence,
            data_licence=score_run.data_licence,
            started_from=built.started_from,
            hyper_parameters={**asdict(settings), **asdict(options),
                              "backbone": built.backbone, "input_size": built.input_spec.size,
                              "val_fraction": score_run.val_fraction,
                              **(score_run.recipe or {})},
            hardware=hardware.to_dict(), metrics=result.metrics,
            baseline_metrics=baseline_metrics,
            notes=[f"skipped unreadable: {s}" for s in skipped[:20]])
        peak = {"split": {"val_fraction": score_run.val_fraction, "seed": settings.seed},
                "peak_gpu_memory_bytes": result.peak_gpu_memory_bytes,
                "history": result.history, "seconds": round(result.seconds, 1)}
        export_score_model(built.net, model_dir, card=card, backbone=built.backbone,
                           modality=options.modality, input_spec=built.input_spec,
                           backbone_kwargs=built.backbone_kwargs, epochs=result.epochs_done,
                           extra_metrics=peak)
        write_examples(built, task, model_dir)
    return ScoreOutcome(model_dir, result, result.metrics, baseline_metrics, skipped)


def fit_to_memory(task: ScoreTask, settings: LoopSettings, hardware, progress):
    """Estimate peak GPU memory before training; on a capped GPU, halve the micro-batch
    (doubling accumulation, so each step still sees as many photos) until it fits."""
    net = task.built.net
    if hardware.gradient_checkpointing and hasattr(net.backbone, "set_grad_checkpointing"):
        net.backbone.set_grad_checkpointing(True)
    estimate = score_memory_by_batch(task.model, task.built.input_spec.size,
                                     amp=hardware.amp_dtype is not None,
                                     gradient_checkpointing=hardware.gradient_checkpointing)
    memory = estimate(settings.batch_size)
    limit = hardware.memory_limit_bytes
    while limit and not memory.fits(limit) and settings.batch_size > 1:
        settings = replace(settings, batch_size=settings.batch_size // 2,
                           accumulate=settings.accumulate * 2)
        memory = estimate(settings.batch_size)
        progress.log(f"lowered the micro-batch to {settings.batch_size} (accumulating "
                     f"{settings.accumulate}) to fit {limit / 1024**3:.1f} GiB")
    verdict = f" of {limit / 1024**3:.1f} GiB" if limit else " (if run on a GPU)"
    progress.log(f"estimated peak GPU memory: {memory.total / 1024**3:.2f} GiB{verdict}")
    return settings, memory


def write_examples(built: BuiltNet, task: ScoreTask, model_dir: Path, count: int = 8) -> None:
    """A few held-out photos with their rated and predicted mean scores (examples.json),
    for the wizard's results page and the curious."""
    import json

    from critique_app.core.scoring.distribution import ScoreDistribution
    from critique_app.core.util.files import write_text_atomically

    samples = task.val_samples
    rows = samples.rows[:count]
    samples.rows, everything = rows, samples.rows
    try:
        predicted, target = predict(built.net.eval().cpu(), samples, "cpu")
    finally:
        samples.rows = everything
    def mean(distribution) -> float:
        return round(ScoreDistribution.from_probabilities(distribution).mean, 2)

    examples = [{"image": str(row.image), "rated": mean(t), "predicted": mean(p)}
                for row, p, t in zip(rows, predicted, target, strict=True)]
    write_text_atomically(model_dir / "examples.json", json.dumps(examples, indent=2))


def _drop_unreadable(task: ScoreTask, progress, workers: int) -> list[str]:
    """Decode every photo once up front (this also fills the cache); unreadable ones
    are reported with their dataset line and left out."""
    skipped = []
    for samples in (task.train_samples, task.val_samples):
        failures = prepare_inputs(samples, workers)
        bad = {id(row) for row, _ in failures}
        for row, message in failures:
            line = f"line {row.line}: {message}" if row.line else message
            skipped.append(line)
            progress.log(f"skipped {line}", level="warning")
        samples.rows = [row for row in samples.rows if id(row) not in bad]
    return skipped
