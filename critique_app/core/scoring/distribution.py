"""A predicted score: a distribution over the ten scores 1..10 (NIMA)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCORES = np.arange(1, 11, dtype=np.float64)


@dataclass(frozen=True)
class ScoreDistribution:
    probabilities: tuple[float, ...]  # P(score = 1), ..., P(score = 10); sums to 1
    mean: float
    std: float

    @classmethod
    def from_probabilities(cls, probabilities) -> ScoreDistribution:
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if p.shape != (10,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"not a 10-bin score distribution: {p}")
        p = p / p.sum()
        mean = float((p * SCORES).sum())
        std = float(np.sqrt(max((p * (SCORES - mean) ** 2).sum(), 0.0)))
        return cls(tuple(float(v) for v in p), mean, std)

    def to_dict(self) -> dict:
        return {
            "distribution": [round(v, 5) for v in self.probabilities],
            "mean": round(self.mean, 3),
            "std": round(self.std, 3),
        }
