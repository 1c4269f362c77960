"""The critic end to end with tiny random models: loading, prompting, streaming order,
cancellation, timeouts, personas, LoRA adapters and the VLM's scores, all offline."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from critique_app.core.critic.chat import model_inputs, render_prompt
from critique_app.core.critic.choices import choice_probabilities, deciding_length
from critique_app.core.critic.events import collect_text
from critique_app.core.critic.generation import GenerationSettings, stream_generate
from critique_app.core.critic.loading import (
    TEXT,
    VLM,
    choose_dtype,
    load_language_model,
    model_kind,
)
from critique_app.core.critic.personas import (
    BUILTIN_PERSONAS,
    delete_persona,
    resolve_persona,
    save_persona,
    user_personas,
)
from critique_app.core.critic.prompts import PromptContext, section_messages
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.sections import EMOTIONS, SECTION_NAMES, parse_sections
from critique_app.core.critic.service import stream_critique
from critique_app.core.store.store import LOCAL_METADATA, ModelStore
from critique_app.core.util.errors import CritiqueError, ModelError
from tests.helpers.tiny_lms import (
    save_tiny_lora_adapter,
)

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("fresh_models")]
QUICK = GenerationSettings(max_new_tokens=12, sentence_end_after=None)


@pytest.fixture(scope="module")
def models(tiny_language_models, tmp_path_factory) -> dict[str, Path]:
    """The shared tiny models plus LoRA adapters trained on them."""
    root = tmp_path_factory.mktemp("tiny-adapters")
    made = dict(tiny_language_models)
    made["causal-adapter"] = save_tiny_lora_adapter(made["causal"], root / "causal-adapter")
    made["vlm-adapter"] = save_tiny_lora_adapter(made["vlm"], root / "vlm-adapter", kind="vlm")
    return made


def install(store: ModelStore, folder: Path, name: str, task: str, **extra) -> None:
    """Import a model folder into the store, as `critique models import` does."""
    (folder / LOCAL_METADATA).write_text(json.dumps({
        "name": name, "task": task, "architecture": "test", "licence": "Apache-2.0",
        "trained_on": "nothing (random test weights)", "extra": extra}))
    store.import_dir(folder, report=lambda _: None)
    (folder / LOCAL_METADATA).unlink()


def events_of(analysis, request, **kwargs) -> list:
    return list(stream_critique(analysis, request, **kwargs))


# --- loading ---------------------------------------------------------------------


def test_model_kinds_and_cpu_precision(models):
    assert model_kind(models["causal"]) == TEXT
    assert model_kind(models["vlm"]) == VLM
    assert model_kind(models["idefics3"]) == VLM
    lm = load_language_model(models["causal"], device="cpu")
    assert (lm.kind, lm.dtype, lm.device) == (TEXT, "float32", "cpu")
    assert next(lm.model.parameters()).dtype == torch.float32


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), torch.float16),
                                                      ((8, 0), torch.bfloat16)])
def test_cuda_precision_is_fp16_below_ampere(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    assert choose_dtype("cuda") == expected
    assert choose_dtype("cpu") == torch.float32


def test_a_folder_that_is_not_a_model_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a language model folder"):
        model_kind(tmp_path)


def test_loaded_model_is_reused_until_another_is_loaded(models):
    first = load_language_model(models["causal"], device="cpu")
    assert load_language_model(models["causal"], device="cpu") is first
    load_language_model(models["vlm"], device="cpu")
    assert load_language_model(models["causal"], device="cpu") is not first


# --- streaming -------------------------------------------------------------------


def slow_down(model, seconds: float) -> list[float]:
    """Make every forward pass take ``seconds``; returns the times the passes started."""
    calls: list[float] = []
    original = model.forward

    def forward(*args, **kwargs):
        calls.append(time.perf_counter())
        time.sleep(seconds)
        return original(*args, **kwargs)

    model.forward = forward
    return calls


def talker_inputs(models):
    lm = load_language_model(models["talker"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe the light."}])
    return lm, model_inputs(lm, prompt, None)


def test_text_streams_while_it_is_generated(models):
    lm, inputs = talker_inputs(models)
    slow_down(lm.model, 0.01)
    settings = GenerationSettings(max_new_tokens=60, sentence_end_after=None)
    arrivals = []
    start = time.perf_counter()
    for _ in stream_generate(lm.model, lm.tokenizer, inputs, settings):
        arrivals.append(time.perf_counter() - start)
    assert len(arrivals) > 10
    assert arrivals[0] < arrivals[-1] / 3  # the first words came long before the last


def test_cancel_stops_within_two_tokens_and_frees_the_worker(models):
    lm, inputs = talker_inputs(models)
    calls = slow_down(lm.model, 0.02)
    cancel = threading.Event()
    settings = GenerationSettings(max_new_tokens=400, sentence_end_after=None)
    chunks = []
    for chunk in stream_generate(lm.model, lm.tokenizer, inputs, settings, cancel=cancel):
        chunks.append(chunk)
        if len(chunks) == 5:
            cancel.set()
            passes_at_cancel = len(calls)
    assert len(calls) - passes_at_cancel <= 2
    assert len(chunks) <= 7
    assert not [t for t in threading.enumerate() if t.name == "critique-generate"]


def test_closing_the_stream_early_stops_generation(models):
    lm, inputs = talker_inputs(models)
    calls = slow_down(lm.model, 0.02)
    settings = GenerationSettings(max_new_tokens=400, sentence_end_after=None)
    stream = stream_generate(lm.model, lm.tokenizer, inputs, settings)
    next(stream)
    stream.close()  # the reader went away (switched photo, closed window)
    passes = len(calls)
    time.sleep(0.1)
    assert len(calls) <= passes + 1
    assert not [t for t in threading.enumerate() if t.name == "critique-generate"]


def test_a_stalled_model_times_out_instead_of_hanging(models):
    lm, inputs = talker_inputs(models)
    slow_down(lm.model, 1.0)
    settings = GenerationSettings(max_new_tokens=5, sentence_end_after=None,
                                  token_timeout_s=0.2)
    start = time.perf_counter()
    with pytest.raises(CritiqueError, match=r"produced nothing for 0\.2 s"):
        list(stream_generate(lm.model, lm.tokenizer, inputs, settings))
    assert time.perf_counter() - start < 3.0  # stopped after the stalled pass, not 5 of them


def test_an_error_inside_generation_reaches_the_reader(models):
    lm, inputs = talker_inputs(models)

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    lm.model.forward = broken
    with pytest.raises(CritiqueError, match="failed while writing: RuntimeError: CUDA out of"):
        list(stream_generate(lm.model, lm.tokenizer, inputs, QUICK))


def test_a_section_ends_on_a_sentence_once_past_its_budget(models):
    lm = load_language_model(models["talker"], device="cpu")
    tokenizer = lm.text_tokenizer
    full_stop = tokenizer.convert_tokens_to_ids(".")
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe the light."}])
    inputs = model_inputs(lm, prompt, None)
    original = lm.model.forward

    def full_stops_after_ten(*args, **kwargs):  # "." becomes the likeliest token later on
        out = original(*args, **kwargs)
        if kwargs["input_ids"].shape[-1] == 1 and len(calls) > 10:
            out.logits[..., full_stop] += 1e4
        calls.append(1)
        return out

    calls: list[int] = []
    lm.model.forward = full_stops_after_ten
    settings = GenerationSettings(max_new_tokens=100, sentence_end_after=5)
    text = "".join(stream_generate(lm.model, lm.tokenizer, inputs, settings))
    assert text.rstrip().endswith(".")
    assert len(calls) < 20


# --- whole critiques -------------------------------------------------------------


def test_critique_streams_every_section_in_order(models, cat):
    request = CritiqueRequest(model=str(models["causal"]), generation=QUICK, device="cpu")
    events = events_of(cat, request)
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done"
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    # every section is closed before the next opens, and text belongs to the open one
    open_section = None
    for event in events:
        if event.kind == "start":
            assert open_section is None
            open_section = event.section
        elif event.kind == "end":
            assert event.section == open_section
            open_section = None
        elif event.kind in ("text", "suggestion", "emotion"):
            assert event.section == open_section
    notices = " ".join(e.text for e in events if e.kind == "notice")
    assert "written by causal (text-only, cpu, float32)" in notices
    assert "cannot see the photo" in notices


def test_the_evaluation_cites_the_measurements(models, cat):
    request = CritiqueRequest(model=str(models["causal"]), generation=QUICK, device="cpu",
                              sections=("evaluation",))
    text = collect_text(events_of(cat, request))["evaluation"]
    assert "Measured:" in text
    thirds = cat.measurements["subject.thirds_distance"]
    assert f"{thirds:.2f}" in text
    assert "EV" in text


def test_prompts_carry_persona_facts_and_scores(models, cat):
    persona = BUILTIN_PERSONAS["introvert"]
    context = PromptContext(persona, "- The horizon tilts 3.2° clockwise.", "- the photo: 6.1",
                            "tabby (60%)", sees_photo=False)
    messages = section_messages(context, "evaluation")
    lm = load_language_model(models["causal"], device="cpu")
    prompt = render_prompt(lm, messages)
    assert persona.description in prompt
    assert "3.2° clockwise" in prompt and "tabby (60%)" in prompt and "6.1" in prompt
    assert "You cannot see the photo" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_emotion_comes_with_probabilities_and_vad(models, cat):
    request = CritiqueRequest(model=str(models["causal"]), generation=QUICK, device="cpu",
                              sections=("emotion",))
    events = events_of(cat, request)
    (reading,) = [e.data for e in events if e.kind == "emotion"]
    assert reading["category"] in EMOTIONS
    assert sum(reading["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert reading["category"] == max(reading["probabilities"], key=reading["probabilities"].get)
    assert all(0.0 <= v <= 1.0 for v in reading["vad"].values())
    text = collect_text(events)["emotion"]
    assert text.startswith(reading["category"].capitalize())


def test_answer_scoring_matches_scoring_each_answer_in_full(models):
    """The shared-prompt shortcut gives the same likelihoods as running every answer
    through the model on its own, each scored on the tokens that tell it apart."""
    lm = load_language_model(models["causal"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Which emotion?"}],
                           answer_prefix="The photo evokes")
    candidates = [f" {e}" for e in EMOTIONS]
    fast = choice_probabilities(lm, model_inputs(lm, prompt, None), candidates)
    tokenizer = lm.text_tokenizer
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answers = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
    totals = []
    for answer in answers:
        deciding = answer[: deciding_length(answer, answers)]
        ids = torch.tensor([prompt_ids + answer])
        with torch.inference_mode():
            logprobs = lm.model(input_ids=ids).logits[0].log_softmax(-1)
        start = len(prompt_ids)
        totals.append(sum(float(logprobs[start + i - 1, t]) for i, t in enumerate(deciding)))
    slow = np.exp(np.array(totals) - max(totals))
    np.testing.assert_allclose(fast, slow / slow.sum(), atol=1e-4)


@pytest.mark.parametrize("kind", ["vlm", "idefics3"])
def test_a_vision_language_model_sees_the_photo_and_rates_it(models, cat, kind):
    request = CritiqueRequest(model=str(models[kind]), generation=QUICK, device="cpu")
    events = events_of(cat, request)
    (score,) = [e.data for e in events if e.kind == "score"]
    assert sum(score["levels"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 1.0 <= score["mean"] <= 10.0
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    assert "vision-language" in " ".join(e.text for e in events if e.kind == "notice")
    assert events[-1].kind == "done"


def test_cancelling_a_critique_keeps_what_was_written(models, cat):
    request = CritiqueRequest(model=str(models["talker"]), device="cpu",
                              generation=GenerationSettings(max_new_tokens=300,
                                                            sentence_end_after=None))
    cancel = threading.Event()
    seen = []
    for event in stream_critique(cat, request, cancel):
        seen.append(event)
        if event.kind == "text":  # the first checked sentence (grounding.py) of the description
            cancel.set()
    assert seen[-1].kind == "cancelled"
    assert len(collect_text(seen)["description"]) > 0
    assert "impression" not in collect_text(seen)


# --- no model, broken model ------------------------------------------------------


def test_without_a_language_model_the_rules_still_critique(cat):
    events = events_of(cat, CritiqueRequest())
    notices = " ".join(e.text for e in events if e.kind == "notice")
    assert "no language model is installed" in notices
    assert "critique models pull smollm2-135m-instruct-gguf" in notices
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    texts = collect_text(events)
    assert "Composition:" in texts["evaluation"]
    assert texts["suggestions"].strip()
    assert events[-1].kind == "done"


def test_a_model_that_will_not_load_falls_back_to_the_rules(tmp_path, cat):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    events = events_of(cat, CritiqueRequest(model=str(tmp_path)))
    notices = " ".join(e.text for e in events if e.kind == "notice")
    assert "could not be loaded" in notices and "using the rule engine" in notices
    assert events[-1].kind == "done"


def test_store_models_are_found_and_a_vlm_is_preferred(models, cat):
    store = ModelStore()
    install(store, models["causal"], "tiny-text", "text-lm")
    events = events_of(cat, CritiqueRequest(generation=QUICK, sections=("description",)),
                       store=store)
    assert "written by tiny-text" in events[0].text
    install(store, models["vlm"], "tiny-vlm", "critic")
    events = events_of(cat, CritiqueRequest(generation=QUICK, sections=("description",)),
                       store=store)
    assert "written by tiny-vlm" in events[0].text


# --- personas and adapters -------------------------------------------------------


def test_personas_builtin_user_defined_and_ad_hoc():
    assert {"introvert", "extrovert", "art-experienced", "novice"} <= set(BUILTIN_PERSONAS)
    assert resolve_persona(None).name == "critic"
    save_persona("street", "a street photographer who loves grain and candid moments")
    assert resolve_persona("Street").description.startswith("a street photographer")
    ad_hoc = resolve_persona("a child seeing a photo for the first time")
    assert ad_hoc.name == "custom"
    with pytest.raises(CritiqueError, match="unknown persona 'nobody'"):
        resolve_persona("nobody")
    with pytest.raises(CritiqueError, match="built-in"):
        save_persona("novice", "someone else")
    delete_persona("street")
    assert user_personas() == {}


@pytest.fixture
def novice_store(models) -> ModelStore:
    """A store with the tiny text model and a LoRA adapter trained for 'novice' on it."""
    store = ModelStore()
    install(store, models["causal"], "tiny-text", "text-lm")
    install(store, models["causal-adapter"], "tiny-novice", "critic-adapter",
            base="tiny-text", persona="novice")
    return store


def logits_of(lm) -> torch.Tensor:
    with torch.inference_mode():
        return lm.model(input_ids=torch.tensor([[5, 6, 7, 8]])).logits


def test_a_persona_adapter_is_applied_and_changes_the_model(novice_store, cat):
    store = novice_store
    request = CritiqueRequest(generation=QUICK, sections=("description",),
                              persona=BUILTIN_PERSONAS["novice"])
    events = events_of(cat, request, store=store)
    notices = " ".join(e.text for e in events if e.kind == "notice")
    assert "persona adapter 'tiny-novice' applied for novice" in notices
    assert "+ adapter" in notices

    base_logits = logits_of(load_language_model(store.require("tiny-text"), device="cpu"))
    adapted = load_language_model(store.require("tiny-text"), device="cpu",
                                  adapter=store.require("tiny-novice"))
    assert not torch.allclose(base_logits, logits_of(adapted), atol=1e-4)


def test_other_personas_do_not_get_that_adapter(novice_store, cat):
    store = novice_store
    request = CritiqueRequest(generation=QUICK, sections=("description",),
                              persona=BUILTIN_PERSONAS["introvert"])
    notices = " ".join(e.text for e in events_of(cat, request, store=store)
                       if e.kind == "notice")
    assert "adapter" not in notices


def test_a_vlm_adapter_loads_onto_the_vlm(models):
    before = logits_of(load_language_model(models["vlm"], device="cpu"))
    adapted = load_language_model(models["vlm"], device="cpu", adapter=models["vlm-adapter"])
    assert not torch.allclose(before, logits_of(adapted), atol=1e-4)


def test_an_adapter_for_another_model_is_a_clear_error(models):
    with pytest.raises(ModelError, match="does not fit this model"):
        load_language_model(models["causal"], device="cpu", adapter=models["vlm-adapter"])
    with pytest.raises(ModelError, match="not a LoRA adapter"):
        load_language_model(models["causal"], device="cpu", adapter=models["vlm"])


def test_sections_are_validated():
    assert parse_sections(["suggestions,description"]) == ("description", "suggestions")
    assert parse_sections(None) == SECTION_NAMES
    with pytest.raises(CritiqueError, match="unknown section poetry"):
        parse_sections(["poetry"])
