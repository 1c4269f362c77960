"""Pretrained scorers' faster CPU path: the int8 ONNX export (made once, parity-checked against
torch, cached by the install record's hashes), and the torch fallback when it is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.scoring.pretrained import onnx_int8
from critique_app.core.scoring.pretrained.onnx_int8 import (
    PARITY_TOLERANCE,
    cache_path,
    int8_session,
    parity_inputs,
    score_difference,
)
from critique_app.core.scoring.pretrained.registry import ARCHITECTURES
from critique_app.core.util.errors import ModelError
from tests.helpers.photos import PHOTOS, load_rgb
from tests.helpers.score_models import (
    LAION,
    LAION_ARCHITECTURE,
    NIMA_ARCHITECTURE,
    install_pretrained,
    save_tiny_laion,
)

LAION_INPUT = ARCHITECTURES[LAION_ARCHITECTURE].input


def test_parity_inputs_are_fixed_normalised_photo_sized_batches():
    first, again = parity_inputs(LAION_INPUT), parity_inputs(LAION_INPUT)
    assert first.shape == (4, 3, 224, 224) and first.dtype == np.float32
    assert np.array_equal(first, again)
    pixels = first * np.float32(LAION_INPUT.std)[:, None, None] + np.float32(
        LAION_INPUT.mean)[:, None, None]
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    assert len({round(float(image.mean()), 3) for image in first}) == 4  # four different images


def test_score_difference_compares_means_of_means_and_of_distributions():
    assert score_difference(np.array([5.0, 6.0]), np.array([5.05, 5.9])) == pytest.approx(0.1)
    one_hot = np.eye(10)[[4, 6]]  # scores 5 and 7
    shifted = np.eye(10)[[4, 7]]  # 5 and 8
    assert score_difference(one_hot, shifted) == pytest.approx(1.0)


def test_only_measured_architectures_take_the_int8_path():
    def never():
        raise AssertionError("the torch model must not be loaded for an unmeasured one")

    assert int8_session(NIMA_ARCHITECTURE, "nima:x:crop", LAION_INPUT, never, "state") is None


@pytest.fixture
def tiny_laion_store(tmp_path):
    return install_pretrained(tmp_path / "models", save_tiny_laion(tmp_path / "download"),
                              name=LAION, architecture=LAION_ARCHITECTURE)


def _photos() -> np.ndarray:
    return np.stack([to_network_input(load_rgb(name).astype(np.float32) / 255, LAION_INPUT)
                     for name in PHOTOS])


@pytest.mark.slow
def test_laion_on_cpu_runs_the_int8_export_and_agrees_with_torch(tiny_laion_store, monkeypatch):
    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
    from critique_app.core.scoring.scorer import find_scorers

    fast = find_scorers(tiny_laion_store, device="cpu").photo
    assert fast.runtime == "onnx-int8" and fast.provider == "ONNX Runtime int8 (CPU)"
    assert cache_path(fast.version).is_file()  # cached by the install record's hashes
    assert fast._net is None  # torch's copy was dropped after the export
    plain = PretrainedScorer.from_store(tiny_laion_store, LAION, device="cpu", runtime="torch")
    assert plain.runtime == "torch" and plain.provider == "torch (CPU)"
    assert plain.version == fast.version  # same model, same results-cache entries

    photos = _photos()
    quick = fast.score(photos)
    exact = plain.score(photos)
    assert all(not s.has_distribution for s in quick)
    difference = max(abs(a.mean - b.mean) for a, b in zip(quick, exact, strict=True))
    assert difference <= PARITY_TOLERANCE
    # a photo's score does not depend on the photos that share its batch (int8 activations
    # are scaled per call: each photo runs alone)
    alone = [fast.score(photos[i:i + 1])[0].mean for i in range(len(photos))]
    backwards = [s.mean for s in fast.score(photos[::-1])][::-1]
    assert alone == pytest.approx([s.mean for s in quick], abs=1e-6)
    assert backwards == pytest.approx([s.mean for s in quick], abs=1e-6)
    # the torch network is still there on demand (loaded on first use)
    assert fast.net is not None and fast._net is not None

    # a second start uses the cached export: nothing is exported again
    def no_export(*args):
        raise AssertionError("exported again")

    with monkeypatch.context() as patched:
        patched.setattr(onnx_int8, "export_int8", no_export)
        again = PretrainedScorer.from_store(tiny_laion_store, LAION, device="cpu")
    assert again.runtime == "onnx-int8" and again._net is None
    made = json.loads(cache_path(fast.version).with_suffix(".json").read_text())
    assert made["max_difference_from_torch"] <= PARITY_TOLERANCE

    # files changed under the export (here: a damaged head) are loaded again, and refused as
    # torch would refuse them, never answered by the old export
    head = tiny_laion_store.folder(LAION) / "head" / "sac+logos+ava1-l14-linearMSE.pth"
    head.write_text("<html>not the head</html>")
    with pytest.raises(ModelError, match="will not load as plain weights"):
        PretrainedScorer.from_store(tiny_laion_store, LAION, device="cpu")
    assert not cache_path(fast.version).with_suffix(".refused.json").exists()


@pytest.mark.slow
def test_an_export_that_fails_the_parity_check_is_refused_and_torch_scores(
        tiny_laion_store, monkeypatch, caplog):
    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer

    monkeypatch.setattr(onnx_int8, "PARITY_TOLERANCE", -1.0)  # nothing can pass
    scorer = PretrainedScorer.from_store(tiny_laion_store, LAION, device="cpu")
    assert scorer.runtime == "torch" and scorer.provider == "torch (CPU)"
    path = cache_path(scorer.version)
    assert not path.exists()
    refusal = json.loads(path.with_suffix(".refused.json").read_text())
    assert "differs from torch" in refusal["why"] and "running with torch" in caplog.text
    assert np.isfinite(scorer.score(_photos()[:2])[0].mean)

    # the refusal is remembered: the next start does not export again
    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_int8, "export_int8", no_export)
    assert PretrainedScorer.from_store(tiny_laion_store, LAION, device="cpu").runtime == "torch"


@pytest.mark.slow
def test_export_int8_refuses_without_writing(tiny_laion_store, tmp_path, monkeypatch):
    from critique_app.core.scoring.pretrained.laion import load_laion

    net = load_laion(tiny_laion_store.folder(LAION))
    monkeypatch.setattr(onnx_int8, "PARITY_TOLERANCE", -1.0)
    target = tmp_path / "out" / "m-int8.onnx"
    with pytest.raises(ModelError, match="differs from torch"):
        onnx_int8.export_int8(net, LAION_INPUT, target)
    assert not target.exists() and list(target.parent.iterdir()) == []
