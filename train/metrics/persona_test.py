"""Do two persona models write differently? Permutation tests on their texts.

Impressions (Kruk et al. 2023) compares persona-conditioned critiques of the
same photos; these tests ask whether an observed difference between model A's
and model B's texts is larger than chance would give.

* :func:`vocabulary_test` (unpaired): the statistic is the Jensen–Shannon
  divergence, in bits (0 = same word frequencies, 1 = no word in common),
  between the pooled unigram frequencies of A's and of B's texts. The null
  distribution comes from shuffling which model wrote which text.
* :func:`paired_feature_test` (A and B wrote about the same photos, in the
  same order): the statistic is the mean per-photo difference A − B of a
  lexicon-free feature (words per text by default); the null flips the sign of
  each photo's difference at random (exactly, over all 2^n flips, when n is small).

How to read a :class:`PersonaTestResult`: ``p_value`` is the chance of a
statistic at least this extreme if both models wrote from the same
distribution. Below the chosen level (e.g. 0.05) the personas write
differently on this axis; above it there is no evidence of a difference,
which is not evidence of sameness (few texts give little power). The raw JSD
grows as samples shrink even between identical models, so compare it with its
p-value, not across evaluations of different sizes. When running several
tests (:func:`compare_personas`), correct for it, e.g. Bonferroni: require
``p < 0.05 / number of tests``. Tokens are :func:`train.metrics.text.tokenize`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from train.metrics.text import tokenize

__all__ = [
    "FEATURES",
    "PersonaTestResult",
    "compare_personas",
    "paired_feature_test",
    "vocabulary_test",
]

_CHUNK = 256  # permutations scored per matrix product
_TOLERANCE = 1e-12  # a permuted statistic this close to the observed one counts as "as extreme"


@dataclass(frozen=True)
class PersonaTestResult:
    """One test's outcome; see the module docstring for how to read it."""

    statistic: float
    p_value: float
    n_a: int
    n_b: int
    method: str

    def describe(self) -> str:
        verdict = "differ" if self.p_value < 0.05 else "no evidence of a difference"
        return (
            f"{self.method}: statistic {self.statistic:.4g}, p = {self.p_value:.4g} "
            f"(n_a={self.n_a}, n_b={self.n_b}) -> {verdict} at 0.05"
        )


def _check_texts(texts_a: Sequence[str], texts_b: Sequence[str]) -> None:
    if not texts_a or not texts_b:
        raise ValueError("both models need at least one text")
    if isinstance(texts_a, str) or isinstance(texts_b, str):
        raise ValueError("pass lists of texts, not a single string")


def _count_matrix(texts: Sequence[str]) -> np.ndarray:
    """Texts x vocabulary word counts."""
    tokens = [tokenize(t) for t in texts]
    index: dict[str, int] = {}
    for words in tokens:
        for w in words:
            index.setdefault(w, len(index))
    counts = np.zeros((len(texts), len(index)), dtype=np.float64)
    for row, words in enumerate(tokens):
        for w in words:
            counts[row, index[w]] += 1
    return counts


def _jsd_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence (bits) between matching rows of two count matrices."""
    p = a / np.maximum(a.sum(axis=1, keepdims=True), 1.0)
    q = b / np.maximum(b.sum(axis=1, keepdims=True), 1.0)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> np.ndarray:
        safe = np.where(x > 0, x, 1.0)  # 0 * log(0 / m) = 0
        return np.sum(x * np.log2(safe / np.where(m > 0, m, 1.0)), axis=1)

    return np.maximum(0.5 * kl(p) + 0.5 * kl(q), 0.0)


def vocabulary_test(
    texts_a: Sequence[str], texts_b: Sequence[str], permutations: int = 2000, seed: int = 0
) -> PersonaTestResult:
    """Unpaired permutation test on the JSD of A's and B's unigram frequencies."""
    _check_texts(texts_a, texts_b)
    counts = _count_matrix([*texts_a, *texts_b])
    if counts.shape[1] == 0:
        raise ValueError("the texts contain no words")
    n_a, n = len(texts_a), counts.shape[0]
    total = counts.sum(axis=0)
    sums_a = counts[:n_a].sum(axis=0, keepdims=True)
    observed = float(_jsd_rows(sums_a, total - sums_a)[0])

    rng = np.random.default_rng(seed)
    as_extreme = 0
    for start in range(0, permutations, _CHUNK):
        size = min(_CHUNK, permutations - start)
        in_a = np.argsort(rng.random((size, n)), axis=1) < n_a  # a random split per row
        sums_a = in_a.astype(np.float64) @ counts
        null = _jsd_rows(sums_a, total - sums_a)
        as_extreme += int(np.sum(null >= observed - _TOLERANCE))
    p_value = (as_extreme + 1) / (permutations + 1)
    return PersonaTestResult(observed, p_value, n_a, n - n_a, "unigram JSD permutation test")


def _word_count(words: list[str]) -> float:
    return float(len(words))


def _type_token_ratio(words: list[str]) -> float:
    return len(set(words)) / len(words) if words else 0.0


def _mean_word_length(words: list[str]) -> float:
    return sum(map(len, words)) / len(words) if words else 0.0


FEATURES: dict[str, Callable[[list[str]], float]] = {
    "length": _word_count,
    "type_token_ratio": _type_token_ratio,
    "mean_word_length": _mean_word_length,
}
"""Lexicon-free per-text features for :func:`paired_feature_test`, over tokens."""


def _sign_flips(n: int, permutations: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """All 2^n sign patterns when that is no more than ``permutations``, else random ones."""
    if 2**n <= permutations:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        return 1.0 - 2.0 * bits, True
    return rng.choice([-1.0, 1.0], size=(permutations, n)), False


def paired_feature_test(
    texts_a: Sequence[str],
    texts_b: Sequence[str],
    feature: str | Callable[[list[str]], float] = "length",
    permutations: int = 2000,
    seed: int = 0,
) -> PersonaTestResult:
    """Two-sided sign-flip test on mean(feature(A_i) - feature(B_i)) over paired texts.

    ``feature`` names one of :data:`FEATURES` or is a function of a text's tokens.
    The statistic keeps its sign: positive means A's texts score higher.
    """
    _check_texts(texts_a, texts_b)
    if len(texts_a) != len(texts_b):
        raise ValueError(f"paired texts: {len(texts_a)} from A but {len(texts_b)} from B")
    measure = FEATURES[feature] if isinstance(feature, str) else feature
    name = feature if isinstance(feature, str) else getattr(feature, "__name__", "feature")
    diffs = np.array(
        [measure(tokenize(a)) - measure(tokenize(b)) for a, b in zip(texts_a, texts_b, strict=True)]
    )
    observed = float(diffs.mean())
    signs, exact = _sign_flips(diffs.size, permutations, np.random.default_rng(seed))
    null = np.abs(signs @ diffs) / diffs.size
    as_extreme = int(np.sum(null >= abs(observed) - _TOLERANCE))
    # The exact null already contains the observed signs; a sampled one gets them added.
    p_value = as_extreme / len(null) if exact else (as_extreme + 1) / (len(null) + 1)
    method = f"paired sign-flip test on {name}" + (" (exact)" if exact else "")
    return PersonaTestResult(observed, p_value, len(texts_a), len(texts_b), method)


def compare_personas(
    texts_a: Sequence[str],
    texts_b: Sequence[str],
    paired: bool = False,
    permutations: int = 2000,
    seed: int = 0,
) -> list[PersonaTestResult]:
    """The vocabulary test, plus one paired test per :data:`FEATURES` entry when ``paired``."""
    results = [vocabulary_test(texts_a, texts_b, permutations, seed)]
    if paired:
        results += [
            paired_feature_test(texts_a, texts_b, name, permutations, seed) for name in FEATURES
        ]
    return results
