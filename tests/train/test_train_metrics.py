"""train.metrics: score metrics against scipy, text metrics against their reference
implementations (pycocoevalcap, NLTK, rouge-score), and the persona permutation tests."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from train.metrics import (
    binary_accuracy,
    bleu,
    cider_d,
    compare_personas,
    emd,
    meteor,
    paired_feature_test,
    plcc,
    rouge_l,
    score_metrics,
    srcc,
    text_metrics,
    tokenize,
    vocabulary_test,
)
from train.metrics.persona_test import FEATURES
from train.metrics.scores import average_ranks
from train.metrics.text import porter_stem

# -- scores -------------------------------------------------------------------


def _scores_with_ties(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = np.round(rng.normal(5.5, 1.0, n), 1)  # rounding makes ties
    pred = np.round(target + rng.normal(0, 0.8, n), 0)
    return pred, target


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlations_match_scipy(seed):
    stats = pytest.importorskip("scipy.stats")
    pred, target = _scores_with_ties(seed)
    np.testing.assert_allclose(average_ranks(pred), stats.rankdata(pred))
    assert srcc(pred, target) == pytest.approx(stats.spearmanr(pred, target)[0], abs=1e-12)
    assert plcc(pred, target) == pytest.approx(stats.pearsonr(pred, target)[0], abs=1e-12)


@pytest.mark.parametrize(
    ("pred", "target"),
    [
        ([5.0, 5.0, 5.0], [4.0, 5.0, 6.0]),  # constant predictions
        ([1.0, 2.0, 3.0], [7.0, 7.0, 7.0]),  # constant targets
        ([5.0], [6.0]),  # n < 2
        ([], []),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0]),  # a diverged model
    ],
)
def test_degenerate_correlations_are_nan_without_warnings(pred, target):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(srcc(pred, target))
        assert math.isnan(plcc(pred, target))


def test_mismatched_inputs_raise():
    with pytest.raises(ValueError, match="equal length"):
        srcc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="shapes differ"):
        emd(np.ones((2, 10)), np.ones((3, 10)))
    with pytest.raises(ValueError, match="positive total"):
        emd(np.zeros(10), np.ones(10))


def test_emd_follows_nima():
    low, high = np.eye(10)[0], np.eye(10)[9]
    # CDFs differ by 1 in the first 9 of 10 bins.
    assert emd(low, high) == pytest.approx(math.sqrt(9 / 10))
    assert emd(low, high, r=1) == pytest.approx(9 / 10)
    votes = np.array([0, 1, 4, 12, 30, 40, 20, 8, 3, 1], dtype=float)
    assert emd(votes, votes * 3) == pytest.approx(0.0)  # rows are normalised
    assert emd([votes, low], [votes, high]) == pytest.approx(math.sqrt(9 / 10) / 2)


def test_emd_r1_is_the_wasserstein_distance_over_bins():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    p, q = rng.random(10), rng.random(10)
    bins = np.arange(1, 11)
    w1 = stats.wasserstein_distance(bins, bins, u_weights=p, v_weights=q)
    assert emd(p, q, r=1) == pytest.approx(w1 / 10)


def test_binary_accuracy_at_five():
    pred = [4.9, 5.0, 6.2, 3.0]
    target = [4.0, 4.99, 5.0, 6.0]
    # agree, disagree (5.0 is "high"), agree, disagree
    assert binary_accuracy(pred, target) == pytest.approx(0.5)
    assert binary_accuracy(pred, target, threshold=4.0) == pytest.approx(0.75)
    assert math.isnan(binary_accuracy([], []))


def test_score_metrics_combines_the_parts():
    rng = np.random.default_rng(4)
    target = rng.dirichlet(np.ones(10), size=40)
    pred = 0.7 * target + 0.3 * rng.dirichlet(np.ones(10), size=40)
    result = score_metrics(pred, target)
    means = np.arange(1, 11)
    assert set(result) == {"srcc", "plcc", "emd", "accuracy", "n"}
    assert result["n"] == 40
    assert result["srcc"] == pytest.approx(srcc(pred @ means, target @ means))
    assert result["plcc"] == pytest.approx(plcc(pred @ means, target @ means))
    assert result["emd"] == pytest.approx(emd(pred, target))
    assert result["accuracy"] == pytest.approx(binary_accuracy(pred @ means, target @ means))


def test_score_metrics_of_a_collapsed_model_is_nan_not_a_crash():
    target = np.random.default_rng(5).dirichlet(np.ones(10), size=8)
    pred = np.tile(np.full(10, 0.1), (8, 1))  # the same prediction for every photo
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = score_metrics(pred, target)
    assert math.isnan(result["srcc"]) and math.isnan(result["plcc"])
    assert result["emd"] > 0


# -- text ---------------------------------------------------------------------

PREDICTIONS = [
    "The horizon is tilted; straighten it and crop tighter on the boat.",
    "Lovely warm light, but the subject's face is in shadow.",
    "A sharp portrait with a busy background that distracts from the eyes.",
    "Colours are washed out.",
    "The leading lines draw the eye to the lighthouse at sunset.",
]
REFERENCES = [
    [
        "The horizon tilts to the left; straighten it and crop closer to the boat.",
        "Crop tighter on the boat and fix the tilted horizon.",
    ],
    [
        "Warm, lovely light, though the face of the subject falls into shadow.",
        "The light is warm but her face is shadowed.",
        "Use a reflector to lift the shadows on the face.",
    ],
    ["The portrait is sharp, but the busy background distracts from her eyes."],
    ["The colours look washed out and flat.", "Colours are dull; add contrast."],
    [
        "Leading lines take the eye straight to the lighthouse.",
        "A sunset lighthouse with strong leading lines.",
    ],
]


def _coco(predictions, references):
    """pycocoevalcap's input: dicts of space-joined, pre-tokenised sentences."""
    res = {i: [" ".join(tokenize(p))] for i, p in enumerate(predictions)}
    gts = {i: [" ".join(tokenize(r)) for r in refs] for i, refs in enumerate(references)}
    return gts, res


def test_tokenize_lowercases_and_strips_punctuation():
    assert tokenize("Don't crop the HORIZON—it's 1/3 down!") == [
        "dont",
        "crop",
        "the",
        "horizon",
        "its",
        "1",
        "3",
        "down",
    ]
    assert tokenize("  ...  ") == []


def test_bleu_matches_pycocoevalcap():
    pytest.importorskip("pycocoevalcap.bleu.bleu")
    from pycocoevalcap.bleu.bleu import Bleu

    expected, _ = Bleu(4).compute_score(*_coco(PREDICTIONS, REFERENCES), verbose=0)
    assert bleu(PREDICTIONS, REFERENCES) == pytest.approx(expected, abs=1e-6)


def test_bleu_without_matches_is_zero_where_pycocoevalcap_is_merely_tiny():
    pytest.importorskip("pycocoevalcap.bleu.bleu")
    from pycocoevalcap.bleu.bleu import Bleu

    predictions, references = ["a red door"], [["the red wall of a house"]]
    ours = bleu(predictions, references)
    theirs, _ = Bleu(4).compute_score(*_coco(predictions, references), verbose=0)
    assert ours[0] == pytest.approx(theirs[0], abs=1e-6)
    assert ours[1:] == [0.0, 0.0, 0.0]  # no 2-gram matches
    assert all(0 < t < 1e-3 for t in theirs[1:])  # their 1e-15 smoothing


def test_cider_d_matches_pycocoevalcap():
    pytest.importorskip("pycocoevalcap.cider.cider")
    from pycocoevalcap.cider.cider import Cider

    expected, _ = Cider().compute_score(*_coco(PREDICTIONS, REFERENCES))
    assert cider_d(PREDICTIONS, REFERENCES) == pytest.approx(expected, abs=1e-6)


def test_rouge_l_matches_pycocoevalcap():
    pytest.importorskip("pycocoevalcap.rouge.rouge")
    from pycocoevalcap.rouge.rouge import Rouge

    expected, _ = Rouge().compute_score(*_coco(PREDICTIONS, REFERENCES))
    assert rouge_l(PREDICTIONS, REFERENCES) == pytest.approx(expected, abs=1e-6)


def test_rouge_l_with_beta_1_is_rouge_scores_f1():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for prediction, refs in zip(PREDICTIONS, REFERENCES, strict=True):
        expected = scorer.score(" ".join(tokenize(refs[0])), " ".join(tokenize(prediction)))
        ours = rouge_l([prediction], [refs[:1]], beta=1.0)
        assert ours == pytest.approx(expected["rougeL"].fmeasure, abs=1e-6)


class _NoWordNet:
    """Stands in for NLTK's WordNet reader, whose data cannot be downloaded here."""

    def synsets(self, word):
        return []


def test_porter_stem_matches_nltk_martin_extensions():
    porter = pytest.importorskip("nltk.stem.porter")
    stemmer = porter.PorterStemmer(mode=porter.PorterStemmer.MARTIN_EXTENSIONS)
    texts = PREDICTIONS + [r for refs in REFERENCES for r in refs]
    words = {w for text in texts for w in tokenize(text)}
    words |= set(
        tokenize(
            "caresses ponies ties cats feed agreed plastered bled motoring sing conflated "
            "troubled sized hopping tanned falling hissing fizzed failing filing happy sky "
            "relational conditional rational valenci digitizer conformabli radicalli "
            "differentli vileli analogousli vietnamization predication operator feudalism "
            "decisiveness hopefulness callousness formaliti sensitiviti sensibiliti "
            "triplicate formative formalize electriciti electrical hopeful goodness revival "
            "allowance inference airliner gyroscopic adjustable defensible irritant "
            "replacement adjustment dependent adoption homologou communism activate "
            "angulariti homologous effective bowdlerize probate rate cease controll roll "
            "archaeology generously oversaturated underexposed bokeh yyyy by is"
        )
    )
    assert {w: porter_stem(w) for w in words} == {w: stemmer.stem(w) for w in words}


def test_meteor_matches_nltk_without_wordnet():
    meteor_score = pytest.importorskip("nltk.translate.meteor_score")
    porter = pytest.importorskip("nltk.stem.porter")
    stemmer = porter.PorterStemmer(mode=porter.PorterStemmer.MARTIN_EXTENSIONS)
    per_sentence = [
        meteor_score.meteor_score(
            [tokenize(r) for r in refs], tokenize(p), stemmer=stemmer, wordnet=_NoWordNet()
        )
        for p, refs in zip(PREDICTIONS, REFERENCES, strict=True)
    ]
    for p, refs, expected in zip(PREDICTIONS, REFERENCES, per_sentence, strict=True):
        assert meteor([p], [refs]) == pytest.approx(expected, abs=1e-6)
    assert meteor(PREDICTIONS, REFERENCES) == pytest.approx(np.mean(per_sentence), abs=1e-6)


def test_text_metrics_combines_the_parts():
    result = text_metrics(PREDICTIONS, REFERENCES)
    assert result["n"] == len(PREDICTIONS)
    assert [result[f"bleu_{k}"] for k in range(1, 5)] == bleu(PREDICTIONS, REFERENCES)
    assert result["meteor"] == meteor(PREDICTIONS, REFERENCES)
    assert result["rouge_l"] == rouge_l(PREDICTIONS, REFERENCES)
    assert result["cider_d"] == cider_d(PREDICTIONS, REFERENCES)
    assert 0 < result["bleu_4"] < result["bleu_1"] < 1
    assert 0 < result["meteor"] < 1 and 0 < result["rouge_l"] < 1 and result["cider_d"] > 0


def test_perfect_predictions_score_highest():
    predictions = [refs[0] for refs in REFERENCES]
    result = text_metrics(predictions, REFERENCES)
    for k in range(1, 5):
        assert result[f"bleu_{k}"] == pytest.approx(1.0)
    assert result["rouge_l"] == pytest.approx(1.0)
    assert result["cider_d"] > text_metrics(PREDICTIONS, REFERENCES)["cider_d"]


def test_an_empty_prediction_scores_zero():
    result = text_metrics([""], [REFERENCES[0]])
    assert all(value == 0 for key, value in result.items() if key != "n")
    # Beside other predictions it counts as a zero in the per-sentence means.
    pair = [PREDICTIONS[1], ""], [REFERENCES[1], REFERENCES[0]]
    assert meteor(*pair) == pytest.approx(meteor([PREDICTIONS[1]], [REFERENCES[1]]) / 2)


@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        ([], [], "no predictions"),
        (["a photo"], [], "1 predictions but 0"),
        (["a photo"], [[]], "no references"),
        (["a photo"], ["a photo"], "is a string"),
        (["a photo"], [["a photo", "!!"]], "without words"),
    ],
)
def test_bad_text_inputs_raise(predictions, references, message):
    with pytest.raises(ValueError, match=message):
        text_metrics(predictions, references)


# -- persona tests ------------------------------------------------------------


def _texts(vocabulary: list[str], n: int, seed: int, length: tuple[int, int] = (8, 20)):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(vocabulary, size=rng.integers(*length))) for _ in range(n)]


SHARED = tokenize("light shadow colour frame subject balance focus texture tone mood")
FORMALIST = tokenize("line geometry symmetry contrast exposure aperture diagonal grid")
ROMANTIC = tokenize("dreamy nostalgia tender whisper glow soul memory longing")


def test_same_distribution_gives_a_large_p():
    a = _texts(SHARED, 30, seed=1)
    b = _texts(SHARED, 30, seed=2)
    assert vocabulary_test(a, b, permutations=500).p_value > 0.05
    identical = vocabulary_test(a, a[::-1], permutations=500)
    assert identical.statistic == pytest.approx(0.0, abs=1e-12)
    assert identical.p_value == pytest.approx(1.0)


def test_different_vocabularies_give_a_small_p():
    a = _texts(SHARED + FORMALIST, 20, seed=3)
    b = _texts(SHARED + ROMANTIC, 20, seed=4)
    result = vocabulary_test(a, b, permutations=500)
    assert result.p_value < 0.05
    assert 0 < result.statistic <= 1
    assert (result.n_a, result.n_b) == (20, 20)
    assert "p = " in result.describe() and "differ" in result.describe()


def test_permutation_tests_are_deterministic_per_seed():
    a = _texts(SHARED + FORMALIST, 12, seed=5)
    b = _texts(SHARED + ROMANTIC[:2], 15, seed=6)
    assert vocabulary_test(a, b, 300, seed=7) == vocabulary_test(a, b, 300, seed=7)
    paired = _texts(SHARED, 15, seed=8)
    assert paired_feature_test(a[:12], paired[:12], permutations=300, seed=7) == (
        paired_feature_test(a[:12], paired[:12], permutations=300, seed=7)
    )


def test_paired_length_test():
    short = _texts(SHARED, 25, seed=9, length=(5, 10))
    long = _texts(SHARED, 25, seed=10, length=(15, 25))
    result = paired_feature_test(long, short)
    assert result.statistic > 0 and result.p_value < 0.05
    assert paired_feature_test(short, long).statistic == pytest.approx(-result.statistic)
    same = paired_feature_test(short, short)
    assert same.statistic == 0 and same.p_value == pytest.approx(1.0)


def test_paired_test_is_exact_for_few_pairs():
    # 3 pairs, all longer in A: only the observed signs and their mirror image
    # are as extreme, 2 of the 2**3 equally likely sign patterns.
    result = paired_feature_test(["a b c", "a b c d", "a b"], ["a", "a", "a"])
    assert result.p_value == pytest.approx(2 / 8)
    assert "exact" in result.method


def test_compare_personas_runs_every_test():
    a = _texts(SHARED, 10, seed=11)
    b = _texts(SHARED, 10, seed=12)
    assert len(compare_personas(a, b, permutations=100)) == 1
    assert len(compare_personas(a, b, paired=True, permutations=100)) == 1 + len(FEATURES)


def test_bad_persona_inputs_raise():
    with pytest.raises(ValueError, match="at least one text"):
        vocabulary_test([], ["a photo"])
    with pytest.raises(ValueError, match="no words"):
        vocabulary_test(["..."], ["!!"])
    with pytest.raises(ValueError, match="paired texts"):
        paired_feature_test(["a", "b"], ["a"])
