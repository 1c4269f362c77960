"""A second scorer from a vision-language model, as Q-Align does it.

The VLM is asked to rate the photo's aesthetics and the probabilities it gives
the five rating words (excellent ... bad) form a distribution; its expectation,
mapped linearly from 1-5 onto the app's 1-10 scale, is the score. It is a
zero-shot opinion of a general model, not a scorer trained on ratings, and is
labelled as such.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from critique_app.core.critic.chat import PhotoPrompts, render_prompt
from critique_app.core.critic.choices import choice_probabilities
from critique_app.core.critic.loading import VLM, LanguageModel

LEVELS = ("excellent", "good", "fair", "poor", "bad")
LEVEL_VALUES = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
QUESTION = "How would you rate the aesthetics of this photo?"
ANSWER_PREFIX = "The aesthetics of this photo is"


@dataclass(frozen=True)
class VlmScore:
    model: str
    levels: dict[str, float]  # rating word -> probability
    mean: float  # on 1-10
    std: float  # on 1-10

    def to_dict(self) -> dict:
        return {"model": self.model, "method": "zero-shot rating words (Q-Align style)",
                "levels": {k: round(v, 4) for k, v in self.levels.items()},
                "mean": round(self.mean, 3), "std": round(self.std, 3)}


def vlm_score(lm: LanguageModel, photo: PhotoPrompts, *,
              cancel: threading.Event | None = None) -> VlmScore:
    """Raises :class:`~critique_app.core.util.errors.Cancelled` when cancelled."""
    if lm.kind != VLM:
        raise ValueError("a rating from the model's eyes needs a vision-language model")
    prompt = render_prompt(lm, [{"role": "user", "content": QUESTION}],
                           answer_prefix=ANSWER_PREFIX)
    probabilities = choice_probabilities(lm, photo.inputs(prompt),
                                         [f" {level}" for level in LEVELS], cancel=cancel)
    on_ten = 1.0 + (LEVEL_VALUES - 1.0) * 9.0 / 4.0
    mean = float(probabilities @ on_ten)
    std = float(np.sqrt(probabilities @ (on_ten - mean) ** 2))
    return VlmScore(lm.name, dict(zip(LEVELS, probabilities.tolist(), strict=True)), mean, std)
