"""Score models: only trained ones score; torch and ONNX agree; distributions are sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.model import emd_loss
from critique_app.core.scoring.package import load_score_model
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.scoring.scorer import NO_SCORER_HINT, Scorer, find_scorers
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import ModelError
from tests.helpers.score_models import TINY_INPUT, save_tiny_scorer


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    return save_tiny_scorer(tmp_path_factory.mktemp("scorer") / "tiny-score")


def _grey_inputs(levels) -> np.ndarray:
    rng = np.random.default_rng(1)
    images = [np.clip(level + rng.normal(0, 0.05, (48, 72, 3)), 0, 1).astype(np.float32)
              for level in levels]
    return np.stack([to_network_input(image, TINY_INPUT) for image in images])


@pytest.mark.slow
def test_trained_scorer_ranks_what_it_learned(trained_folder):
    scorer = Scorer(trained_folder, runtime="torch")
    dark, mid, bright = scorer.score(_grey_inputs([0.15, 0.5, 0.85]))
    assert dark.mean < mid.mean < bright.mean
    for result in (dark, mid, bright):
        assert abs(sum(result.probabilities) - 1) < 1e-6 and 1 <= result.mean <= 10


@pytest.mark.slow
def test_onnx_and_torch_give_the_same_distribution(trained_folder):
    inputs = _grey_inputs([0.1, 0.3, 0.6, 0.9])
    torch_p = Scorer(trained_folder, runtime="torch").probabilities(inputs)
    onnx_scorer = Scorer(trained_folder, runtime="onnx", device="cpu")
    assert onnx_scorer.provider == "CPUExecutionProvider"
    assert np.abs(onnx_scorer.probabilities(inputs) - torch_p).max() < 1e-4


def test_untrained_model_is_refused(tmp_path):
    folder = save_tiny_scorer(tmp_path / "untrained", trained=False, steps=1)
    with pytest.raises(ModelError, match="never trained"):
        load_score_model(folder)


def test_no_trained_scorer_installed_is_a_plain_state(tmp_path):
    store = ModelStore(tmp_path / "store")
    assert find_scorers(store).missing == NO_SCORER_HINT
    store.import_dir(save_tiny_scorer(tmp_path / "u", name="untrained", trained=False, steps=1),
                     report=lambda _: None)
    found = find_scorers(store, runtime="torch")
    assert found.photo is None and found.missing == NO_SCORER_HINT


@pytest.mark.slow
def test_scorers_found_per_modality(tmp_path, trained_folder):
    store = ModelStore(tmp_path / "store")
    store.import_dir(trained_folder, report=lambda _: None)
    store.import_dir(save_tiny_scorer(tmp_path / "s", name="tiny-saliency", modality="saliency",
                                      steps=2), report=lambda _: None)
    found = find_scorers(store, runtime="torch")
    assert set(found.by_modality) == {"photo", "saliency"} and found.missing is None
    assert "tiny-score" in found.version and "tiny-saliency" in found.version


def test_distribution_statistics():
    one_hot = ScoreDistribution.from_probabilities(np.eye(10)[6])
    assert one_hot.mean == 7 and one_hot.std == 0
    uniform = ScoreDistribution.from_probabilities(np.ones(10))
    assert uniform.mean == pytest.approx(5.5) and uniform.std == pytest.approx(2.8723, 1e-4)
    with pytest.raises(ValueError):
        ScoreDistribution.from_probabilities([0.5, 0.5])


def test_emd_loss_is_zero_only_for_equal_distributions():
    p = torch.softmax(torch.randn(4, 10), dim=-1)
    assert emd_loss(p, p).item() == pytest.approx(0.0, abs=1e-7)
    assert emd_loss(p, torch.roll(p, 1, dims=-1)).item() > 0.01
