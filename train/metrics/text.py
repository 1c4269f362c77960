"""Captioning metrics for generated critiques: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D.

Every metric sees the same tokens from :func:`tokenize` (lowercase, apostrophes
dropped, every other non-alphanumeric character a separator), so scores are
comparable across metrics and runs. Each follows one reference implementation:

* BLEU: pycocoevalcap ``Bleu`` — corpus level, clipped n-gram counts, brevity
  penalty against the reference length closest to each prediction (ties: the
  shorter). pycocoevalcap adds 1e-15 / 1e-9 smoothing terms; here a corpus with
  no matching n-grams of some order scores exactly 0 for that BLEU and above.
* METEOR: NLTK ``meteor_score`` (alpha 0.9, beta 3, gamma 0.5): exact then
  Porter-stem matches (Porter's own published extensions, NLTK's
  ``PorterStemmer.MARTIN_EXTENSIONS``), best over references, mean over
  predictions. WordNet synonym matching is left out: its data cannot be
  installed offline, so scores can be a little lower than NLTK's with WordNet,
  and they are not the Java METEOR 1.5 of the COCO toolkit (paraphrase tables).
* ROUGE-L: pycocoevalcap ``Rouge`` — LCS F-measure with beta = 1.2, from the
  best precision and best recall over the references, mean over predictions.
  (rouge-score's ``rougeL`` is the beta = 1 F1 of one reference.)
* CIDEr-D: pycocoevalcap ``Cider`` — 1..4-grams, tf-idf with document
  frequencies from the references of the whole evaluated corpus, clipped
  cosine similarity, Gaussian length penalty sigma = 6, times 10. It needs a
  corpus: for a single prediction every idf is 0, and so is the score.

A prediction without words (the model said nothing) scores 0 on every metric.
No predictions, a prediction without references, or a reference without
words are input errors and raise ``ValueError``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

__all__ = ["bleu", "cider_d", "meteor", "porter_stem", "rouge_l", "text_metrics", "tokenize"]

Tokens = list[str]
_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019")


def tokenize(text: str) -> Tokens:
    """Lowercase words and numbers: "Don't crop the horizon!" -> don't->dont, crop, ..."""
    return _WORD.findall(text.lower().translate(_APOSTROPHES))


def _prepare(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[list[Tokens], list[list[Tokens]]]:
    if isinstance(predictions, str):
        raise ValueError("predictions is a string; pass a list of predictions")
    if len(predictions) == 0:
        raise ValueError("no predictions to score")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    hyps = [tokenize(p) for p in predictions]
    refs = []
    for i, group in enumerate(references):
        if isinstance(group, str):
            raise ValueError(f"references[{i}] is a string; pass a list of reference strings")
        if len(group) == 0:
            raise ValueError(f"prediction {i} has no references")
        tokens = [tokenize(r) for r in group]
        if not all(tokens):
            raise ValueError(f"prediction {i} has a reference without words")
        refs.append(tokens)
    return hyps, refs


def _ngrams(tokens: Tokens, max_n: int) -> Counter[tuple[str, ...]]:
    return Counter(
        tuple(tokens[i : i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1)
    )


# -- BLEU ---------------------------------------------------------------------


def _bleu(hyps: list[Tokens], refs: list[list[Tokens]], max_n: int = 4) -> list[float]:
    matched = [0] * max_n
    guessed = [0] * max_n
    hyp_length = ref_length = 0
    for hyp, group in zip(hyps, refs, strict=True):
        best = Counter[tuple[str, ...]]()
        for ref in group:
            best |= _ngrams(ref, max_n)  # element-wise max: clipping counts
        for gram, count in _ngrams(hyp, max_n).items():
            matched[len(gram) - 1] += min(count, best[gram])
        for n in range(max_n):
            guessed[n] += max(0, len(hyp) - n)
        hyp_length += len(hyp)
        ref_length += min((abs(len(r) - len(hyp)), len(r)) for r in group)[1]
    if hyp_length == 0:
        return [0.0] * max_n
    brevity = math.exp(min(0.0, 1.0 - ref_length / hyp_length))
    scores, log_sum = [], 0.0
    for n in range(max_n):
        if matched[n] == 0:
            return scores + [0.0] * (max_n - n)
        log_sum += math.log(matched[n] / guessed[n])
        scores.append(brevity * math.exp(log_sum / (n + 1)))
    return scores


def bleu(
    predictions: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4
) -> list[float]:
    """Corpus BLEU-1..``max_n`` (pycocoevalcap's ``Bleu``, "closest" reference length)."""
    return _bleu(*_prepare(predictions, references), max_n=max_n)


# -- METEOR -------------------------------------------------------------------


def _match_stage(
    hyp: Tokens, ref: Tokens, hyp_left: list[int], ref_left: list[int]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """NLTK's greedy alignment: hypothesis words right to left, each to the
    rightmost unused reference word with the same form."""
    slots: defaultdict[str, list[int]] = defaultdict(list)
    for j in ref_left:
        slots[ref[j]].append(j)
    pairs = [(i, slots[hyp[i]].pop()) for i in reversed(hyp_left) if slots.get(hyp[i])]
    used_h = {i for i, _ in pairs}
    used_r = {j for _, j in pairs}
    return (
        pairs,
        [i for i in hyp_left if i not in used_h],
        [j for j in ref_left if j not in used_r],
    )


def _align(hyp: Tokens, ref: Tokens) -> list[tuple[int, int]]:
    exact, hyp_left, ref_left = _match_stage(hyp, ref, list(range(len(hyp))), list(range(len(ref))))
    stems_h = [porter_stem(w) for w in hyp]
    stems_r = [porter_stem(w) for w in ref]
    stemmed, _, _ = _match_stage(stems_h, stems_r, hyp_left, ref_left)
    return sorted(exact + stemmed)


def _chunks(alignment: list[tuple[int, int]]) -> int:
    breaks = sum(1 for (i, j), (k, m) in pairwise(alignment) if (k, m) != (i + 1, j + 1))
    return breaks + 1


def _meteor_pair(
    hyp: Tokens, ref: Tokens, alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5
) -> float:
    alignment = _align(hyp, ref)
    if not alignment:
        return 0.0
    precision, recall = len(alignment) / len(hyp), len(alignment) / len(ref)
    fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
    penalty = gamma * (_chunks(alignment) / len(alignment)) ** beta
    return (1 - penalty) * fmean


def _meteor(hyps: list[Tokens], refs: list[list[Tokens]]) -> float:
    best = (max(_meteor_pair(h, r) for r in group) for h, group in zip(hyps, refs, strict=True))
    return sum(best) / len(hyps)


def meteor(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean sentence METEOR, as NLTK's ``meteor_score`` without WordNet synonyms."""
    return _meteor(*_prepare(predictions, references))


# -- ROUGE-L ------------------------------------------------------------------


def _lcs_length(a: Tokens, b: Tokens) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _rouge_l_sentence(hyp: Tokens, group: list[Tokens], beta: float) -> float:
    if not hyp:
        return 0.0
    lcs = [_lcs_length(hyp, ref) for ref in group]
    precision = max(n / len(hyp) for n in lcs)
    recall = max(n / len(ref) for n, ref in zip(lcs, group, strict=True))
    if precision == 0 or recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


def _rouge_l(hyps: list[Tokens], refs: list[list[Tokens]], beta: float = 1.2) -> float:
    scores = (_rouge_l_sentence(h, group, beta) for h, group in zip(hyps, refs, strict=True))
    return sum(scores) / len(hyps)


def rouge_l(
    predictions: Sequence[str], references: Sequence[Sequence[str]], beta: float = 1.2
) -> float:
    """Mean ROUGE-L F-measure (pycocoevalcap's ``Rouge``, beta = 1.2)."""
    return _rouge_l(*_prepare(predictions, references), beta=beta)


# -- CIDEr-D ------------------------------------------------------------------


Vector = dict[tuple[str, ...], float]


def _tfidf(
    counts: Counter[tuple[str, ...]], idf: Vector, unseen_idf: float, n: int
) -> tuple[list[Vector], list[float]]:
    """Per n-gram order: the tf-idf vector and its norm."""
    vectors: list[Vector] = [{} for _ in range(n)]
    for gram, count in counts.items():
        vectors[len(gram) - 1][gram] = count * idf.get(gram, unseen_idf)
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    return vectors, norms


def _clipped_cosine(hyp: Vector, ref: Vector, norm_hyp: float, norm_ref: float) -> float:
    """CIDEr-D's cosine: the hypothesis' weights are clipped at the reference's."""
    if norm_hyp == 0 or norm_ref == 0:
        return 0.0
    dot = sum(min(v, ref.get(g, 0.0)) * ref.get(g, 0.0) for g, v in hyp.items())
    return dot / (norm_hyp * norm_ref)


def _cider_d(hyps: list[Tokens], refs: list[list[Tokens]], n: int = 4, sigma: float = 6.0) -> float:
    ref_counts = [[_ngrams(r, n) for r in group] for group in refs]
    document_frequency = Counter(gram for group in ref_counts for gram in set().union(*group))
    log_docs = math.log(len(hyps))
    # An n-gram no reference has gets idf log N (pycocoevalcap: df counts as 1).
    idf = {gram: log_docs - math.log(df) for gram, df in document_frequency.items()}
    total = 0.0
    for hyp, group in zip(hyps, ref_counts, strict=True):
        vec_h, norm_h = _tfidf(_ngrams(hyp, n), idf, log_docs, n)
        hyp_length = len(hyp)
        for counts in group:
            vec_r, norm_r = _tfidf(counts, idf, log_docs, n)
            ref_length = sum(c for g, c in counts.items() if len(g) == 1)
            penalty = math.exp(-((hyp_length - ref_length) ** 2) / (2 * sigma**2))
            similarity = sum(
                _clipped_cosine(vec_h[k], vec_r[k], norm_h[k], norm_r[k]) for k in range(n)
            )
            total += 10.0 * penalty * similarity / n / len(group)
    return total / len(hyps)


def cider_d(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus CIDEr-D (pycocoevalcap's ``Cider``: n = 4, sigma = 6, x10)."""
    return _cider_d(*_prepare(predictions, references))


# -- everything at once -------------------------------------------------------


def text_metrics(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """``bleu_1``..``bleu_4``, ``meteor``, ``rouge_l``, ``cider_d`` and ``n``.

    ``references[i]`` is the list of reference critiques for ``predictions[i]``.
    """
    hyps, refs = _prepare(predictions, references)
    result: dict[str, float] = {
        f"bleu_{k}": score for k, score in enumerate(_bleu(hyps, refs), start=1)
    }
    result["meteor"] = _meteor(hyps, refs)
    result["rouge_l"] = _rouge_l(hyps, refs)
    result["cider_d"] = _cider_d(hyps, refs)
    result["n"] = len(hyps)
    return result


# -- Porter stemmer -----------------------------------------------------------
# Porter (1980) with the two changes in Martin Porter's own implementations
# (tartarus.org): step 2 has "bli" -> "ble" (not "abli") and "logi" -> "log",
# and words of one or two letters are left alone. Same as NLTK's
# PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS).


def _consonants(word: str) -> list[bool]:
    flags: list[bool] = []
    for i, ch in enumerate(word):
        if ch in "aeiou":
            flags.append(False)
        elif ch == "y":  # a consonant unless it follows a consonant
            flags.append(i == 0 or not flags[i - 1])
        else:
            flags.append(True)
    return flags


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in [C](VC)^m[V]."""
    pattern = "".join("c" if c else "v" for c in _consonants(stem))
    return pattern.count("vc")


def _has_vowel(stem: str) -> bool:
    return not all(_consonants(stem))


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonants(word)[-1]


def _ends_cvc(word: str) -> bool:
    if len(word) < 3 or word[-1] in "wxy":
        return False
    return _consonants(word)[-3:] == [True, False, True]


def _replace_first(word: str, rules: Sequence[tuple[str, str]], min_measure: int) -> str:
    """The first rule whose suffix ends the word decides, applied or not."""
    for suffix, replacement in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            if _measure(stem) < min_measure:
                return word
            if suffix == "ion" and not stem.endswith(("s", "t")):
                return word
            return stem + replacement
    return word


_STEP2 = (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
    ("izer", "ize"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"),
    ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"), ("ator", "ate"),
    ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"),
    ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"), ("logi", "log"),
)  # fmt: skip
_STEP3 = (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
    ("ful", ""), ("ness", ""),
)  # fmt: skip
_STEP4 = tuple(
    (suffix, "")
    for suffix in (
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
        "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    )
)  # fmt: skip


def _step1(word: str) -> str:
    for suffix, replacement in (("sses", "ss"), ("ies", "i"), ("ss", "ss"), ("s", "")):
        if word.endswith(suffix):
            word = word[: len(word) - len(suffix)] + replacement
            break
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = _tidy_1b(word[: -len(suffix)])
                break
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    return word


def _tidy_1b(stem: str) -> str:
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if _ends_double_consonant(stem):
        return stem if stem[-1] in "lsz" else stem[:-1]
    if _measure(stem) == 1 and _ends_cvc(stem):
        return stem + "e"
    return stem


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _ends_cvc(stem)):
            word = stem
    if word.endswith("ll") and _measure(word[:-1]) > 1:
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)
def porter_stem(word: str) -> str:
    """Porter stem of a lowercase word (Martin Porter's reference version)."""
    if len(word) <= 2:
        return word
    word = _step1(word)
    word = _replace_first(word, _STEP2, 1)
    word = _replace_first(word, _STEP3, 1)
    word = _replace_first(word, _STEP4, 2)
    return _step5(word)
