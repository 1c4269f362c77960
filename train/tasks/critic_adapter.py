"""A trained critic adapter: the folder the trainer exports, and reading one back.

The exported folder is what ``critique models import`` installs as a
``critic-adapter``: peft's adapter files, ``critique_model.json`` whose ``extra``
names the base model (as the app names it) and the persona, the model card and
metrics, and ``examples.json`` -- critiques the app itself wrote of held-out photos
with the adapter applied. ``python -m train eval`` and ``compare-personas`` read
adapters back through :func:`adapter_metadata` and :func:`adapter_base`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from critique_app.core.critic.personas import DEFAULT_PERSONA, resolve_persona
from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically
from train.tasks.critic import CriticOptions, CriticTask, load_base

ADAPTER_FORMAT = "critique-critic-adapter/1"
EXAMPLE_PHOTOS = 3


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
