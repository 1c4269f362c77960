"""Streaming text out of ``model.generate`` on a worker thread.

``generate`` runs on its own thread and feeds a ``TextIteratorStreamer``;
the caller iterates the text as it arrives. Three things make it safe to use
from a GUI or a terminal:

- a stopping criterion watches an Event, so cancelling stops generation
  after the token being computed (and closing the iterator early does too),
  and layer hooks stop a long pass (the prompt, the photo) in its middle;
- the streamer has a timeout, sized for the first text from the prompt's own
  cost (:func:`first_text_timeout`), and an exception inside ``generate`` ends
  the stream and is re-raised in the caller, so a failure never hangs the reader;
- the worker thread is always joined before the iterator finishes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from critique_app.core.critic.interrupt import interruptible
from critique_app.core.util.errors import Cancelled, CritiqueError
from critique_app.core.util.hf import import_transformers

DEFAULT_TOKEN_TIMEOUT_S = 120.0  # between two pieces of text: past this, it has stalled
# Floating-point operations per second that even a slow machine sustains through a
# transformer pass (2 cores here do ~70 G on a CPU): the first text's timeout allows
# for the prompt's pass at this pace, so a long prompt on a slow CPU is not called a stall.
SLOW_MACHINE_FLOPS = {"cpu": 1e10, "cuda": 1e12}
PIXELS_PER_VISION_TOKEN = 16 * 16  # a ViT patch; close enough for a timeout


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 150  # hard cap per section
    min_new_tokens: int = 0  # > 0 ignores end tokens until then (benchmarks)
    sentence_end_after: int | None = 70  # past this many tokens, stop at the end of a sentence
    temperature: float = 0.0  # 0: greedy (deterministic)
    top_p: float = 0.9
    repetition_penalty: float = 1.15
    no_repeat_ngram_size: int = 4  # small models loop on phrases otherwise
    token_timeout_s: float = DEFAULT_TOKEN_TIMEOUT_S

    def generate_kwargs(self) -> dict:
        kwargs: dict = {"max_new_tokens": self.max_new_tokens,
                        "repetition_penalty": self.repetition_penalty,
                        "no_repeat_ngram_size": self.no_repeat_ngram_size}
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


def stream_generate(model, tokenizer, inputs: dict, settings: GenerationSettings, *,
                    cancel: threading.Event | None = None) -> Iterator[str]:
    """Yield decoded text chunks as ``model.generate(**inputs)`` produces them.

    Stops early when ``cancel`` is set (the text so far has been yielded).
    Raises :class:`CritiqueError` when generation fails or stalls.
    """
    transformers = import_transformers()
    first_timeout = first_text_timeout(model, inputs, settings)
    streamer = transformers.TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=first_timeout)
    stop = threading.Event()  # set when the reader goes away, or on timeout
    criteria = transformers.StoppingCriteriaList([_EventStop(cancel, stop)])
    if settings.sentence_end_after is not None:
        prompt_length = inputs["input_ids"].shape[-1]
        criteria.append(_SentenceEnd(tokenizer, prompt_length + settings.sentence_end_after))
    failures: list[BaseException] = []

    def run() -> None:
        import torch

        try:
            with torch.inference_mode(), interruptible(model, cancel, stop):
                model.generate(**inputs, **settings.generate_kwargs(), streamer=streamer,
                               stopping_criteria=criteria, pad_token_id=_pad_id(tokenizer))
        except BaseException as error:  # reported to the reader, never lost on the thread
            failures.append(error)
            streamer.end()

    worker = threading.Thread(target=run, name="critique-generate", daemon=True)
    worker.start()
    waited_for = "its first text"
    try:
        for chunk in streamer:
            if chunk:
                streamer.timeout = settings.token_timeout_s  # past the prompt: a stall limit
                waited_for = "more text"
                yield chunk
    except queue.Empty:
        stop.set()
        raise CritiqueError(f"the language model produced nothing for {streamer.timeout:.3g} s "
                            f"(waiting for {waited_for}); generation was stopped") from None
    finally:
        stop.set()
        worker.join()
    if failures and isinstance(failures[0], Cancelled):
        return  # stopped in the middle of a pass: what was written stays
    if failures:
        error = failures[0]
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        raise CritiqueError(f"the language model failed while writing: {message}") from error


def first_text_timeout(model, inputs: dict, settings: GenerationSettings) -> float:
    """Seconds to wait for the first text: the stall limit plus the prompt's own pass
    (its tokens and the photo's patches through every parameter) at a slow machine's
    pace. A fixed limit either fails a long prompt on a slow CPU or waits minutes
    before calling a short one stalled."""
    input_ids = inputs["input_ids"]
    tokens = int(input_ids.shape[-1])
    pixels = inputs.get("pixel_values")
    if pixels is not None:
        tokens += int(pixels.numel() // 3 // PIXELS_PER_VISION_TOKEN)
    flops = 2.0 * parameter_count(model) * tokens
    device = input_ids.device.type
    return settings.token_timeout_s + flops / SLOW_MACHINE_FLOPS.get(device, 1e10)


def parameter_count(model) -> int:
    cached = getattr(model, "_critique_parameter_count", None)
    if cached is None:
        cached = sum(p.numel() for p in model.parameters())
        model._critique_parameter_count = cached
    return cached


class _EventStop:
    """A stopping criterion that ends generation as soon as either event is set."""

    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [e for e in events if e is not None]

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        stop = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool,
                          device=input_ids.device)


class _SentenceEnd:
    """Past a length budget, stop once the last token ends a sentence, so a section
    ends on a full stop rather than mid-phrase (``max_new_tokens`` still caps it)."""

    def __init__(self, tokenizer, after_length: int) -> None:
        self.tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
        self.after_length = after_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)
        if input_ids.shape[-1] >= self.after_length:
            for row in range(input_ids.shape[0]):
                last = self.tokenizer.decode(input_ids[row, -1:]).rstrip()
                done[row] = last.endswith((".", "!", "?"))
        return done


def _pad_id(tokenizer) -> int | None:
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor wraps one
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    return tokenizer.eos_token_id
