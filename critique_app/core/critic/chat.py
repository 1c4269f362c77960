"""Turning chat messages into model inputs, for text-only and vision-language models."""

from __future__ import annotations

import numpy as np

from critique_app.core.critic.loading import VLM, LanguageModel


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
    return prompt + answer_prefix


def model_inputs(lm: LanguageModel, prompt: str, image: np.ndarray | None) -> dict:
    """Tokenised inputs on the model's device; the photo goes in only for a VLM."""
    if lm.kind == VLM:
        if image is None:
            raise ValueError("a vision-language model needs the photo")
        inputs = lm.tokenizer(images=[to_pil(image)], text=prompt, return_tensors="pt")
    else:
        inputs = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    inputs = dict(inputs)
    dtype = next(lm.model.parameters()).dtype
    for key, value in inputs.items():
        if hasattr(value, "to"):
            is_float = value.is_floating_point()
            inputs[key] = value.to(lm.device, dtype=dtype) if is_float else value.to(lm.device)
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
