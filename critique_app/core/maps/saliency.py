"""Saliency: where the eye goes.

Backends are looked up by name, so a learned saliency model from the model
store can be registered beside the classical one without touching callers.
The classical backend combines three cheap, well-known cues:
spectral residual (Hou & Zhang 2007, OpenCV contrib) on each Lab channel,
frequency-tuned colour distinctness (Achanta et al. 2009), and a mild
centre prior (people look at the middle of a frame first).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from critique_app.core.maps.base import (
    OK,
    MapResult,
    map_stats,
    normalize_robust,
    sample,
    shrink,
)
from critique_app.core.photo.decoded import to_uint8
from critique_app.core.util.errors import CritiqueError

MEANING = "most salient"


class SaliencyBackend(Protocol):
    method: str

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """float32 RGB (H, W, 3) in [0, 1] -> float32 saliency, any range, at any
        size with the photo's aspect ratio (it is stretched and resized after)."""


class ClassicalSaliency:
    method = "classical: spectral residual + colour distinctness + centre prior"
    work_side = 256

    def __init__(self) -> None:
        self._residual = cv2.saliency.StaticSaliencySpectralResidual_create()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        scale = self.work_side / max(height, width)
        small = shrink(rgb, (max(8, round(width * scale)), max(8, round(height * scale))))
        lab = _lab(small)

        residual = np.zeros(small.shape[:2], np.float32)
        for channel in cv2.split(lab):
            ok, channel_map = self._residual.computeSaliency(channel.astype(np.float32))
            if ok:
                residual += normalize_robust(channel_map.astype(np.float32), 0, 99.5)
        residual = cv2.GaussianBlur(residual, (0, 0), 3)

        smooth = cv2.GaussianBlur(lab, (0, 0), 2)
        difference = smooth - np.float32(cv2.mean(lab)[:3])
        distinct = cv2.sqrt(cv2.transform(difference * difference, _SUM_CHANNELS))

        combined = 0.5 * normalize_robust(residual, 0, 99.5)
        combined += 0.5 * normalize_robust(distinct, 0, 99.5)
        combined *= _centre_weight(small.shape[:2])
        return combined


_SUM_CHANNELS = np.ones((1, 3), np.float32)


@functools.lru_cache(maxsize=8)
def _centre_weight(shape: tuple[int, int]) -> np.ndarray:
    """0.6 at the corners to 1 in the middle: a mild Gaussian centre prior."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = np.exp(-(((xs / width - 0.5) / 0.35) ** 2 + ((ys / height - 0.5) / 0.35) ** 2) / 2)
    weight = 0.6 + 0.4 * centre
    weight.flags.writeable = False
    return weight


def _lab(rgb: np.ndarray) -> np.ndarray:
    """float RGB -> float L*a*b* (L 0-100, a/b about ±100) through OpenCV's 8-bit
    table path: its float path rebuilds tables on every call and is 10x slower."""
    lab = cv2.cvtColor(to_uint8(rgb), cv2.COLOR_RGB2Lab).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0
    lab[..., 1:] -= 128.0
    return lab


BACKENDS: dict[str, Callable[[], SaliencyBackend]] = {"classical": ClassicalSaliency}
_instances: dict[str, SaliencyBackend] = {}


def register_backend(name: str, factory: Callable[[], SaliencyBackend]) -> None:
    """Make a saliency backend (e.g. a learned model from the store) selectable by name."""
    BACKENDS[name] = factory
    _instances.pop(name, None)


def get_backend(name: str = "classical") -> SaliencyBackend:
    if name not in BACKENDS:
        raise CritiqueError(f"unknown saliency method '{name}' (known: {', '.join(BACKENDS)})")
    if name not in _instances:
        _instances[name] = BACKENDS[name]()
    return _instances[name]


def compute_saliency(rgb: np.ndarray, backend: str = "classical") -> MapResult:
    model = get_backend(backend)
    height, width = rgb.shape[:2]
    # Stretched at the backend's own size (cheap), then brought to the photo's size:
    # a bilinear resize of values in [0, 1] stays in [0, 1].
    saliency = normalize_robust(model(rgb).astype(np.float32), 0.0, 99.5)
    if saliency.shape != (height, width):
        saliency = cv2.resize(saliency, (width, height), interpolation=cv2.INTER_LINEAR)
    stats = map_stats(saliency)
    stats.update(spread_stats(saliency))
    return MapResult("saliency", OK, model.method, MEANING, map=saliency, stats=stats)


def spread_stats(saliency: np.ndarray) -> dict[str, float]:
    """How concentrated attention is: share of all saliency in the top 10% of pixels."""
    flat = sample(saliency)
    count = max(1, flat.size // 10)
    total = float(flat.sum())
    top = float(np.partition(flat, flat.size - count)[flat.size - count :].sum())
    return {"top10_concentration_pct": round(100.0 * top / total, 1) if total > 0 else 0.0}
