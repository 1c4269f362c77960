"""Turning chat messages into model inputs, for text-only and vision-language models."""

from __future__ import annotations

import numpy as np

from critique_app.core.critic.loading import VLM, LanguageModel
from critique_app.core.critic.request import TILINGS


def render_prompt(lm: LanguageModel, messages: list[dict], *, answer_prefix: str = "") -> str:
    """The prompt text, ending where the assistant's answer starts (plus ``answer_prefix``)."""
    if lm.kind == VLM:
        messages = with_image(messages)
    template_owner = lm.tokenizer if getattr(lm.tokenizer, "chat_template", None) else \
        lm.text_tokenizer
    if getattr(template_owner, "chat_template", None):
        prompt = template_owner.apply_chat_template(messages, add_generation_prompt=True,
                                                    tokenize=False)
    else:  # a base model with no chat template: a plain transcript
        prompt = "".join(f"{m['role'].capitalize()}: {_text_of(m)}\n\n" for m in messages)
        prompt += "Assistant:"
    return join_answer(prompt, answer_prefix)


def join_answer(prompt: str, answer_prefix: str) -> str:
    """The prompt followed by the start of the answer, spaced as the model was trained.

    SmolVLM's template ends with ``Assistant:`` and its training answers follow
    after a space (``Assistant: The photo ...``); ChatML-style templates end with a
    newline. Without the space the prefix is text the model never saw, and every
    score read after it is skewed.
    """
    if answer_prefix and prompt and not prompt[-1].isspace() and \
            not answer_prefix[0].isspace():
        return f"{prompt} {answer_prefix}"
    return prompt + answer_prefix


PIXEL_KEYS = ("pixel_values", "pixel_attention_mask", "image_sizes", "image_grid_thw")


def image_options(lm: LanguageModel, tiling: str = "auto") -> dict:
    """How the processor cuts the photo into views for the vision encoder.

    SmolVLM's processor splits a photo into 512 px tiles plus a global view by
    default: 13 views (832 image tokens) for a 1280 px photo, minutes of vision
    encoding on a CPU. ``auto`` uses one view on a CPU and the processor's own
    tiling on a GPU, where the detail pays for itself; ``one`` and ``full`` force
    either. Processors without tiling ignore this.
    """
    if tiling not in TILINGS:
        raise ValueError(f"unknown tiling '{tiling}'; choose {', '.join(TILINGS)}")
    image_processor = getattr(lm.tokenizer, "image_processor", None)
    if getattr(image_processor, "do_image_splitting", None) is None:
        return {}
    split = tiling == "full" or (tiling == "auto" and lm.device != "cpu")
    return {"do_image_splitting": split}


def model_inputs(lm: LanguageModel, prompt: str, image: np.ndarray | None, *,
                 tiling: str = "auto") -> dict:
    """Tokenised inputs on the model's device; the photo goes in only for a VLM."""
    if lm.kind == VLM:
        if image is None:
            raise ValueError("a vision-language model needs the photo")
        inputs = lm.tokenizer(images=[to_pil(image)], text=prompt, return_tensors="pt",
                              **image_options(lm, tiling))
    else:
        inputs = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    inputs = dict(inputs)
    dtype = next(lm.model.parameters()).dtype
    for key, value in inputs.items():
        if hasattr(value, "to"):
            is_float = value.is_floating_point()
            inputs[key] = value.to(lm.device, dtype=dtype) if is_float else value.to(lm.device)
    return inputs


class PhotoPrompts:
    """Inputs for many prompts about one photo, sharing one set of pixel tensors.

    The processor still lays out each prompt's image tokens, but every prompt
    after the first gets the first prompt's pixel tensors (the same photo with the
    same settings gives the same values), so the model's vision cache (see
    :mod:`critique_app.core.critic.vision_cache`) recognises them and the photo is
    encoded once per critique.
    """

    def __init__(self, lm: LanguageModel, pixels: np.ndarray, *, tiling: str = "auto"):
        self.lm, self.pixels, self.tiling = lm, pixels, tiling
        self._shared: dict | None = None

    def inputs(self, prompt: str) -> dict:
        inputs = model_inputs(self.lm, prompt, self.pixels, tiling=self.tiling)
        pixel_parts = {k: v for k, v in inputs.items() if k in PIXEL_KEYS}
        if self._shared is None:
            self._shared = pixel_parts
        elif all(k in self._shared and self._shared[k].shape == v.shape
                 for k, v in pixel_parts.items()):
            inputs.update(self._shared)
        return inputs


def to_pil(pixels: np.ndarray):
    from PIL import Image

    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))


def with_image(messages: list[dict]) -> list[dict]:
    """One user turn holding the photo then the text; the system text is folded into it,
    since not every VLM chat template has a system role."""
    system = " ".join(_text_of(m) for m in messages if m["role"] == "system")
    out = []
    for message in messages:
        if message["role"] == "system":
            continue
        text = _text_of(message)
        if message["role"] == "user" and not out:
            content = [{"type": "image"}, {"type": "text", "text": f"{system}\n\n{text}".strip()}]
        else:
            content = [{"type": "text", "text": text}]
        out.append({"role": message["role"], "content": content})
    return out


def _text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if part.get("type") == "text")
