"""A frame's backbone embedding in its facts: small, comparable only with its own model's.

The score model's forward pass gives the pooled features its head reads
(``score_and_embed``); culling keeps them, L2-normalised, as int8 in base64 (1280
features of EfficientNet-Lite0: 1.7 KB of JSON; CLIP ViT-L/14's 768: 1 KB). Rounding to
int8 of the largest value moves a cosine by about 1e-4. ``embedding_model`` names the model
("<backbone>/<score model version>"): embeddings of different models, or of two versions
of one, are never compared.

Thresholds per backbone, read off real packaged photos made into bursts
(``benchmarks/embed_thresholds.py`` with tests/helpers/bursts.py: shifts of a few px, 15 px
motion blur, sigma 3 defocus, JPEG q92, noise; 7 photos x 5 frames, decoded at 720 px):
EfficientNet-Lite0 (ImageNet) pooled features, cosine: frames of one burst 0.66-1.0
(5th percentile 0.72, median 0.87; the lowest are a shaken frame against a defocused one),
different scenes 0.12-0.34 (95th percentile 0.27); the left and right halves of one photo
(two subjects, one place) 0.55; a +-2 EV bracket 0.88-0.96; a pan's half-overlapping
frames 0.56-0.93.
"""

from __future__ import annotations

import base64

import numpy as np

# backbone -> (cosine at or above which frames look the same, below which they differ)
THRESHOLDS = {
    "tf_efficientnet_lite0": (0.75, 0.5),  # bursts >= 0.66 (p5 0.72), scenes <= 0.34,
    # halves of one photo 0.55: blur-against-blur pairs abstain, two subjects abstain or split
}
# Backbones not measured here (CLIP ViT-L/14, InceptionResNetV2, other trained backbones):
# stricter on both sides, so that an unmeasured model rarely votes.
UNMEASURED = (0.9, 0.6)


def encode(vector: np.ndarray) -> str:
    """L2-normalised, int8 (largest magnitude -> 127), base64."""
    v = np.asarray(vector, np.float64).reshape(-1)
    peak = float(np.abs(v).max()) if v.size else 0.0
    if not np.isfinite(peak) or peak == 0.0:
        raise ValueError("an embedding of zeros or non-finite values")
    q = np.round(v / peak * 127.0).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def decode(value) -> np.ndarray | None:
    """The unit vector stored by :func:`encode` (or a plain list of floats); None for none."""
    if value is None:
        return None
    if isinstance(value, str):
        v = np.frombuffer(base64.b64decode(value), np.int8).astype(np.float64)
    else:
        v = np.asarray(value, np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else None


def cosine(a: dict, b: dict) -> float | None:
    """Cosine of two frames' embeddings; None (no vote) when either has none or they come
    from different models."""
    if a.get("embedding") is None or b.get("embedding") is None:
        return None
    if a.get("embedding_model") != b.get("embedding_model"):
        return None
    va, vb = decode(a["embedding"]), decode(b["embedding"])
    if va is None or vb is None or va.shape != vb.shape:
        return None
    return float(np.dot(va, vb))


def thresholds(frame: dict) -> tuple[float, float]:
    """(same, different) for the backbone that made ``frame``'s embedding."""
    model = frame.get("embedding_model") or ""
    return THRESHOLDS.get(model.split("/", 1)[0], UNMEASURED)
