"""What every modality (blur, saliency, depth) returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

OK = "ok"
UNAVAILABLE = "unavailable"
FAILED = "error"


@dataclass
class MapResult:
    """A float32 map in [0, 1] at the analysis resolution, or why there is none.

    ``meaning`` says what 1 stands for ("strongly blurred", "most salient",
    "nearest"). ``hint`` tells the user how to make an unavailable modality
    available. A missing map is never replaced by a made-up one.
    """

    name: str
    status: str
    method: str
    meaning: str
    map: np.ndarray | None = None
    stats: dict[str, float | str | None] = field(default_factory=dict)
    reason: str | None = None
    hint: str | None = None
    aux: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. blur's texture confidence

    @property
    def available(self) -> bool:
        return self.status == OK and self.map is not None

    def to_dict(self) -> dict:
        data = {
            "status": self.status,
            "method": self.method,
            "meaning": f"1 = {self.meaning}",
            "stats": self.stats,
        }
        if self.reason:
            data["reason"] = self.reason
        if self.hint:
            data["hint"] = self.hint
        return data


def unavailable(name: str, method: str, meaning: str, reason: str, hint: str) -> MapResult:
    return MapResult(name, UNAVAILABLE, method, meaning, reason=reason, hint=hint)


def sample(values: np.ndarray, limit: int = 65_536) -> np.ndarray:
    """An even subsample of a map, for statistics that need no exact count."""
    flat = values.ravel()
    return flat[:: max(1, flat.size // limit)]


def normalize_robust(values: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0):
    """Stretch to [0, 1] between two percentiles (robust to a few extreme pixels)."""
    low, high = np.percentile(sample(values), [low_pct, high_pct])
    if high - low < 1e-12:
        return np.zeros_like(values, dtype=np.float32)
    stretched = np.subtract(values, np.float32(low), dtype=np.float32)
    stretched *= np.float32(1.0 / (high - low))
    return np.clip(stretched, 0.0, 1.0, out=stretched)


def shrink(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale to (width, height) without aliasing: halve with a Gaussian pyramid
    while still over twice the target, then area-average the rest. About twice
    as fast as one large area resize, for the same smoothness."""
    while values.shape[1] >= 2 * size[0] and values.shape[0] >= 2 * size[1]:
        values = cv2.pyrDown(values)
    if (values.shape[1], values.shape[0]) == size:
        return values
    return cv2.resize(values, size, interpolation=cv2.INTER_AREA)


def map_stats(values: np.ndarray) -> dict[str, float]:
    """Summary statistics every map shares."""
    return {
        "mean": round(float(values.mean()), 4),
        "p90": round(float(np.percentile(sample(values), 90)), 4),
        "share_above_half_pct": round(float((values > 0.5).mean() * 100.0), 2),
    }
