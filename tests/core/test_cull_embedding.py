"""Frames' backbone embeddings: from the forward pass that scores them, stored small in the
facts, compared only between frames of one model, with thresholds measured on real photos."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from critique_app.core.culling import embedding
from critique_app.core.culling.facts import FaceSetup
from critique_app.core.culling.look import likeness
from critique_app.core.culling.runner import FrameFacts, cull_photos
from critique_app.core.scoring.scorer import Scorer, ScorerSet
from tests.helpers.bursts import add_burst, new_shoot

NO_FACES = FaceSetup(None, None, "faces-none")


def test_encoded_embedding_is_small_unit_length_and_keeps_the_cosine():
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(size=1280)).astype(np.float32)  # non-negative, as pooled ReLU6
    b = a + np.abs(rng.normal(scale=0.5, size=1280)).astype(np.float32)
    exact = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    ea, eb = embedding.encode(a), embedding.encode(b)
    assert len(ea) <= 2048 and len(embedding.encode(rng.normal(size=1536))) <= 2048
    assert np.linalg.norm(embedding.decode(ea)) == pytest.approx(1.0)
    got = embedding.cosine({"embedding": ea, "embedding_model": "m"},
                           {"embedding": eb, "embedding_model": "m"})
    assert got == pytest.approx(exact, abs=2e-3)


def test_embeddings_of_different_models_never_compare():
    vector = embedding.encode(np.ones(8))
    a = {"embedding": vector, "embedding_model": "tf_efficientnet_lite0/one:1:p"}
    b = {"embedding": vector, "embedding_model": "tf_efficientnet_lite0/two:2:p"}
    assert embedding.cosine(a, a) == pytest.approx(1.0)
    assert embedding.cosine(a, b) is None
    assert embedding.cosine(a, {"embedding": None, "embedding_model": None}) is None
    assert embedding.thresholds(a) == embedding.THRESHOLDS["tf_efficientnet_lite0"]
    assert embedding.thresholds({"embedding_model": "clip-vit-l14/x"}) == embedding.UNMEASURED


def test_a_trained_model_scores_and_embeds_in_one_pass_torch_and_onnx(tiny_model):
    from critique_app.core.scoring.onnx_runtime import EMBEDDING_NAME, EXPORT_VERSION

    batch = np.random.default_rng(1).uniform(-1, 1, (3, 3, 64, 64)).astype(np.float32)
    torch_scorer = Scorer(tiny_model, runtime="torch")
    onnx_scorer = Scorer(tiny_model, runtime="onnx")
    assert EXPORT_VERSION in onnx_scorer._onnx.path.name
    assert EMBEDDING_NAME in [o.name for o in onnx_scorer._onnx.session.get_outputs()]
    for scorer in (torch_scorer, onnx_scorer):
        scores, vectors = scorer.score_and_embed(batch)
        assert vectors.shape == (3, torch_scorer.net.backbone.num_features)
        assert vectors.dtype == np.float32
        assert [s.mean for s in scores] == pytest.approx([s.mean for s in scorer.score(batch)],
                                                         abs=1e-5)
    assert torch_scorer.embedding_model == onnx_scorer.embedding_model
    assert torch_scorer.embedding_model.startswith("test_efficientnet/tiny-score:")
    np.testing.assert_allclose(onnx_scorer.score_and_embed(batch)[1],
                               torch_scorer.score_and_embed(batch)[1], atol=1e-4)


def test_a_mean_model_embeds_its_pooled_features(tmp_path):
    from tests.helpers.score_models import save_tiny_mean_scorer

    scorer = Scorer(save_tiny_mean_scorer(tmp_path / "mean", steps=5), runtime="onnx")
    batch = np.zeros((2, 3, 64, 64), np.float32)
    scores, vectors = scorer.score_and_embed(batch)
    assert len(scores) == 2 and scores[0].probabilities is None
    assert vectors.shape == (2, scorer.net.backbone.num_features)


@pytest.mark.slow  # builds a tiny CLIP
def test_laion_embeds_clip_image_embeddings(tmp_path):
    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
    from tests.helpers.score_models import (
        LAION,
        LAION_ARCHITECTURE,
        install_pretrained,
        save_tiny_laion,
    )

    store = install_pretrained(tmp_path / "models", save_tiny_laion(tmp_path / "laion"),
                               name=LAION, architecture=LAION_ARCHITECTURE)
    scorer = PretrainedScorer.from_store(store, LAION, device="cpu", runtime="torch")
    batch = np.random.default_rng(2).normal(size=(2, 3, 224, 224)).astype(np.float32)
    scores, vectors = scorer.score_and_embed(batch)
    assert vectors.shape == (2, 768)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert [s.mean for s in scores] == pytest.approx([s.mean for s in scorer.score(batch)])
    assert scorer.embedding_model.startswith("clip-vit-l14/laion-aesthetic-v2:")


def test_without_a_score_model_there_is_no_embedding_and_the_notes_say_so(tmp_path):
    from critique_app.core.library.results_cache import ResultsCache

    shoot = new_shoot(tmp_path / "shoot")
    add_burst(shoot, "coffee", roles=("sharp", "shaken"), seed=3)
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        found = cull_photos(shoot.paths, cache=cache, scorers=ScorerSet(),
                            step=FrameFacts(face_setup=NO_FACES))
    assert all(f["embedding"] is None and f["embedding_model"] is None for f in found.facts)
    assert any("without a backbone embedding" in note and "no score model" in note
               for note in found.notes)


def test_a_cull_after_a_score_embeds_the_photos_whose_score_rows_were_cached(tiny_model,
                                                                             tmp_path):
    """Their score rows are reused; the model runs once more for their embeddings only."""
    from critique_app.core.folder_scoring.runner import score_photos
    from critique_app.core.library.results_cache import ResultsCache

    shoot = new_shoot(tmp_path / "shoot")
    add_burst(shoot, "coffee", roles=("sharp", "shaken", "defocused"), seed=3)
    scorers = ScorerSet({"photo": Scorer(tiny_model, runtime="torch")})
    step = FrameFacts(face_setup=NO_FACES)
    with ResultsCache(tmp_path / "scored.sqlite") as cache:
        score_photos(shoot.paths, cache=cache, scorers=scorers)
        after_score = cull_photos(shoot.paths, cache=cache, scorers=scorers, step=step)
        again = cull_photos(shoot.paths, cache=cache, scorers=scorers, step=step)
    with ResultsCache(tmp_path / "fresh.sqlite") as cache:
        fresh = cull_photos(shoot.paths, cache=cache, scorers=scorers, step=step)
    assert after_score.computed == 3 and again.cached == 3
    for a, b in zip(after_score.facts, fresh.facts, strict=True):
        assert a["embedding_model"] == b["embedding_model"] == scorers.photo.embedding_model
        assert embedding.cosine(a, b) == pytest.approx(1.0, abs=1e-3)
    assert [f["embedding"] for f in again.facts] == [f["embedding"] for f in after_score.facts]


# --- real embeddings: EfficientNet-Lite0 (ImageNet), installed offline from its wheel ----

@pytest.fixture(scope="module")
def lite0_model(tmp_path_factory, lite0_store):
    """A score model on the real ImageNet EfficientNet-Lite0 (its head untrained: the
    embedding is the backbone's, which is what culling compares)."""
    import torch

    from critique_app.core.scoring.backbone import (
        LITE0,
        LITE0_INPUT,
        pretrained_lite0,
    )
    from critique_app.core.scoring.model import ScoreNet
    from critique_app.core.scoring.package import Training, save_score_model

    torch.manual_seed(0)
    net = ScoreNet(pretrained_lite0(lite0_store)).eval()
    training = Training(dataset="none (tests)", samples=1, epochs=0.0,
                        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        metrics={})
    return save_score_model(net, tmp_path_factory.mktemp("lite0") / "lite0-score",
                            name="lite0-score", backbone=LITE0, modality="photo",
                            input_spec=LITE0_INPUT, training=training)


@pytest.fixture(scope="module")
def two_subjects(tmp_path_factory):
    """A burst of the cat, then 0.3 s later a burst of the coffee cup: one time run."""
    shoot = new_shoot(tmp_path_factory.mktemp("shoot"))
    add_burst(shoot, "chelsea", seed=1)
    shoot.wait(0.3)
    add_burst(shoot, "coffee", roles=("sharp", "shaken", "defocused", "shaken"), seed=2)
    return shoot


@pytest.mark.slow  # pulls Lite0, exports it to ONNX, scores 9 photos
def test_lite0_embeddings_are_stored_cached_and_split_two_subjects(lite0_model, two_subjects,
                                                                   tmp_path):
    from critique_app.core.culling.grouping import group_frames
    from critique_app.core.library.results_cache import ResultsCache
    from tests.helpers.score_models import save_tiny_scorer

    scorers = ScorerSet({"photo": Scorer(lite0_model)})  # ONNX on the CPU, as folders score
    step = FrameFacts(face_setup=NO_FACES)
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        first = cull_photos(two_subjects.paths, cache=cache, scorers=scorers, step=step)
        again = cull_photos(two_subjects.paths, cache=cache, scorers=scorers, step=step)
        other = cull_photos(two_subjects.paths, cache=cache, step=step, scorers=ScorerSet(
            {"photo": Scorer(save_tiny_scorer(tmp_path / "tiny", steps=5))}))
    model = scorers.photo.embedding_model
    assert model.startswith("tf_efficientnet_lite0/lite0-score:")
    assert first.computed == 9 and again.cached == 9 and again.computed == 0
    for facts, cached in zip(first.facts, again.facts, strict=True):
        assert facts["embedding_model"] == model
        assert isinstance(facts["embedding"], str) and len(facts["embedding"]) <= 2048
        assert cached["embedding"] == facts["embedding"]
    frames = [{**f, "path": str(p)} for f, p in zip(first.facts, two_subjects.paths, strict=True)]
    assert [[two_subjects.paths[i].name for i in g.members] for g in group_frames(frames)] \
        == two_subjects.groups
    same, different = embedding.thresholds(frames[0])
    cat, cup = frames[:5], frames[5:]
    for a, b in itertools.pairwise(cat):  # a burst's neighbours: the embedding votes "same"
        assert likeness(a, b).embed >= same
    for a, b in itertools.pairwise(cup):
        assert likeness(a, b).embed >= same
    assert all(likeness(a, b).embed < different for a in cat for b in cup)
    # another model's facts (recomputed: the version names the model) never compare
    assert other.computed == 9
    assert other.facts[0]["embedding_model"].startswith("test_efficientnet/")
    assert likeness(frames[0], other.facts[0]).embed is None
