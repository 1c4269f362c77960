"""SmolVLM-256M at its real size (random weights, the real processor, template and
tokenizer): how the photo is tiled, how the answer is joined to the template, and one
whole critique on a 1280 px photo on the CPU, as a user with the real weights runs it.

With the processor's defaults a 1280 px photo became 13 views of 512 px and each of
the ~7 passes encoded it again: minutes on a CPU, past the first-text timeout. A
critique that would time out or fall back to the rules fails here, not for a user.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic.chat import image_options, render_prompt, to_pil
from critique_app.core.critic.emotion import ANSWER_PREFIX
from critique_app.core.critic.events import collect_text
from critique_app.core.critic.generation import GenerationSettings
from critique_app.core.critic.loading import VLM, LanguageModel, load_language_model, unload_all
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.sections import SECTION_NAMES
from critique_app.core.critic.service import stream_critique
from tests.helpers.photos import PHOTOS, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from real_size_vlm import REAL_CONFIGS, build_real_smolvlm

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.skipif(not (REAL_CONFIGS / "config.json").is_file(),
                                 reason="needs ../shared/real-configs beside the clone")]


@pytest.fixture(scope="module")
def processor():
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(REAL_CONFIGS, local_files_only=True)


@pytest.fixture(scope="module")
def photo_1280(tmp_path_factory) -> Path:
    """A real photo at 1280 x 854, the size the app analyses a big photo at."""
    path = tmp_path_factory.mktemp("photo") / "china-1280.jpg"
    with Image.open(PHOTOS["china"]) as image:
        image.convert("RGB").resize((1280, 854), Image.Resampling.LANCZOS).save(path,
                                                                                 quality=92)
    return path


def shell(processor, device: str) -> LanguageModel:
    """The processor as the app holds it, without the weights (tiling needs no model)."""
    return LanguageModel("smolvlm-256m-instruct", VLM, None, processor, device, "float32")


def image_token_count(processor, device: str, photo: Path) -> tuple[int, int]:
    """(views, <image> tokens) the processor makes of ``photo`` for ``device``."""
    lm = shell(processor, device)
    with Image.open(photo) as image:
        pil = image.convert("RGB")
    prompt = render_prompt(lm, [{"role": "user", "content": "Describe."}])
    inputs = processor(images=[pil], text=prompt, return_tensors="pt", **image_options(lm))
    views = inputs["pixel_values"].shape[1]
    image_tokens = int((inputs["input_ids"] == processor.image_token_id).sum())
    return views, image_tokens


def test_one_512px_view_on_a_cpu_and_the_processors_tiles_on_a_gpu(processor, photo_1280):
    assert image_token_count(processor, "cpu", photo_1280) == (1, 64)
    assert image_token_count(processor, "cuda", photo_1280) == (13, 832)


def test_the_answer_prefix_follows_assistant_colon_with_a_space(processor):
    """SmolVLM was trained on 'Assistant: text'; 'Assistant:The' is text it never saw."""
    lm = shell(processor, "cpu")
    prompt = render_prompt(lm, [{"role": "user", "content": "Which emotion?"}],
                           answer_prefix=ANSWER_PREFIX)
    assert prompt.endswith(f"<end_of_utterance>\nAssistant: {ANSWER_PREFIX}")
    plain = render_prompt(lm, [{"role": "user", "content": "Which emotion?"}])
    assert plain.endswith("\nAssistant:")  # generation starts where the template ends


@pytest.mark.slow
def test_a_whole_critique_at_real_size_on_the_cpu(tmp_path_factory, photo_1280):
    folder = build_real_smolvlm(tmp_path_factory.mktemp("real") / "smolvlm-256m")
    analysis = analyze(photo_1280, depth=False)
    assert max(analysis.photo.pixels.shape[:2]) == 1280
    request = CritiqueRequest(model=str(folder), device="cpu",
                              generation=GenerationSettings(max_new_tokens=6,
                                                            sentence_end_after=None))
    try:
        events = list(stream_critique(analysis, request))
        lm = load_language_model(folder, device="cpu")
        encoder = lm.model.model.get_image_features.feature_cache
    finally:
        unload_all()
    notices = " | ".join(e.text for e in events if e.kind == "notice")
    assert "written by" in notices and "rule engine" not in notices, notices
    assert "failed" not in notices and "could not" not in notices, notices
    assert events[-1].kind == "done"
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    texts = collect_text(events)
    assert all(texts[section].strip() for section in SECTION_NAMES), texts
    assert [e.kind for e in events].count("score") == 1  # the model's own rating
    assert [e.kind for e in events].count("emotion") == 1
    # Seven passes (rating, four sections, emotion choice and its reason), one encode
    # of one 512 px view: 64 image tokens of 576 features.
    assert encoder.computed == 1
    features = encoder.value.pooler_output
    features = torch.cat(list(features)) if isinstance(features, list | tuple) else features
    assert features.shape[-2:] == (64, 576) and features.numel() == 64 * 576
    assert to_pil(analysis.photo.pixels).size == (1280, 854)
