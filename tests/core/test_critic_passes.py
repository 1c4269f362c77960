"""The critic's model passes with tiny random models: the photo encoded once, Stop
inside a pass, choice scoring that length cannot sway, and every model failure
(at load, while writing, while rating) falling back instead of aborting."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch

from critique_app.core.critic import vlm_score as vlm_score_module
from critique_app.core.critic.chat import PhotoPrompts, model_inputs, render_prompt
from critique_app.core.critic.choices import choice_probabilities
from critique_app.core.critic.events import collect_text
from critique_app.core.critic.generation import GenerationSettings, stream_generate
from critique_app.core.critic.loading import load_language_model
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.sections import SECTION_NAMES
from critique_app.core.critic.service import stream_critique
from critique_app.core.util.errors import Cancelled, CritiqueError

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("fresh_models")]
QUICK = GenerationSettings(max_new_tokens=8, sentence_end_after=None)


@pytest.fixture(scope="module")
def models(tiny_language_models) -> dict[str, Path]:
    return tiny_language_models


def notices_of(events) -> str:
    return " | ".join(e.text for e in events if e.kind == "notice")


# --- the photo is encoded once -----------------------------------------------------


@pytest.mark.parametrize("kind", ["vlm", "idefics3"])
def test_a_whole_critique_encodes_the_photo_once(models, cat, kind):
    request = CritiqueRequest(model=str(models[kind]), device="cpu", generation=QUICK)
    events = list(stream_critique(cat, request))
    lm = load_language_model(models[kind], device="cpu")
    assert events[-1].kind == "done" and "failed" not in notices_of(events)
    assert lm.model.model.get_image_features.feature_cache.computed == 1


def test_reused_features_give_the_same_answer_as_encoding_afresh(models, cat):
    lm = load_language_model(models["idefics3"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe the photo."}])
    photo = PhotoPrompts(lm, cat.photo.pixels)
    photo.inputs(prompt)  # the first prompt encodes; the second reuses
    shared = photo.inputs(prompt)
    fresh = model_inputs(lm, prompt, cat.photo.pixels)
    cache = lm.model.model.get_image_features.feature_cache
    with torch.inference_mode():
        reused = lm.model.generate(**shared, max_new_tokens=6, do_sample=False)
        computed_before = cache.computed
        again = lm.model.generate(**fresh, max_new_tokens=6, do_sample=False)
    assert cache.computed == computed_before + 1  # new tensors: encoded again
    assert torch.equal(reused, again)


# --- choice scoring ------------------------------------------------------------------


def test_an_answers_extra_words_cannot_change_its_chance(models):
    """' something' and ' something else' are the same choice once ' something' is
    picked; averaging per-token log-probabilities let the longer one win."""
    lm = load_language_model(models["causal"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Which emotion?"}],
                           answer_prefix="The photo evokes")
    inputs = model_inputs(lm, prompt, None)
    short = choice_probabilities(lm, inputs, [" fear", " something"])
    inputs = model_inputs(lm, prompt, None)  # the scoring extends the cache it is given
    long = choice_probabilities(lm, inputs, [" fear", " something else entirely, surely"])
    assert long == pytest.approx(short, abs=1e-6)


def test_the_prompt_pass_keeps_only_the_last_positions_logits(models):
    lm = load_language_model(models["causal"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Which emotion? " * 20}],
                           answer_prefix="The photo evokes")
    inputs = model_inputs(lm, prompt, None)
    shapes = []
    handle = lm.model.register_forward_hook(lambda m, a, out: shapes.append(out.logits.shape))
    try:
        choice_probabilities(lm, inputs, [" fear", " awe"])
    finally:
        handle.remove()
    assert inputs["input_ids"].shape[-1] > 50
    assert shapes[0][1] == 1  # not one row of vocabulary logits per prompt token


# --- Stop inside a pass ----------------------------------------------------------------


def slow_layers(model, seconds: float, on_first=None) -> list[float]:
    """Every decoder layer of the language model sleeps; returns when each started.
    ``on_first`` runs when the first layer starts (the pass is under way)."""
    started: list[float] = []

    def hook(module, args):
        started.append(time.perf_counter())
        if len(started) == 1 and on_first:
            on_first()
        time.sleep(seconds)

    for layer in model.get_decoder().layers:
        layer.register_forward_pre_hook(hook)
    return started


def test_stop_during_the_models_rating_stops_inside_the_pass(models, cat):
    lm = load_language_model(models["vlm"], device="cpu")
    cancel = threading.Event()
    stop_pressed: list[float] = []

    def press_stop_soon():
        def press():
            stop_pressed.append(time.perf_counter())
            cancel.set()
        threading.Timer(0.1, press).start()

    # The rating's prompt pass runs two decoder layers of 0.3 s each; Stop comes
    # 0.1 s into the first.
    started = slow_layers(lm.model, 0.3, on_first=press_stop_soon)
    request = CritiqueRequest(model=str(models["vlm"]), device="cpu", generation=QUICK)
    events = list(stream_critique(cat, request, cancel))
    assert events[-1].kind == "cancelled"
    assert not [e for e in events if e.kind in ("score", "start")]
    assert started[0] < stop_pressed[0]  # Stop came inside the pass ...
    assert [t for t in started if t > stop_pressed[0]] == []  # ... and no layer ran after


def test_stop_during_the_emotion_choice_keeps_what_was_written(models, cat):
    lm = load_language_model(models["causal"], device="cpu")
    cancel = threading.Event()
    real = choice_probabilities

    def stop_in_the_pass(lm_, inputs, candidates, cancel=None):
        cancel.set()  # as if Stop was pressed once the pass had begun
        return real(lm_, inputs, candidates, cancel=cancel)

    import critique_app.core.critic.emotion as emotion_module

    original = emotion_module.choice_probabilities
    emotion_module.choice_probabilities = stop_in_the_pass
    try:
        request = CritiqueRequest(model=str(models["causal"]), device="cpu", generation=QUICK,
                                  sections=("description", "emotion", "suggestions"))
        events = list(stream_critique(cat, request, cancel))
    finally:
        emotion_module.choice_probabilities = original
    assert lm is load_language_model(models["causal"], device="cpu")
    assert events[-1].kind == "cancelled"
    assert collect_text(events)["description"]  # written before Stop, still there
    assert not [e for e in events if e.kind == "emotion"]
    assert "suggestions" not in [e.section for e in events if e.kind == "start"]


def test_cancelled_choice_raises_cancelled(models):
    lm = load_language_model(models["causal"], device="cpu")
    inputs = model_inputs(lm, render_prompt(lm, [{"role": "user", "content": "Hi"}]), None)
    stopped = threading.Event()
    stopped.set()
    with pytest.raises(Cancelled):
        choice_probabilities(lm, inputs, [" fear", " awe"], cancel=stopped)


# --- the first text's timeout is sized from the prompt -----------------------------------


def test_a_long_first_pass_is_waited_for_but_a_stall_after_it_is_not(models, monkeypatch):
    """The prompt's pass may take far longer than the gap between two words: the first
    text gets the prompt's own budget, the rest the stall limit."""
    from critique_app.core.critic import generation

    lm = load_language_model(models["talker"], device="cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe the light. " * 30}])
    inputs = model_inputs(lm, prompt, None)
    settings = GenerationSettings(max_new_tokens=6, min_new_tokens=6, sentence_end_after=None,
                                  token_timeout_s=0.3)
    # Pretend this machine is slow enough that the prompt's pass deserves ~2 s.
    flops = 2.0 * generation.parameter_count(lm.model) * inputs["input_ids"].shape[-1]
    monkeypatch.setitem(generation.SLOW_MACHINE_FLOPS, "cpu", flops / 2.0)
    assert generation.first_text_timeout(lm.model, inputs, settings) == pytest.approx(2.3)
    original = lm.model.forward
    passes = []

    def prefill_takes_a_second(*args, **kwargs):
        passes.append(1)
        if len(passes) == 1:
            time.sleep(1.0)  # over the 0.3 s stall limit, inside the prompt's budget
        return original(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", prefill_takes_a_second)
    text = "".join(stream_generate(lm.model, lm.tokenizer, inputs, settings))
    assert text.strip() and len(passes) >= 6

    passes.clear()

    def stalls_after_the_first_words(*args, **kwargs):
        passes.append(1)
        if len(passes) == 12:
            time.sleep(1.5)  # past the first words, a 1.5 s silence is a stall
        return original(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", stalls_after_the_first_words)
    settings = GenerationSettings(max_new_tokens=40, min_new_tokens=40,
                                  sentence_end_after=None, token_timeout_s=0.3)
    with pytest.raises(CritiqueError, match="waiting for more text"):
        list(stream_generate(lm.model, lm.tokenizer, inputs, settings))


# --- failures fall back ------------------------------------------------------------------


def test_a_truncated_model_file_falls_back_to_the_rules_naming_model_and_cause(models, cat,
                                                                                tmp_path):
    damaged = tmp_path / "damaged-vlm"
    shutil.copytree(models["vlm"], damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    events = list(stream_critique(cat, CritiqueRequest(model=str(damaged), device="cpu")))
    notices = notices_of(events)
    assert "'damaged-vlm' could not be loaded" in notices
    assert "SafetensorError" in notices or "incomplete" in notices.lower(), notices
    assert "using the rule engine" in notices
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    assert events[-1].kind == "done"


def test_a_missing_tokenizer_falls_back_to_the_rules(models, cat, tmp_path):
    damaged = tmp_path / "no-tokenizer"
    shutil.copytree(models["causal"], damaged)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (damaged / name).unlink(missing_ok=True)
    events = list(stream_critique(cat, CritiqueRequest(model=str(damaged), device="cpu")))
    assert "'no-tokenizer' could not be loaded" in notices_of(events)
    assert events[-1].kind == "done"


def test_a_model_failing_mid_critique_hands_the_rest_to_the_rules(models, cat, monkeypatch):
    lm = load_language_model(models["causal"], device="cpu")
    calls = []

    def out_of_memory(*args, **kwargs):
        calls.append(1)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(lm.model, "generate", out_of_memory)
    request = CritiqueRequest(model=str(models["causal"]), device="cpu", generation=QUICK)
    events = list(stream_critique(cat, request))
    notices = notices_of(events)
    assert f"{lm.name} failed while writing (OutOfMemoryError: CUDA out of memory" in notices
    assert "the rule engine wrote the rest" in notices
    starts = [e.section for e in events if e.kind == "start"]
    ends = [e.section for e in events if e.kind == "end"]
    # the rules write every section it had not finished, the failed one included
    assert starts == ["description", *SECTION_NAMES] and ends == starts
    texts = collect_text(events)
    assert "[the model failed here; see the notice]" in texts["description"]
    assert "Composition:" in texts["evaluation"] and texts["suggestions"].strip()
    assert events[-1].kind == "done" and len(calls) == 1


def test_the_models_rating_failing_never_stops_the_critique(models, cat, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch in the rating pass")

    monkeypatch.setattr(vlm_score_module, "choice_probabilities", broken)
    request = CritiqueRequest(model=str(models["vlm"]), device="cpu", generation=QUICK,
                              sections=("description",))
    events = list(stream_critique(cat, request))
    notices = notices_of(events)
    assert "could not rate the photo (RuntimeError: shape mismatch" in notices
    assert not [e for e in events if e.kind == "score"]
    assert collect_text(events)["description"].strip()
    assert "rule engine" not in notices and events[-1].kind == "done"


# --- offline without a process-wide switch ---------------------------------------------


def test_loading_a_model_does_not_switch_the_process_offline(models, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    load_language_model(models["vlm"], device="cpu")
    assert "HF_HUB_OFFLINE" not in os.environ
    assert "TRANSFORMERS_OFFLINE" not in os.environ
