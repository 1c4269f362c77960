"""``python -m train critic``: options, the run, the exported adapter, ``eval`` of one.

The exported ``<out>/model/`` is a folder ``critique models import`` installs
as a ``critic-adapter``: peft's adapter files, ``critique_model.json`` whose
``extra`` names the base model (as the app names it) and the persona, the model
card and metrics, and ``examples.json`` — critiques the app itself wrote of
held-out photos with the adapter applied.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import torch

from critique_app.core.critic.personas import DEFAULT_PERSONA, resolve_persona
from critique_app.core.critic.sections import parse_sections
from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically
from train.distributed import is_main_process
from train.tasks.critic import CriticOptions, CriticTask, check_options, load_base

DEFAULT_MODEL = "smolvlm-256m-instruct"  # models/manifest.json's critic VLM
ADAPTER_FORMAT = "critique-critic-adapter/1"
EXAMPLE_PHOTOS = 3
RTX_2080_TI_BYTES = 11 * 1024**3


def add_critic_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("critic")
    group.add_argument("--model", default=DEFAULT_MODEL,
                       help="base model: an installed name or a model folder "
                            f"(default {DEFAULT_MODEL})")
    group.add_argument("--persona", default=None,
                       help="train a persona adapter on that persona's rows only "
                            "(e.g. introvert; Impressions rows carry annotator traits)")
    group.add_argument("--sections", default=None,
                       help="comma-separated sections to learn (default: all the data has)")
    group.add_argument("--lora-rank", type=int, default=16)
    group.add_argument("--lora-alpha", type=int, default=32)
    group.add_argument("--lora-dropout", type=float, default=0.05)
    group.add_argument("--max-length", type=int, default=2048,
                       help="tokens per example; the prompt is kept whole, the answer is cut")
    group.add_argument("--vad-weight", type=float, default=0.0,
                       help="SEVLM: weight of the valence-arousal-dominance head (0: off)")
    group.add_argument("--contrastive-weight", type=float, default=0.0,
                       help="SEVLM: weight of the image-emotion contrastive head (0: off)")
    group.add_argument("--eval-examples", type=int, default=8,
                       help="held-out answers generated and scored (BLEU, METEOR, ...) per "
                            "evaluation")


def options_from(args: argparse.Namespace) -> CriticOptions:
    persona = None
    if args.persona:
        found = resolve_persona(args.persona)
        if found.name == "custom":
            raise CritiqueError("--persona takes a persona name (see 'critique personas'), "
                                "not a description")
        persona = found.name
    options = CriticOptions(
        persona=persona, sections=parse_sections([args.sections]) if args.sections else (),
        lora_rank=args.lora_rank, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        max_length=args.max_length, vad_weight=args.vad_weight,
        contrastive_weight=args.contrastive_weight, eval_examples=args.eval_examples)
    check_options(options)
    return options


def run_critic(args: argparse.Namespace, hardware, progress) -> dict:
    from train.data.split import split_rows
    from train.loop import fit
    from train.runs import load_validated, loop_settings
    from train.tasks.critic_data import rows_for_persona

    options = options_from(args)
    settings = loop_settings(args, hardware)
    dataset = load_validated(args, progress, "critique")
    rows = rows_for_persona(dataset.rows, options.persona)
    if not rows:
        raise CritiqueError(f"{dataset.source}: no rows by a '{options.persona}' annotator; "
                            "check the persona column (or leave out --persona)")
    train_rows, val_rows = split_rows(rows, args.val_fraction, settings.seed)
    out = Path(args.out)
    base = load_base(args.model, hardware)
    progress.log(f"base model {base.name} ({base.kind}) from {base.folder}")
    task = CriticTask(base, train_rows, val_rows, options, hardware,
                      cache_path=out / "grounding.json", seed=settings.seed, log=progress.log)
    if not len(task.train_samples):
        raise CritiqueError(f"{dataset.source}: no usable training examples (see the warnings "
                            "above); add rows or check --sections and --max-length")
    progress.log(f"{len(task.train_samples)} examples to train on, {len(task.val_samples)} "
                 f"held out; sections: {', '.join(task.sections)}; persona: "
                 f"{options.persona or 'as each row says'}")
    estimate = log_memory_estimate(task, settings.batch_size, hardware, progress)
    device = torch.device(hardware.device)
    task.model.to(device)
    baseline = task.evaluate(task.model, device, adapter=False)
    if baseline:
        progress.log("the base model on the held-out examples: " + _describe(baseline))
    result = fit(task, settings, hardware, out, progress, resume=args.resume, memory=estimate)
    model_dir = out / "model"
    examples = []
    if not result.stopped_early and is_main_process():
        name = args.name or "-".join(filter(None, ("critic", options.persona,
                                                    out.resolve().name)))
        card = _card(name, task, dataset, settings, options, hardware, result, baseline,
                     args.val_fraction)
        export_adapter(task, model_dir, card=card, extra_metrics={
            "split": {"val_fraction": args.val_fraction, "seed": settings.seed},
            "history": result.history, "seconds": round(result.seconds, 1),
            "peak_gpu_memory_bytes": result.peak_gpu_memory_bytes,
            "memory_estimate": estimate})
        examples = write_examples(model_dir, base, val_rows, task, hardware)
    return {"task": "critic", "model_dir": None if result.stopped_early else str(model_dir),
            "stopped_early": result.stopped_early, "steps": result.steps,
            "metrics": result.metrics, "baseline_metrics": baseline,
            "skipped": len(task.skipped), "examples": len(examples),
            "persona": options.persona or DEFAULT_PERSONA, "base": base.name,
            "peak_gpu_memory_bytes": result.peak_gpu_memory_bytes,
            "memory_estimate_bytes": estimate["total"] if estimate else None}


def log_memory_estimate(task: CriticTask, batch_size: int, hardware, progress) -> dict | None:
    """Peak GPU memory of this run's settings (train/memory/), logged before training;
    on the 2080 Ti profile a run that will not fit in 11 GB says so, with what to change."""
    from train.memory import estimate_critic_memory

    base, options = task.base, task.options
    if not (base.folder / "config.json").is_file():
        progress.log(f"no memory estimate for {base.name}: it has no config.json (GGUF)")
        return None
    try:
        estimate = estimate_critic_memory(
            str(base.folder), lora_rank=options.lora_rank, batch_size=batch_size,
            seq_len=max(1, task.longest()), image_tokens=0,
            amp=hardware.amp_dtype is not None,
            gradient_checkpointing=hardware.gradient_checkpointing,
            lora_dropout=options.lora_dropout,
            frozen_dtype=next(base.model.parameters()).dtype)
    except Exception as error:
        progress.log(f"no memory estimate: {type(error).__name__}: {error}".splitlines()[0],
                     level="warning")
        return None
    where = "" if hardware.device == "cuda" else " (for a GPU; this run is on the CPU)"
    progress.log(estimate.describe(hardware.memory_limit_bytes) + where)
    progress.emit("memory_estimate", **estimate.to_dict())
    if hardware.profile == "2080ti" and not estimate.fits(RTX_2080_TI_BYTES):
        progress.log(f"these settings need about {estimate.total / 1024**3:.1f} GB, more than "
                     "an RTX 2080 Ti's 11 GB: lower --batch-size (raise --accumulate to keep "
                     "the step size), --max-length or --lora-rank", level="warning")
    return estimate.to_dict()


def _card(name, task: CriticTask, dataset, settings, options, hardware, result, baseline,
          val_fraction):
    from train.export import ModelCard

    base = task.base
    voice = f"as the '{options.persona}' persona" if options.persona else \
        "in the voices of the dataset's critics"
    return ModelCard(
        name=name, task="critic-adapter",
        summary=f"A LoRA adapter for {base.name} that writes the critique's "
                f"{', '.join(task.sections)} {voice}, trained on the app's own prompts with "
                "Critique's trainer.",
        dataset=f"{dataset.source.name} ({dataset.format})",
        samples=len(task.train_samples), licence=_licence(base.name),
        data_licence="as stated by the dataset's owners",
        started_from=f"{base.name} ({base.folder})",
        hyper_parameters={**asdict(settings), **asdict(options), "sections": task.sections,
                          "val_fraction": val_fraction},
        hardware=hardware.to_dict(), metrics=result.metrics, baseline_metrics=baseline,
        notes=[*(f"skipped {s}" for s in task.skipped[:20]),
               "the VAD and contrastive heads are training aids and are not exported"])


def _licence(base: str) -> str:
    """Adapter weights are a derivative of the base model and of the training data."""
    from critique_app.core.store.store import ModelStore

    try:
        return f"{ModelStore().entry(base).licence} (the base model's) and the training " \
               "data's terms"
    except CritiqueError:
        return "the base model's licence and the training data's terms"


def export_adapter(task: CriticTask, folder: Path, *, card, extra_metrics: dict) -> Path:
    """The adapter folder the app's store imports (task ``critic-adapter``)."""
    from train.export import write_card_and_metrics

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task.model.lm.save_pretrained(folder)
    options = task.options
    metadata = {
        "name": card.name, "task": "critic-adapter",
        "architecture": f"peft:lora r{options.lora_rank} on {task.base.name}",
        "description": card.summary, "licence": card.licence,
        "trained_on": f"{card.dataset}: {card.samples} examples",
        "extra": {"format": ADAPTER_FORMAT, "base": task.base.name,
                  "persona": options.persona or DEFAULT_PERSONA,
                  "base_path": str(task.base.folder), "kind": task.base.kind,
                  "sections": list(task.sections), "max_length": options.max_length,
                  "metrics": card.metrics},
    }
    write_text_atomically(folder / LOCAL_METADATA, json.dumps(metadata, indent=2, default=str))
    write_card_and_metrics(folder, card, extra_metrics)
    return folder


def write_examples(model_dir: Path, base, val_rows, task: CriticTask, hardware) -> list[dict]:
    """Critiques of a few held-out photos written by the app's own critic with the adapter
    applied: what a user will see, next to what the dataset says."""
    from critique_app.core.analysis.analyzer import analyze
    from critique_app.core.critic.events import collect_text
    from critique_app.core.critic.generation import GenerationSettings
    from critique_app.core.critic.loading import unload_all
    from critique_app.core.critic.request import CritiqueRequest
    from critique_app.core.critic.service import stream_critique

    photos = list(dict.fromkeys(row.image for row in val_rows))[:EXAMPLE_PHOTOS]
    if not photos:
        return []
    task.model.cpu()  # the app loads its own copy
    if hardware.device == "cuda":
        torch.cuda.empty_cache()
    request = CritiqueRequest(sections=task.sections, model=str(base.folder),
                              persona=resolve_persona(task.options.persona),
                              adapter=Path(model_dir), device=hardware.device,
                              vlm_score=False, generation=GenerationSettings(max_new_tokens=80))
    examples = []
    try:
        for photo in photos:
            events = list(stream_critique(analyze(photo), request))
            emotion = next((e.data for e in events if e.kind == "emotion"), None)
            reference = next(row for row in val_rows if row.image == photo)
            examples.append({"image": str(photo), "critique": collect_text(events),
                             "emotion": emotion, "reference": dict(reference.sections),
                             "notices": [e.text for e in events if e.kind == "notice"]})
    finally:
        unload_all()
    write_text_atomically(model_dir / "examples.json", json.dumps(examples, indent=2))
    return examples


def adapter_metadata(folder: Path) -> dict:
    try:
        metadata = json.loads((Path(folder) / LOCAL_METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CritiqueError(f"{folder} has no readable {LOCAL_METADATA} ({error})") from None
    if metadata.get("task") != "critic-adapter":
        raise CritiqueError(f"{folder} is not a critic adapter")
    return metadata


def adapter_base(folder: Path) -> str:
    """The adapter's base model: installed under its name, else the folder it was trained on."""
    from critique_app.core.store.store import ModelStore

    extra = adapter_metadata(folder)["extra"]
    if ModelStore().path(extra["base"]) is not None:
        return extra["base"]
    if extra.get("base_path") and Path(extra["base_path"]).is_dir():
        return extra["base_path"]
    raise CritiqueError(f"the base model '{extra['base']}' of {folder} is not installed: "
                        f"run 'critique models pull {extra['base']}'")


def evaluate_adapter(folder: Path, args: argparse.Namespace) -> dict:
    """``python -m train eval ADAPTER``: held-out loss, perplexity and text metrics."""
    from train.data.formats import load_dataset
    from train.data.split import split_rows
    from train.hardware import resolve_hardware
    from train.tasks.critic_data import rows_for_persona

    extra = adapter_metadata(folder)["extra"]
    hardware = resolve_hardware("auto")
    persona = extra.get("persona")
    persona = None if persona == DEFAULT_PERSONA else persona
    dataset = load_dataset(args.data, args.format, images=args.images, kind="critique")
    rows = rows_for_persona(dataset.rows, persona)
    if args.split == "val":
        rows = split_rows(rows, args.val_fraction, args.seed)[1]
    if not rows:
        raise CritiqueError(f"{args.data}: no usable rows to evaluate on")
    options = CriticOptions(persona=persona, sections=tuple(extra.get("sections", ())),
                            max_length=int(extra.get("max_length", 2048)))
    base = load_base(adapter_base(folder), hardware)
    task = CriticTask(base, [], rows, options, hardware, adapter=Path(folder))
    device = torch.device(hardware.device)
    task.model.to(device)
    metrics = task.evaluate(task.model, device)
    metrics["examples"] = len(task.val_samples)
    return metrics


def _describe(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
