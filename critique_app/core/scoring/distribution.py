"""A predicted score: a distribution over the ten scores 1..10 (NIMA), or a mean only.

Some score models predict how viewers' ratings spread over 1..10 (NIMA and the models
Critique trains); others predict one number (the LAION aesthetic predictor). A mean-only
score has ``probabilities`` and ``std`` None: nothing may draw or cite a histogram the
model never predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SCORES = np.arange(1, 11, dtype=np.float64)


@dataclass(frozen=True)
class ScoreDistribution:
    probabilities: tuple[float, ...] | None  # P(score = 1), ..., P(score = 10); sums to 1
    mean: float
    std: float | None  # spread of the predicted ratings, score points; None for a mean only
    model: str = ""  # the title of the score model that gave it ("LAION aesthetic v2")
    scale: str = "1-10"  # what the numbers are on, e.g. "AVA's 1-10"

    @classmethod
    def from_probabilities(cls, probabilities, *, model: str = "",
                           scale: str = "1-10") -> ScoreDistribution:
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if p.shape != (10,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"not a 10-bin score distribution: {p}")
        p = p / p.sum()
        mean = float((p * SCORES).sum())
        std = float(np.sqrt(max((p * (SCORES - mean) ** 2).sum(), 0.0)))
        return cls(tuple(float(v) for v in p), mean, std, model, scale)

    @classmethod
    def from_mean(cls, mean: float, *, model: str = "", scale: str = "1-10") -> ScoreDistribution:
        """A score from a model that predicts one number: no histogram, no spread."""
        value = float(mean)
        if not np.isfinite(value):
            raise ValueError(f"not a score: {mean}")
        return cls(None, value, None, model, scale)

    @property
    def has_distribution(self) -> bool:
        return self.probabilities is not None

    def from_model(self, model: str, scale: str) -> ScoreDistribution:
        """The same score, saying which model gave it and on what scale."""
        return replace(self, model=model, scale=scale)

    def short_text(self) -> str:
        """``"5.8 ± 1.4"`` for a distribution, ``"5.8 (mean only)"`` for a mean-only score."""
        if self.std is None:
            return f"{self.mean:.1f} (mean only)"
        return f"{self.mean:.1f} ± {self.std:.1f}"

    def sentence(self) -> str:
        """What the score says, as a critic may cite it, e.g. "LAION aesthetic v2 gives 5.8
        on AVA's 1-10 scale (mean only)"."""
        who = self.model or "the score model"
        scale = f"{self.scale} scale" if self.scale.startswith(("AVA", "the ")) else \
            f"a {self.scale} scale"
        text = f"{who} gives {self.mean:.1f} on {scale}"
        if self.std is None:
            return text + " (mean only)"
        return text + f" (viewers' predicted ratings spread ± {self.std:.1f})"

    def to_dict(self) -> dict:
        data = {
            "distribution": None if self.probabilities is None
            else [round(v, 5) for v in self.probabilities],
            "mean": round(self.mean, 3),
            "std": None if self.std is None else round(self.std, 3),
        }
        if self.model:
            data["model"] = self.model
            data["scale"] = self.scale
        return data
