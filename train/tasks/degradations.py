"""Attribute degradations for self-supervised aesthetic pre-training (CALM).

Each takes a float32 (3, S, S) image in [0, 1] and a severity in (0, 1] and
returns a worse version of the same photo: the network learns to score the
original above it, by a margin that grows with the severity. Exposure and
contrast go both ways (too dark or too bright, flat or harsh), as real
mistakes do.
"""

from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)[:, None, None]


def _hwc(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(1, 2, 0))


def _chw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)


def exposure(image, severity, rng):
    stops = (0.6 + 2.0 * severity) * rng.choice([-1.0, 1.0])
    return np.clip(image * 2.0 ** stops, 0.0, 1.0)


def contrast(image, severity, rng):
    mean = float((image * LUMA).sum(0).mean())
    factor = 1.0 - 0.75 * severity if rng.random() < 0.6 else 1.0 + 1.5 * severity
    return np.clip((image - mean) * factor + mean, 0.0, 1.0)


def saturation(image, severity, rng):
    gray = (image * LUMA).sum(0, keepdims=True)
    factor = 1.0 - 0.9 * severity if rng.random() < 0.5 else 1.0 + 2.0 * severity
    return np.clip(gray + (image - gray) * factor, 0.0, 1.0)


def blur(image, severity, rng):
    sigma = 0.6 + 3.4 * severity * image.shape[-1] / 224
    return _chw(cv2.GaussianBlur(_hwc(image), (0, 0), sigma))


def noise(image, severity, rng):
    sigma = 0.02 + 0.13 * severity
    return np.clip(image + rng.normal(0.0, sigma, image.shape).astype(np.float32), 0.0, 1.0)


def crop(image, severity, rng):
    """An off-centre crop scaled back up: the composition loses what framed it."""
    size = image.shape[-1]
    keep = round(size * (0.85 - 0.4 * severity))
    top, left = (int(rng.integers(0, size - keep + 1)) for _ in range(2))
    window = _hwc(image[:, top:top + keep, left:left + keep])
    return _chw(cv2.resize(window, (size, size), interpolation=cv2.INTER_LINEAR))


def tilt(image, severity, rng):
    """A rotated frame, cropped to hide the corners, as a crooked horizon looks."""
    size = image.shape[-1]
    angle = (2.0 + 8.0 * severity) * rng.choice([-1.0, 1.0])
    radians = np.deg2rad(abs(angle))
    zoom = np.cos(radians) + np.sin(radians)  # enough to push the empty corners out
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    return _chw(cv2.warpAffine(_hwc(image), matrix, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT))


DEGRADATIONS = {f.__name__: f for f in (exposure, contrast, saturation, blur, noise, crop, tilt)}


def degrade(image: np.ndarray, kind: str, severity: float, rng: np.random.Generator):
    return DEGRADATIONS[kind](image, float(severity), rng).astype(np.float32)
