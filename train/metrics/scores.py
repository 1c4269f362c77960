"""Metrics for the score models, following the NIMA / AVA conventions.

Score distributions have one column per score 1..K (K = 10 for AVA); rows are
normalised before use, so raw vote counts work too. A distribution's mean
score is ``sum(p_k * k)`` over k = 1..K.

Correlations and accuracies are undefined for fewer than two samples, for
constant inputs or for non-finite values: they return ``nan`` (silently), so
an early-training evaluation with a collapsed model reports ``nan`` rather
than crashing. Mismatched shapes are caller bugs and raise ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["binary_accuracy", "emd", "plcc", "score_metrics", "srcc"]


def _paired(pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"expected two 1-D arrays of equal length, got {x.shape} and {y.shape}")
    return x, y


def _usable(x: np.ndarray, y: np.ndarray, minimum: int) -> bool:
    return x.size >= minimum and bool(np.isfinite(x).all() and np.isfinite(y).all())


def average_ranks(values: ArrayLike) -> np.ndarray:
    """Ranks 1..n; tied values share the mean of their ranks (as ``scipy.stats.rankdata``)."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], x.size]  # exclusive
    group_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = group_rank[np.cumsum(starts_group) - 1]
    return ranks


def plcc(pred: ArrayLike, target: ArrayLike) -> float:
    """Pearson's linear correlation coefficient (no logistic fitting first)."""
    x, y = _paired(pred, target)
    if not _usable(x, y, 2):
        return math.nan
    xc, yc = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if denominator == 0.0:
        return math.nan
    return float(np.clip(float(xc @ yc) / denominator, -1.0, 1.0))


def srcc(pred: ArrayLike, target: ArrayLike) -> float:
    """Spearman's rank correlation: Pearson's on average ranks (ties share ranks)."""
    x, y = _paired(pred, target)
    if not _usable(x, y, 2):
        return math.nan
    return plcc(average_ranks(x), average_ranks(y))


def _distributions(dists: ArrayLike, name: str) -> np.ndarray:
    p = np.asarray(dists, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{name}: expected (n, bins) with bins >= 2, got shape {p.shape}")
    if (p < 0).any():
        raise ValueError(f"{name}: distributions must not be negative")
    totals = p.sum(axis=1, keepdims=True)
    if (totals == 0).any():
        raise ValueError(f"{name}: every distribution needs a positive total")
    with np.errstate(invalid="ignore"):  # a NaN/inf row (a diverged model) gives nan metrics
        return p / totals


def _means(p: np.ndarray) -> np.ndarray:
    return p @ np.arange(1, p.shape[1] + 1, dtype=np.float64)


def emd(pred_dist: ArrayLike, target_dist: ArrayLike, r: float = 2) -> float:
    """NIMA's earth mover's distance between ordered score distributions.

    ``mean over samples of (mean over bins |CDF_pred - CDF_target|**r) ** (1/r)``
    (Talebi & Milanfar 2018, eq. 1; r = 2 as in the paper). Inputs are (n, bins)
    or a single (bins,) row; rows are normalised. Empty input gives ``nan``.
    """
    p = _distributions(pred_dist, "pred_dist")
    q = _distributions(target_dist, "target_dist")
    if p.shape != q.shape:
        raise ValueError(f"shapes differ: {p.shape} and {q.shape}")
    if r <= 0:
        raise ValueError("r must be positive")
    if p.shape[0] == 0:
        return math.nan
    cdf_gap = np.abs(np.cumsum(p, axis=1) - np.cumsum(q, axis=1))
    per_sample = np.mean(cdf_gap**r, axis=1) ** (1.0 / r)
    return float(per_sample.mean())


def binary_accuracy(pred_mean: ArrayLike, target_mean: ArrayLike, threshold: float = 5.0) -> float:
    """AVA's two-class accuracy: how often prediction and target fall on the same
    side of ``threshold``. A mean ``>= threshold`` is "high quality", as in Murray
    et al. 2012 (AVA) with delta = 0; NIMA reports this with threshold 5.
    """
    x, y = _paired(pred_mean, target_mean)
    if not _usable(x, y, 1):
        return math.nan
    return float(np.mean((x >= threshold) == (y >= threshold)))


def score_metrics(pred_dists: ArrayLike, target_dists: ArrayLike) -> dict[str, float]:
    """All score-model metrics for (n, bins) distributions over scores 1..bins.

    Returns ``srcc``, ``plcc`` and ``accuracy`` (threshold 5) of the mean scores,
    ``emd`` (r = 2) of the distributions, and ``n``.
    """
    p = _distributions(pred_dists, "pred_dists")
    q = _distributions(target_dists, "target_dists")
    if p.shape != q.shape:
        raise ValueError(f"shapes differ: {p.shape} and {q.shape}")
    pred_mean, target_mean = _means(p), _means(q)
    return {
        "srcc": srcc(pred_mean, target_mean),
        "plcc": plcc(pred_mean, target_mean),
        "emd": emd(p, q),
        "accuracy": binary_accuracy(pred_mean, target_mean),
        "n": p.shape[0],
    }
