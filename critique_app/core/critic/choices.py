"""How likely a model finds each of a few answers (Q-Align style scoring).

The prompt runs once, keeping only the last position's logits (a ~1k-token
prompt would otherwise materialise ~1k × 49k logits for nothing); its cache is
then shared by every candidate, so scoring nine emotions costs one prompt pass
plus one short batched pass.

Each answer is scored on the tokens that tell it apart from the others and no
more: " something else" is decided once " something" is chosen, and " else"
is not allowed to add its near-certain probability (as a per-token average
would: multi-token answers would win for their length) nor to subtract its
small uncertainty (as a full-sequence sum would). An answer that is a prefix
of another is scored on all its tokens.
"""

from __future__ import annotations

import inspect
import threading

import numpy as np

from critique_app.core.critic.interrupt import interruptible
from critique_app.core.critic.loading import LanguageModel


def choice_probabilities(lm: LanguageModel, inputs: dict, candidates: list[str], *,
                         cancel: threading.Event | None = None) -> np.ndarray:
    """Probabilities over ``candidates`` as continuations of the prompt in ``inputs``.

    Raises :class:`~critique_app.core.util.errors.Cancelled` when ``cancel``
    is set during a pass.
    """
    import torch

    tokenizer = lm.text_tokenizer
    ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
    if any(not row for row in ids):
        raise ValueError("every candidate needs at least one token")
    deciding = [row[: deciding_length(row, ids)] for row in ids]
    accepts = inspect.signature(lm.model.forward).parameters
    last_logits_only = {"logits_to_keep": 1} if "logits_to_keep" in accepts else {}
    # transformers renamed ``past_key_values`` to ``cache`` (5.x); pass what this one takes
    cache_argument = "cache" if "cache" in accepts else "past_key_values"
    with torch.inference_mode(), interruptible(lm.model, cancel):
        out = lm.model(**inputs, use_cache=True, **last_logits_only)
        first = out.logits[0, -1].float().log_softmax(-1)
        scores = [float(first[row[0]]) for row in deciding]
        longest = max(len(row) for row in deciding)
        if longest > 1:
            follow_logprobs = _follow_logprobs(lm, inputs, out, deciding, longest,
                                               cache_argument)
            for i, row in enumerate(deciding):
                scores[i] += sum(float(follow_logprobs[i, j, row[j + 1]])
                                 for j in range(len(row) - 1))
    scores_array = np.array(scores, dtype=np.float64)
    weights = np.exp(scores_array - scores_array.max())
    return weights / weights.sum()


def deciding_length(row: list[int], rows: list[list[int]]) -> int:
    """How many leading tokens of ``row`` it takes to tell it apart from every other row."""
    others = [other for other in rows if other is not row]
    for length in range(1, len(row) + 1):
        prefix = row[:length]
        if not any(other[:length] == prefix for other in others):
            return length
    return len(row)


def _follow_logprobs(lm: LanguageModel, inputs: dict, out, deciding: list[list[int]],
                     longest: int, cache_argument: str):
    """Log-probabilities after each candidate's deciding tokens but the last, all
    candidates in one batch on top of the prompt's cache."""
    import torch

    tokenizer = lm.text_tokenizer
    cache = out.cache if "cache" in out else out.past_key_values  # renamed in 5.x
    cache.batch_repeat_interleave(len(deciding))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    follow = torch.full((len(deciding), longest - 1), pad, dtype=torch.long)
    mask = torch.zeros_like(follow)
    for i, row in enumerate(deciding):
        follow[i, : len(row) - 1] = torch.tensor(row[:-1])
        mask[i, : len(row) - 1] = 1
    prompt_mask = inputs["attention_mask"].repeat_interleave(len(deciding), dim=0).cpu()
    attention = torch.cat([prompt_mask, mask], dim=1)
    logits = lm.model(input_ids=follow.to(lm.device), attention_mask=attention.to(lm.device),
                      **{cache_argument: cache}, use_cache=True).logits
    return logits.float().log_softmax(-1).cpu()

