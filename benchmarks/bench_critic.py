"""Streaming overhead: Critique's streamed generation vs. ``model.generate()``, same run.

Loads a text language model (default: the installed SmolLM2-135M GGUF; or
``--model FOLDER``), builds the real description prompt for a real photo, and
prints, for the same model, prompt and decoding settings:
  (a) raw: ``model.generate(**inputs)`` returning all tokens at the end;
  (b) Critique: ``stream_generate`` (worker thread, TextIteratorStreamer,
      cancel-watching stopping criterion), consumed as it streams;
time to first token and tokens/second (exactly ``--tokens`` new tokens each,
median of ``--repeats`` alternating runs) and the ratio (b)/(a) of tokens/second.
Target: >= 0.95.

    python benchmarks/bench_critic.py [--tokens 96] [--repeats 3] [--model FOLDER]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import torch

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic.chat import model_inputs, render_prompt
from critique_app.core.critic.critics import facts_of
from critique_app.core.critic.facts import facts_text
from critique_app.core.critic.generation import GenerationSettings, stream_generate
from critique_app.core.critic.loading import TEXT, find_language_model, load_language_model
from critique_app.core.critic.personas import BUILTIN_PERSONAS
from critique_app.core.critic.prompts import PromptContext, section_messages
from critique_app.core.store.store import ModelStore
from critique_app.core.util.paths import resource_path


def raw_run(lm, inputs, settings) -> tuple[float, float]:
    """(time to first token, seconds for all tokens) of a plain generate() call."""
    kwargs = settings.generate_kwargs()
    with torch.inference_mode():
        start = time.perf_counter()
        lm.model.generate(**inputs, **{**kwargs, "max_new_tokens": 1, "min_new_tokens": 1})
        first = time.perf_counter() - start
        start = time.perf_counter()
        out = lm.model.generate(**inputs, **kwargs)
        total = time.perf_counter() - start
    assert out.shape[-1] - inputs["input_ids"].shape[-1] == settings.max_new_tokens
    return first, total


def streamed_run(lm, inputs, settings) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    for _ in stream_generate(lm.model, lm.tokenizer, inputs, settings):
        if first is None:
            first = time.perf_counter() - start
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    found = (args.model.name, args.model) if args.model else \
        find_language_model(ModelStore(), "smollm2-135m-instruct-gguf")
    if found is None:
        sys.exit("no model: run 'critique models pull smollm2-135m-instruct-gguf' first")
    started = time.perf_counter()
    lm = load_language_model(found[1], name=found[0], device="cpu")
    print(f"model: {lm.describe()} (loaded in {time.perf_counter() - started:.1f} s)")
    if lm.kind != TEXT:
        sys.exit("this benchmark measures a text-only model; pass --model with one")

    analysis = analyze(resource_path("samples", "chelsea.jpg"), depth=False)
    context = PromptContext(BUILTIN_PERSONAS["critic"], facts_text(facts_of(analysis)),
                            labels="tabby (60%)", sees_photo=False)
    prompt = render_prompt(lm, section_messages(context, "description"))
    inputs = model_inputs(lm, prompt, None)
    # Exactly --tokens new tokens each time; the sentence-end stop is off so both
    # calls do the same work (it only decodes one token per step when on).
    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                                  sentence_end_after=None)
    print(f"prompt: {inputs['input_ids'].shape[-1]} tokens; generating {args.tokens} new "
          f"tokens, {args.repeats} alternating runs, torch threads {torch.get_num_threads()}")

    raw_run(lm, inputs, settings)  # warm-up
    raw, streamed = [], []
    for _ in range(args.repeats):
        raw.append(raw_run(lm, inputs, settings))
        streamed.append(streamed_run(lm, inputs, settings))
    raw_first = statistics.median(r[0] for r in raw)
    raw_rate = args.tokens / statistics.median(r[1] for r in raw)
    ours_first = statistics.median(s[0] for s in streamed)
    ours_rate = args.tokens / statistics.median(s[1] for s in streamed)
    print(f"{dt.date.today()}  raw generate(): first token {raw_first * 1000:.0f} ms, "
          f"{raw_rate:.1f} tokens/s")
    print(f"{dt.date.today()}  Critique stream: first text {ours_first * 1000:.0f} ms, "
          f"{ours_rate:.1f} tokens/s")
    print(f"ratio (stream / raw tokens per second): {ours_rate / raw_rate:.3f}  "
          "(target >= 0.95)")


if __name__ == "__main__":
    main()
