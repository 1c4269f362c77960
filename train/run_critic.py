"""``python -m train critic``: LoRA fine-tuning of the critic, start to finish.

The entry point of the critic task, shaped like every task's (``train/run_<task>.py``):
:func:`run` takes the parsed command line, the hardware and the progress reporter, and
returns the result the ``done`` event carries. The exported ``<out>/model/`` is a
critic adapter (see :mod:`train.tasks.critic_adapter`) that ``critique models import``
installs.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import torch

from critique_app.core.critic.personas import DEFAULT_PERSONA, resolve_persona
from critique_app.core.critic.sections import parse_sections
from critique_app.core.util.errors import CritiqueError
from train.common import load_validated, loop_settings
from train.distributed import is_main_process
from train.metrics import describe_metrics
from train.tasks.critic import CriticOptions, CriticTask, check_options, load_base
from train.tasks.critic_adapter import export_adapter, write_examples

RTX_2080_TI_BYTES = 11 * 1024**3


def run(args: argparse.Namespace, hardware, progress) -> dict:
    """Train a LoRA adapter on the dataset's critiques and export it with examples."""
    from train.data.split import split_rows
    from train.loop import fit
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
        progress.log("the base model on the held-out examples: " + describe_metrics(baseline))
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
