"""How alike two frames look, from their facts: each cue votes "same", "different" or
abstains, so one noisy cue cannot join or split frames on its own.

Thresholds were read off real packaged photos (tests/helpers/bursts.py) made into bursts
(shifts of a few px, motion blur, defocus, JPEG): frames of one scene scored phash
distance 0-9, thumb cosine 0.89-0.99; different scenes phash 22-41, thumb -0.5-0.46.
Colour moments: see COLOUR_SAME.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critique_app.core.culling import embedding

HASH_SAME = 12  # of 64 bits: shaken/defocused twins of one frame stay within ~10
HASH_DIFFERENT = 22  # unrelated photos sit near 32 (half the bits); 22 leaves a margin
NEAR_IDENTICAL_HASH = 10  # "near-identical" in the words shown to the photographer
THUMB_SAME = 0.8  # 16x16 thumbs barely notice blur or a few px of shake
THUMB_DIFFERENT = 0.5
# Colour: mean |log10| difference of the first four Hu invariants of each of the 6 colour
# planes (COLOUR_HU of the 7; the 5th-7th are signed products of third-order moments, down
# at 1e-16-1e-28, and wander with blur). Measured on the 7 packaged photos (astronaut,
# coffee, chelsea, rocket, china, flower, grace_hopper), JPEG q92 with noise: against its
# sharp frame a shaken (7-21 px, 0-135 deg) or defocused (sigma 1.5-4) twin sits at
# 0.02-0.15, 1 EV darker/brighter 0.15-0.37, 2 EV darker 0.36-0.46; different photos
# 0.56-1.4 (5th percentile 0.63, median 0.85). All 42 moments: twins up to 0.30, 2 EV
# 0.77, different photos from 0.80: a narrower gap.
COLOUR_SAME = 0.3  # blur and +-1 EV vote "same"
COLOUR_DIFFERENT = 0.55  # every different-photo pair votes "different"; 2 EV stays silent
COLOUR_HU = 4  # Hu invariants used per plane, of 7
COLOUR_FLOOR = 1e-30  # below this a moment is noise
COLOUR_MIN_KEPT = 12  # of the 24 used: fewer non-zero (rounded-away facts) do not vote
# Embedding thresholds: per backbone, measured, in culling/embedding.py


def hash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def thumb_cosine(a, b) -> float:
    return float(np.dot(np.asarray(a, float), np.asarray(b, float)))


def colour_distance(a, b) -> float | None:
    """Colour moments span ~20 orders of magnitude: compare their logarithms, the first
    COLOUR_HU of each plane's 7. None (no vote) when most are 0 (rounded away)."""
    if a is None or b is None or len(a) != 42 or len(b) != 42:
        return None
    va = np.abs(np.asarray(a, float).reshape(6, 7)[:, :COLOUR_HU])
    vb = np.abs(np.asarray(b, float).reshape(6, 7)[:, :COLOUR_HU])
    if min((va > 0).sum(), (vb > 0).sum()) < COLOUR_MIN_KEPT:
        return None
    la = np.log10(np.maximum(va, COLOUR_FLOOR))
    lb = np.log10(np.maximum(vb, COLOUR_FLOOR))
    return float(np.mean(np.abs(la - lb)))


def embed_cosine(a: dict, b: dict) -> float | None:
    """Cosine of two frames' embeddings; None unless both have one from the same model."""
    return embedding.cosine(a, b)


@dataclass(frozen=True)
class Likeness:
    hash_bits: int
    thumb: float
    colour: float | None
    embed: float | None
    votes: int  # cues saying "same" minus cues saying "different"

    @property
    def near_identical(self) -> bool:
        return self.hash_bits <= NEAR_IDENTICAL_HASH and self.thumb >= THUMB_SAME


def _vote(value: float | None, same: float, different: float, higher_is_same: bool) -> int:
    if value is None:
        return 0
    if higher_is_same:
        return 1 if value >= same else -1 if value < different else 0
    return 1 if value <= same else -1 if value >= different else 0


def likeness(a: dict, b: dict) -> Likeness:
    bits = hash_distance(a["phash"], b["phash"])
    thumb = thumb_cosine(a["thumb"], b["thumb"])
    colour = colour_distance(a["colour"], b["colour"])
    embed = embed_cosine(a, b)
    votes = (_vote(bits, HASH_SAME, HASH_DIFFERENT, False)
             + _vote(thumb, THUMB_SAME, THUMB_DIFFERENT, True)
             + _vote(colour, COLOUR_SAME, COLOUR_DIFFERENT, False)
             + _vote(embed, *embedding.thresholds(a), True))
    return Likeness(bits, thumb, colour, embed, votes)


def thumb_shift(a, b, max_shift: int = 8, min_overlap: int = 6) -> tuple[int, int, float]:
    """The (dx, dy) in thumb pixels (of 16) that best lines ``b`` up with ``a``, and the
    correlation of the overlap there: a panning camera shows as a large shift with a
    high correlation, where the unshifted thumbs barely match. Every shift at once, by
    FFT: (dy, dx) pairs a[y + dy, x + dx] with b[y, x]."""
    ta = np.zeros((32, 32))
    tb = np.zeros((32, 32))
    mask = np.zeros((32, 32))
    ta[:16, :16] = np.asarray(a, float).reshape(16, 16)
    tb[:16, :16] = np.asarray(b, float).reshape(16, 16)
    mask[:16, :16] = 1.0

    def corr(x, y):  # sum over (y, x) of x[p + d] * y[p], for every shift d
        return np.real(np.fft.ifft2(np.fft.fft2(x) * np.conj(np.fft.fft2(y))))

    n = corr(mask, mask)
    s_a, s_b = corr(ta, mask), corr(mask, tb)
    cov = corr(ta, tb) - s_a * s_b / np.maximum(n, 1)
    var_a = corr(ta * ta, mask) - s_a * s_a / np.maximum(n, 1)
    var_b = corr(mask, tb * tb) - s_b * s_b / np.maximum(n, 1)
    shifts = np.arange(-max_shift, max_shift + 1)
    shifts = shifts[16 - np.abs(shifts) >= min_overlap]
    rows = np.ix_(shifts % 32, shifts % 32)  # negative shifts sit at the end (wrapped)
    v = var_a[rows] * var_b[rows]
    value = np.where(v > 1e-12, cov[rows] / np.sqrt(np.maximum(v, 1e-12)), -1.0)
    dy, dx = np.unravel_index(int(np.argmax(value)), value.shape)
    return int(shifts[dx]), int(shifts[dy]), float(value[dy, dx])
