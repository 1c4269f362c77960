"""Streaming text out of ``model.generate`` on a worker thread.

``generate`` runs on its own thread and feeds a ``TextIteratorStreamer``;
the caller iterates the text as it arrives. Three things make it safe to use
from a GUI or a terminal:

- a stopping criterion watches an Event, so cancelling stops generation
  after the token being computed (and closing the iterator early does too);
- the streamer has a timeout, and an exception inside ``generate`` ends the
  stream and is re-raised in the caller, so a failure never hangs the reader;
- the worker thread is always joined before the iterator finishes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from critique_app.core.errors import CritiqueError
from critique_app.core.hf import import_transformers

DEFAULT_TOKEN_TIMEOUT_S = 120.0  # a CPU prefill of a long prompt can take a while


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
    streamer = transformers.TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=True,
        timeout=settings.token_timeout_s)
    stop = threading.Event()  # set when the reader goes away, or on timeout
    criteria = transformers.StoppingCriteriaList([_EventStop(cancel, stop)])
    if settings.sentence_end_after is not None:
        prompt_length = inputs["input_ids"].shape[-1]
        criteria.append(_SentenceEnd(tokenizer, prompt_length + settings.sentence_end_after))
    failures: list[BaseException] = []

    def run() -> None:
        import torch

        try:
            with torch.inference_mode():
                model.generate(**inputs, **settings.generate_kwargs(), streamer=streamer,
                               stopping_criteria=criteria, pad_token_id=_pad_id(tokenizer))
        except BaseException as error:  # reported to the reader, never lost on the thread
            failures.append(error)
            streamer.end()

    worker = threading.Thread(target=run, name="critique-generate", daemon=True)
    worker.start()
    try:
        for chunk in streamer:
            if chunk:
                yield chunk
    except queue.Empty:
        stop.set()
        raise CritiqueError(f"the language model produced nothing for "
                            f"{settings.token_timeout_s:g} s; generation was stopped") from None
    finally:
        stop.set()
        worker.join()
    if failures:
        error = failures[0]
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        raise CritiqueError(f"the language model failed while writing: {message}") from error


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
