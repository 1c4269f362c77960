"""Do two persona adapters write differently? (Impressions' persona comparison.)

Both adapters critique the same held-out photos, each through the app's own
path (its base model with the adapter merged, the app's prompt with its
persona, the app's greedy generation), and
:func:`train.metrics.persona_test.compare_personas` tests whether the two
sets of texts differ by more than chance: unigram JSD (unpaired) and, since
the photos are the same, paired sign-flip tests on length and word choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from critique_app.core.critic.loading import VLM
from critique_app.core.util.errors import CritiqueError
from train.data.records import CritiqueRow

COMPARED_SECTIONS = ("description", "impression", "evaluation")  # free text in every model


def compare_personas(adapter_a: Path, adapter_b: Path, rows: Sequence[CritiqueRow], *,
                     max_new_tokens: int = 48, limit: int | None = None, seed: int = 0,
                     device: str = "auto") -> dict:
    """Critiques by both adapters of the photos in ``rows`` (each photo once, at most
    ``limit``), and the permutation tests on them. Both must share a base model."""
    from train.metrics.persona_test import compare_personas as run_tests
    from train.tasks.critic_adapter import adapter_base, adapter_metadata

    extra_a = adapter_metadata(adapter_a)["extra"]
    extra_b = adapter_metadata(adapter_b)["extra"]
    if extra_a["base"] != extra_b["base"]:
        raise CritiqueError(f"the adapters were trained on different models ({extra_a['base']} "
                            f"and {extra_b['base']}): compare adapters of one base")
    photos = list(dict.fromkeys(Path(row.image) for row in rows))[:limit]
    if not photos:
        raise CritiqueError("no photos to compare the personas on")
    shared = set(extra_a.get("sections", ())) & set(extra_b.get("sections", ()))
    sections = tuple(s for s in COMPARED_SECTIONS if s in shared) or ("impression",)
    base = adapter_base(adapter_a)
    texts_a = _critiques(base, adapter_a, extra_a["persona"], photos, sections,
                         max_new_tokens, device)
    texts_b = _critiques(base, adapter_b, extra_b["persona"], photos, sections,
                         max_new_tokens, device)
    tests = run_tests(texts_a, texts_b, paired=True, seed=seed)
    return {"persona_a": extra_a["persona"], "persona_b": extra_b["persona"],
            "sections": list(sections), "images": [str(p) for p in photos],
            "texts_a": texts_a, "texts_b": texts_b,
            "tests": [{**asdict(t), "summary": t.describe()} for t in tests]}


def _critiques(base: str, adapter: Path, persona: str, photos: list[Path],
               sections: tuple[str, ...], max_new_tokens: int, device: str) -> list[str]:
    """One text per photo: the wanted sections, as the app writes them with this adapter."""
    from critique_app.core.critic.chat import model_inputs, render_prompt
    from critique_app.core.critic.generation import GenerationSettings, stream_generate
    from critique_app.core.critic.loading import (
        find_language_model,
        load_language_model,
        unload_all,
    )
    from critique_app.core.critic.personas import resolve_persona
    from critique_app.core.critic.prompts import PromptContext, section_messages
    from critique_app.core.photo import load_photo
    from critique_app.core.store.store import ModelStore
    from train.tasks.critic_data import GroundingCache

    name, folder = find_language_model(ModelStore(), base)
    lm = load_language_model(folder, name=name, device=device, adapter=Path(adapter))
    vlm = lm.kind == VLM
    groundings = GroundingCache(None, labels=not vlm)
    failures = groundings.prepare(photos)
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    texts = []
    try:
        for photo in photos:
            if photo in failures:
                raise CritiqueError(f"{photo}: {failures[photo]}")
            grounding = groundings[photo]
            context = PromptContext(resolve_persona(persona), grounding.facts, "",
                                    "" if vlm else grounding.labels, sees_photo=vlm)
            pixels = load_photo(photo).pixels if vlm else None
            parts = []
            for section in sections:
                prompt = render_prompt(lm, section_messages(context, section))
                inputs = model_inputs(lm, prompt, pixels)
                parts.append("".join(stream_generate(lm.model, lm.tokenizer, inputs,
                                                     settings)).strip())
            texts.append(" ".join(parts))
    finally:
        unload_all()
    return texts
