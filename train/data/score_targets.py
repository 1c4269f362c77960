"""Every kind of rating as one thing: a distribution over the scores 1..10.

The score head is trained NIMA-style (10 bins, EMD loss), so each source is turned
into 10 probabilities: AVA's vote counts directly; a single number (a score, stars,
a pick/reject flag) as a discretised Gaussian bump around it, because one person's
rating says "about here", not "exactly this bin". Cut off at 1 and 10, a bump near
an end has its mean pulled inward (a 10 with sigma 1 has mean 9.48): the ends are
squeezed a little, the order of the ratings is kept, and every target keeps some
spread, which a point mass (the only distribution with mean exactly 10) would not.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

from train.data.records import SCORE_BINS

STAR_SIGMA = 1.0  # a star is 2.25 points wide on the 1..10 scale
# A flag is coarser than a star: "keep" or "drop", nothing finer. With this width
# a reject's mean is 2.43 and a pick's 7.85 (the ends pull them inward a little).
FLAG_SIGMA = 1.5
# Where a flag sits. A reject says "below the bar" (about 1-2 stars), not "the worst
# photo there is"; a pick says "a keeper" (about 4 stars), not "a masterpiece".
# 2 and 8 are symmetric about the scale's middle (5.5) and leave room for the
# star ratings above and below them.
REJECT_SCORE = 2.0
PICK_SCORE = 8.0
FLAG_SCORES = {"reject": REJECT_SCORE, "pick": PICK_SCORE}


def distribution_from_votes(counts: Sequence[float]) -> tuple[float, ...]:
    """Ten vote counts (for scores 1..10) as probabilities. ValueError if they are not
    ten finite non-negative numbers with at least one vote."""
    values = [float(c) for c in counts]
    if len(values) != SCORE_BINS:
        raise ValueError(f"expected {SCORE_BINS} vote counts, found {len(values)}")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError("vote counts must be numbers of zero or more")
    total = sum(values)
    if total <= 0:
        raise ValueError("no votes")
    return tuple(v / total for v in values)


def distribution_from_score(score: float, sigma: float = 1.0) -> tuple[float, ...]:
    """A Gaussian bump centred on ``score``, width ``sigma``, on the bins 1..10, summing to 1.

    ``score`` must be a finite number in [1, 10], ``sigma`` finite and > 0
    (ValueError otherwise).
    """
    score = float(score)
    sigma = float(sigma)
    if not (math.isfinite(score) and 1 <= score <= SCORE_BINS):
        raise ValueError(f"score must be a number from 1 to {SCORE_BINS}, not {score}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, not {sigma}")
    exponents = [-((i + 1 - score) ** 2) / (2 * sigma**2) for i in range(SCORE_BINS)]
    top = max(exponents)  # relative to the nearest bin: a tiny sigma cannot underflow all
    weights = [math.exp(e - top) for e in exponents]
    total = sum(weights)
    return tuple(w / total for w in weights)


def score_from_stars(stars: int) -> float:
    """1..5 stars on the 1..10 scale, linearly: 1 -> 1, 3 -> 5.5, 5 -> 10."""
    if isinstance(stars, bool):
        raise ValueError("stars must be a whole number from 1 to 5")
    try:
        stars = operator.index(stars)
    except TypeError:
        raise ValueError(f"stars must be a whole number from 1 to 5, not {stars!r}") from None
    if not 1 <= stars <= 5:
        raise ValueError(f"stars must be from 1 to 5, not {stars}")
    return 1 + (stars - 1) * (SCORE_BINS - 1) / 4


def distribution_from_stars(stars: int, sigma: float = STAR_SIGMA) -> tuple[float, ...]:
    """A star rating (1..5) as a bump around :func:`score_from_stars`."""
    return distribution_from_score(score_from_stars(stars), sigma)


def score_from_flag(flag: str) -> float:
    """``"reject"`` -> :data:`REJECT_SCORE` (2), ``"pick"`` -> :data:`PICK_SCORE` (8)."""
    try:
        return FLAG_SCORES[flag]
    except KeyError:
        raise ValueError(f"a flag is 'pick' or 'reject', not {flag!r}") from None


def distribution_from_flag(flag: str, sigma: float = FLAG_SIGMA) -> tuple[float, ...]:
    """A pick/reject flag as a wide bump around :func:`score_from_flag`."""
    return distribution_from_score(score_from_flag(flag), sigma)
