"""How likely a model finds each of a few answers (Q-Align style scoring).

The prompt runs once; its cache is then shared by every candidate answer, so
scoring nine emotions costs one prompt pass plus a few tokens each.
"""

from __future__ import annotations

import numpy as np

from critique_app.core.critic.loading import LanguageModel


def choice_probabilities(lm: LanguageModel, inputs: dict, candidates: list[str]) -> np.ndarray:
    """Probabilities over ``candidates`` as continuations of the prompt in ``inputs``.

    Each candidate's score is its mean token log-probability (so longer answers
    are not penalised for their length); a softmax over candidates gives the
    distribution.
    """
    import torch

    tokenizer = lm.text_tokenizer
    ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
    if any(not row for row in ids):
        raise ValueError("every candidate needs at least one token")
    with torch.inference_mode():
        out = lm.model(**inputs, use_cache=True)
        first = out.logits[0, -1].float().log_softmax(-1)
        scores = [[float(first[row[0]])] for row in ids]
        longest = max(len(row) for row in ids)
        if longest > 1:
            cache = out.past_key_values
            cache.batch_repeat_interleave(len(ids))
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            follow = torch.full((len(ids), longest - 1), pad, dtype=torch.long)
            mask = torch.zeros_like(follow)
            for i, row in enumerate(ids):
                follow[i, : len(row) - 1] = torch.tensor(row[:-1])
                mask[i, : len(row) - 1] = 1
            prompt_mask = inputs["attention_mask"].repeat_interleave(len(ids), dim=0).cpu()
            attention = torch.cat([prompt_mask, mask], dim=1)
            logits = lm.model(input_ids=follow.to(lm.device),
                              attention_mask=attention.to(lm.device),
                              past_key_values=cache, use_cache=True).logits
            logprobs = logits.float().log_softmax(-1).cpu()
            for i, row in enumerate(ids):
                scores[i] += [float(logprobs[i, j, row[j + 1]]) for j in range(len(row) - 1)]
    means = np.array([np.mean(s) for s in scores], dtype=np.float64)
    weights = np.exp(means - means.max())
    return weights / weights.sum()
