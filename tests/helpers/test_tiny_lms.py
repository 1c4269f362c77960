"""The tiny language models of tiny_lms load, chat and generate via the Auto classes."""

from __future__ import annotations

import json
import time

import pytest
import torch
from peft import PeftModel
from PIL import Image
from transformers import (
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    Idefics3ForConditionalGeneration,
    LlamaForCausalLM,
    LlavaForConditionalGeneration,
)

from tests.helpers.photos import PHOTOS
from tests.helpers.tiny_lms import (
    EOS,
    IDEFICS3_IMAGE_SEQ_LEN,
    IM_END,
    IM_START,
    IMAGE_TOKEN,
    VLM_IMAGE_TOKENS,
    save_tiny_causal_lm,
    save_tiny_idefics3,
    save_tiny_lora_adapter,
    save_tiny_vlm,
    train_tokenizer,
)

# peft 0.21 asks transformers 5 for a deprecated attribute when it wraps a model.
pytestmark = [pytest.mark.slow,  # builds and runs tiny language models
              pytest.mark.filterwarnings(
                  "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")]

CHAT = [
    {"role": "system", "content": "You are a photography critic."},
    {"role": "user", "content": "Is the light good?"},
]
IMAGE_CHAT = [
    {"role": "system", "content": [{"type": "text", "text": "You are a photography critic."}]},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Critique this."}]},
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-lms")


@pytest.fixture(scope="module")
def causal_lm(tiny_dir):
    return save_tiny_causal_lm(tiny_dir / "causal")


@pytest.fixture(scope="module")
def vlm(tiny_dir):
    return save_tiny_vlm(tiny_dir / "llava")


@pytest.fixture(scope="module")
def idefics3(tiny_dir):
    return save_tiny_idefics3(tiny_dir / "idefics3")


@pytest.fixture(scope="module")
def photo():
    with Image.open(PHOTOS["chelsea"]) as image:
        return image.convert("RGB")


def test_tokenizer_is_small_bpe_with_chatml_specials(tmp_path):
    tokenizer = train_tokenizer(tmp_path, extra_special=[IMAGE_TOKEN])
    assert 500 <= len(tokenizer) <= 1000
    assert tokenizer.eos_token == tokenizer.pad_token == EOS
    for token in (IM_START, IM_END, EOS, IMAGE_TOKEN):
        assert tokenizer.tokenize(token) == [token]
    text = "The light is excellent, the colour is poor: 7/10."
    assert tokenizer.decode(tokenizer(text).input_ids) == text
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(text).input_ids == tokenizer(text).input_ids
    assert reloaded.chat_template == tokenizer.chat_template


def test_chat_template_renders_roles_and_generation_prompt():
    tokenizer = train_tokenizer()
    prompt = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert prompt == (f"{IM_START}system\nYou are a photography critic.{IM_END}\n"
                      f"{IM_START}user\nIs the light good?{IM_END}\n{IM_START}assistant\n")
    plain = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert not plain.endswith(f"{IM_START}assistant\n")
    # A text-only tokenizer drops image parts; one with <image> renders them.
    assert IMAGE_TOKEN not in tokenizer.apply_chat_template(IMAGE_CHAT, tokenize=False)
    with_image = train_tokenizer(extra_special=[IMAGE_TOKEN])
    rendered = with_image.apply_chat_template(IMAGE_CHAT, tokenize=False)
    assert f"{IM_START}user\n{IMAGE_TOKEN}Critique this.{IM_END}\n" in rendered


def test_causal_lm_loads_and_generates(causal_lm):
    tokenizer = AutoTokenizer.from_pretrained(causal_lm)
    model = AutoModelForCausalLM.from_pretrained(causal_lm)
    assert isinstance(model, LlamaForCausalLM)
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert tokenizer.eos_token_id in model.generation_config.eos_token_id
    prompt = tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=8)
    assert output.shape[1] > inputs.input_ids.shape[1]
    assert isinstance(tokenizer.decode(output[0, inputs.input_ids.shape[1]:]), str)


def test_llava_loads_and_generates_from_a_photo(vlm, photo):
    processor = AutoProcessor.from_pretrained(vlm)
    model = AutoModelForImageTextToText.from_pretrained(vlm)
    assert isinstance(model, LlavaForConditionalGeneration)
    prompt = processor.apply_chat_template(IMAGE_CHAT, add_generation_prompt=True)
    assert prompt.count(IMAGE_TOKEN) == 1 and prompt.endswith(f"{IM_START}assistant\n")
    inputs = processor(images=[photo], text=prompt, return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    assert image_id == model.config.image_token_id
    assert int((inputs.input_ids == image_id).sum()) == VLM_IMAGE_TOKENS
    output = model.generate(**inputs, max_new_tokens=8)
    assert output.shape[1] > inputs.input_ids.shape[1]
    reply = processor.decode(output[0, inputs.input_ids.shape[1]:], skip_special_tokens=True)
    assert IMAGE_TOKEN not in reply


def test_idefics3_loads_and_generates_from_a_photo(idefics3, photo):
    processor = AutoProcessor.from_pretrained(idefics3)
    model = AutoModelForImageTextToText.from_pretrained(idefics3)
    assert isinstance(model, Idefics3ForConditionalGeneration)
    prompt = processor.apply_chat_template(IMAGE_CHAT, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>System: You are a photography critic.")
    assert "User:<image>Critique this.<end_of_utterance>\n" in prompt
    assert prompt.endswith("Assistant:")
    inputs = processor(images=[photo], text=prompt, return_tensors="pt")
    tiles = inputs.pixel_values.shape[1]  # 2 x 2 crops and the global view
    assert tiles == 5
    image_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    assert int((inputs.input_ids == image_id).sum()) == tiles * IDEFICS3_IMAGE_SEQ_LEN
    output = model.generate(**inputs, max_new_tokens=8)
    assert output.shape[1] > inputs.input_ids.shape[1]


def _logits(model, inputs) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


@pytest.mark.parametrize("base", ["causal_lm", "vlm", "idefics3"])
def test_lora_adapter_changes_the_language_model_only(base, request, tmp_path, photo):
    folder = request.getfixturevalue(base)
    kind = "causal" if base == "causal_lm" else "vlm"
    adapter = save_tiny_lora_adapter(folder, tmp_path / "adapter", kind=kind)
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8
    if kind == "causal":
        model = AutoModelForCausalLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        inputs = tokenizer("The light is soft.", return_tensors="pt")
    else:
        model = AutoModelForImageTextToText.from_pretrained(folder)
        processor = AutoProcessor.from_pretrained(folder)
        prompt = processor.apply_chat_template(IMAGE_CHAT, add_generation_prompt=True)
        inputs = processor(images=[photo], text=prompt, return_tensors="pt")
    before = _logits(model, inputs)
    tuned = PeftModel.from_pretrained(model, adapter).eval()
    after = _logits(tuned, inputs)
    assert before.shape == after.shape
    assert (before - after).abs().max() > 1e-3
    wrapped = [name for name, module in tuned.named_modules() if hasattr(module, "lora_A")]
    assert wrapped and all(name.endswith(("q_proj", "v_proj")) for name in wrapped)
    assert not any("vision" in name for name in wrapped)


def test_adapter_kind_is_checked(causal_lm, tmp_path):
    with pytest.raises(ValueError, match="kind"):
        save_tiny_lora_adapter(causal_lm, tmp_path / "adapter", kind="seq2seq")


@pytest.mark.parametrize("factory", [save_tiny_causal_lm, save_tiny_vlm, save_tiny_idefics3])
def test_builds_are_fast(factory, tmp_path):
    start = time.perf_counter()
    factory(tmp_path / "model", seed=3)
    assert time.perf_counter() - start < 2.0
