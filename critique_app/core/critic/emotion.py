"""The emotion a photo evokes: an ArtEmis category, its probabilities, and a VAD estimate.

The category is not free text: the model scores each of the nine ArtEmis
answers and the most likely one wins. Valence / arousal / dominance is the
probability-weighted mix of the categories' anchors (see ``VAD_ANCHORS``), so
an uncertain model gives a VAD near the middle rather than a confident guess.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from critique_app.core.critic.choices import choice_probabilities
from critique_app.core.critic.loading import LanguageModel
from critique_app.core.critic.sections import EMOTIONS, VAD_ANCHORS

ANSWER_PREFIX = "The photo evokes"


def explanation_prefix(category: str) -> str:
    return f"{ANSWER_PREFIX} {category}, because"


@dataclass(frozen=True)
class EmotionReading:
    category: str
    probabilities: dict[str, float]
    valence: float
    arousal: float
    dominance: float

    def to_dict(self) -> dict:
        return {"category": self.category,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "vad": {"valence": round(self.valence, 3), "arousal": round(self.arousal, 3),
                        "dominance": round(self.dominance, 3)},
                "vad_method": "probability-weighted category anchors (0-1 scales)"}


def reading_from(probabilities: np.ndarray) -> EmotionReading:
    anchors = np.array([VAD_ANCHORS[e] for e in EMOTIONS])
    valence, arousal, dominance = (probabilities @ anchors).tolist()
    category = EMOTIONS[int(np.argmax(probabilities))]
    return EmotionReading(category, dict(zip(EMOTIONS, probabilities.tolist(), strict=True)),
                          valence, arousal, dominance)


def read_emotion(lm: LanguageModel, inputs: dict, *,
                 cancel: threading.Event | None = None) -> EmotionReading:
    """``inputs`` end with :data:`ANSWER_PREFIX`; each category is scored as its continuation."""
    return reading_from(choice_probabilities(lm, inputs, [f" {e}" for e in EMOTIONS],
                                             cancel=cancel))
