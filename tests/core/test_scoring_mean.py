"""Trained score models that predict a mean only (``"output": "mean"`` in their metadata):
what ``python -m train personal`` without ``--base`` writes. The distribution path is
tested unchanged in test_scoring.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from critique_app.core.scoring.onnx_runtime import OnnxScorer, export_onnx
from critique_app.core.scoring.package import load_score_model, read_score_model_info
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.scoring.scorer import Scorer, find_scorers
from critique_app.core.store.store import LOCAL_METADATA, ModelStore
from critique_app.core.util.errors import ModelError
from tests.helpers.score_models import TINY_INPUT, save_tiny_mean_scorer

pytestmark = pytest.mark.slow  # trains a tiny model


@pytest.fixture(scope="module")
def mean_folder(tmp_path_factory):
    return save_tiny_mean_scorer(tmp_path_factory.mktemp("mean") / "tiny-mean")


def _grey_inputs(levels) -> np.ndarray:
    rng = np.random.default_rng(1)
    images = [np.clip(level + rng.normal(0, 0.05, (48, 72, 3)), 0, 1).astype(np.float32)
              for level in levels]
    return np.stack([to_network_input(image, TINY_INPUT) for image in images])


def test_the_metadata_says_mean_and_the_loader_builds_a_one_number_network(mean_folder):
    extra = json.loads((mean_folder / LOCAL_METADATA).read_text())["extra"]
    assert extra["output"] == "mean"
    net, info = load_score_model(mean_folder)
    assert info.output == "mean"
    assert tuple(net(__import__("torch").zeros(2, 3, 64, 64)).shape) == (2,)


def test_mean_only_scores_have_no_histogram_and_rank_what_was_learned(mean_folder):
    for runtime in ("torch", "onnx"):
        scorer = Scorer(mean_folder, runtime=runtime, device="cpu")
        assert scorer.output == "mean"
        dark, mid, bright = scorer.score(_grey_inputs([0.15, 0.5, 0.85]))
        assert dark.mean < mid.mean < bright.mean
        for score in (dark, mid, bright):
            assert score.probabilities is None and score.std is None
            assert score.model == "tiny-mean" and "mean only" in score.short_text()


def test_onnx_and_torch_give_the_same_mean(mean_folder, tmp_path):
    inputs = _grey_inputs([0.1, 0.3, 0.6, 0.9])
    torch_means = Scorer(mean_folder, runtime="torch").probabilities(inputs)
    assert torch_means.shape == (4,)
    onnx_scorer = Scorer(mean_folder, runtime="onnx", device="cpu")
    assert np.abs(onnx_scorer.probabilities(inputs) - torch_means).max() < 1e-4
    net, _ = load_score_model(mean_folder)
    direct = OnnxScorer(export_onnx(net, tmp_path / "m.onnx", 64, output="mean"), device="cpu")
    assert direct.output == "mean" and direct(inputs).shape == (4,)


def test_an_unknown_output_is_refused(mean_folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(mean_folder, copy)
    metadata = json.loads((copy / LOCAL_METADATA).read_text())
    metadata["extra"]["output"] = "histogram"
    (copy / LOCAL_METADATA).write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match="unknown output"):
        read_score_model_info(copy)


def test_an_imported_mean_model_scores_through_find_scorers(mean_folder, tmp_path):
    store = ModelStore(tmp_path / "store")
    store.import_dir(mean_folder, report=lambda _: None)
    found = find_scorers(store, runtime="onnx", device="cpu")
    assert found.photo is not None and found.photo.output == "mean"
    (score,) = found.photo.score(_grey_inputs([0.5]))
    assert score.std is None and 1 <= score.mean <= 10
