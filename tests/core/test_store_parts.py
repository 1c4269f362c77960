"""Pulling pretrained scorers: a file at a URL, a model made of parts, a licence to accept.

Two stand-ins on 127.0.0.1 play the internet: the Hub stand-in (``HF_ENDPOINT``) serves
the CLIP backbone under its real repo id and pinned commit, and a plain file server
(``CRITIQUE_URL_MIRROR``) serves the LAION head under its real GitHub path. The head is
the REAL published file from ``../shared/fixtures/``, so the manifest's real SHA-256 and
size verify it; the backbone cannot be the real 1.7 GB CLIP, so these tests pull the
manifest's entry with only the backbone's config/weights facts replaced (see
``laion_entry``). Nothing here reaches the network.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from critique_app.core.store.manifest import entry_from_dict, load_manifest
from critique_app.core.store.store import RECORD, LicenceNotAccepted, ModelStore
from critique_app.core.store.urls import MIRROR_ENV, resolve_url
from critique_app.core.util.errors import Cancelled, ModelError
from tests.helpers.photos import REPO_ROOT
from tests.helpers.url_stand_in import UrlStandIn

SHARED = REPO_ROOT.parent / "shared"
HEAD_BYTES = (SHARED / "fixtures" / "laion-aesthetic-v2-head.pth").read_bytes()
CLIP_DIR = SHARED / "real-configs" / "clip-vit-large-patch14"
LAION = "laion-aesthetic-v2"
CLIP_REPO = "openai/clip-vit-large-patch14"
CLIP_COMMIT = "32bd64288804d66eefd0ccbe215aa642df71cc41"
HEAD = "head/sac+logos+ava1-l14-linearMSE.pth"
NIMA = "nima-ava"
NIMA_REPO = "chaofengc/IQA-PyTorch-Weights"
NIMA_FILE = "NIMA_InceptionV2_ava-b0c77c00.pth"
NIMA_COMMIT = "ab" * 20


def quiet(_line: str) -> None:
    pass


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def raw_entry(name: str) -> dict:
    raw = json.loads((REPO_ROOT / "models" / "manifest.json").read_text())
    return copy.deepcopy(next(m for m in raw["models"] if m["name"] == name))


def head_url_path() -> str:
    part = next(p for p in raw_entry(LAION)["source"]["parts"] if p["folder"] == "head")
    return urlsplit(part["source"]["url"]).path


def fake_backbone() -> dict[str, bytes]:
    """What the Hub stand-in serves as CLIP: the REAL preprocessor_config.json (its real
    hash verifies), a stand-in config.json and a few KB of stand-in weights (the store
    never loads them; loading is tested in the slow test and by the scorer's tests)."""
    return {"config.json": b'{"model_type": "clip_vision_model"}',
            "preprocessor_config.json": (CLIP_DIR / "preprocessor_config.json").read_bytes(),
            "model.safetensors": os.urandom(6000),
            "README.md": b"# not asked for by the manifest's patterns\n"}


def laion_entry(backbone: dict[str, bytes]):
    """The manifest's laion-aesthetic-v2 entry (repo, pinned commit, patterns, the head's
    URL, SHA-256 and size: all real), with two facts about the backbone replaced because
    the real 1.7 GB CLIP cannot be served here: config.json carries the served file's
    hash and size instead of the real one's, and model.safetensors loses its size
    (1,710,540,580 bytes; it has no published hash, so nothing else is checked)."""
    raw = raw_entry(LAION)
    for file in raw["files"]:
        if file["path"] == "backbone/config.json":
            data = backbone["config.json"]
            file.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        if file["path"] == "backbone/model.safetensors":
            file.pop("size")
    return entry_from_dict(raw, where="test")


@pytest.fixture
def mirror(monkeypatch):
    stand_in = UrlStandIn().start()
    monkeypatch.setenv(MIRROR_ENV, stand_in.url)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def backbone() -> dict[str, bytes]:
    return fake_backbone()


@pytest.fixture
def laion_store(hub, mirror, backbone, tmp_path):
    hub.add(CLIP_REPO, CLIP_COMMIT, backbone)
    mirror.add(head_url_path(), HEAD_BYTES)
    entry = laion_entry(backbone)
    return ModelStore(tmp_path / "store", {entry.name: entry})


# -- the manifest ---------------------------------------------------------------------


def test_the_manifest_entries_of_the_pretrained_scorers():
    manifest = load_manifest()
    laion, nima = manifest[LAION], manifest[NIMA]
    assert laion.task == nima.task == "score"
    assert laion.architecture == "critique:laion-aesthetic-v2"
    assert nima.architecture == "critique:nima-inception-resnet-v2"
    parts = {p.folder: p.source for p in laion.source.parts}
    assert parts["backbone"].repo == CLIP_REPO and parts["backbone"].revision == CLIP_COMMIT
    assert set(parts["backbone"].patterns) == {"config.json", "preprocessor_config.json",
                                                "model.safetensors"}
    assert parts["head"].kind == "url" and laion.source.pinned
    files = {f.path: f for f in laion.files}
    assert files[HEAD].sha256 == hashlib.sha256(HEAD_BYTES).hexdigest()
    assert files[HEAD].size == len(HEAD_BYTES) == 3_714_759
    assert files["backbone/model.safetensors"].size == 1_710_540_580
    assert files["backbone/model.safetensors"].sha256 is None  # not published: hashed at install
    for name in ("config.json", "preprocessor_config.json"):  # verbatim copies at the pin
        data = (CLIP_DIR / name).read_bytes()
        assert files[f"backbone/{name}"].sha256 == hashlib.sha256(data).hexdigest()
    assert "hashed at install" in laion.provenance.lower() or "hash computed at install" in \
        laion.provenance
    assert laion.card["predicts"] == "mean" and laion.card["srcc"] == 0.665
    assert "care" in laion.card["caution"] and laion.licence_acceptance is None
    assert nima.card["predicts"] == "distribution" and nima.card["srcc"] == 0.713
    assert "CC BY-NC-SA 4.0" in nima.licence and "non-commercial" in nima.licence_acceptance
    assert nima.files[0].path == NIMA_FILE and nima.files[0].sha256_prefix == "b0c77c00"
    assert "UNPINNED" in nima.provenance and "b0c77c00" in nima.provenance
    cpu = next(m for m in laion.measured if m["device"] == "cpu")
    assert cpu["cores"] == 2 and cpu["seconds_per_photo"] > 0 and "bench_clip_speed" in cpu["how"]


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda r: r["files"][3].pop("sha256"), "needs the sha256 and size"),
    (lambda r: r["files"].append({"path": "elsewhere/x.bin"}), "outside its parts' folders"),
    (lambda r: r["source"]["parts"][1].update(folder="Head/x"), "not a plain lower-case name"),
    (lambda r: r["source"]["parts"][1]["source"].update(kind="pypi"), "a part comes from"),
    (lambda r: r["card"].update(predicts="stars"), "predicts 'stars'"),
])
def test_a_malformed_parts_or_url_entry_names_what_is_wrong(change, complaint):
    raw = raw_entry(LAION)
    change(raw)
    with pytest.raises(ModelError, match=complaint):
        entry_from_dict(raw, where="test")


def test_the_url_mirror_replaces_scheme_and_host_at_pull_time(monkeypatch):
    url = "https://github.com/o/r/raw/" + "c" * 40 + "/a+b.pth"
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert resolve_url(url) == url
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:9/github/")
    assert resolve_url(url) == "http://127.0.0.1:9/github/o/r/raw/" + "c" * 40 + "/a+b.pth"


# -- pulling a model made of parts ------------------------------------------------------


def test_a_parts_model_installs_into_one_folder_with_one_record(laion_store, hub, mirror,
                                                                backbone):
    seen = []
    folder = laion_store.pull(LAION, report=quiet, show_progress=False,
                              progress=lambda done, total: seen.append((done, total)))
    assert folder == laion_store.root / LAION and laion_store.installed_names() == [LAION]
    assert leftovers(laion_store.root) == [LAION]  # no staging or partial folders
    record = json.loads((folder / RECORD).read_text())
    assert set(record["files"]) == {"backbone/config.json", "backbone/preprocessor_config.json",
                                    "backbone/model.safetensors", HEAD}
    assert record["files"][HEAD]["sha256"] == hashlib.sha256(HEAD_BYTES).hexdigest()
    weights = record["files"]["backbone/model.safetensors"]
    assert weights["sha256"] == hashlib.sha256(backbone["model.safetensors"]).hexdigest()
    assert record["parts"]["backbone"]["revision"] == CLIP_COMMIT
    assert record["parts"]["head"]["url"].startswith("https://github.com/christophschuhmann/")
    assert record["parts"]["head"]["fetched_from"].startswith(mirror.url)
    assert (folder / HEAD).read_bytes() == HEAD_BYTES
    assert not (folder / "backbone" / "README.md").exists()
    assert not (folder / "backbone" / ".cache").exists()
    assert f"GET /{CLIP_REPO}/resolve/{CLIP_COMMIT}/model.safetensors" in hub.requests
    assert f"GET {head_url_path()}" in mirror.requests
    assert [v.ok for v in laion_store.verify(LAION)] == [True]
    status = next(s for s in laion_store.statuses() if s.entry.name == LAION)
    assert status.installed and status.size_bytes == sum(
        f["size"] for f in record["files"].values())
    dones = [done for done, _ in seen]
    assert dones == sorted(dones) and dones[-1] >= len(HEAD_BYTES)
    assert all(total >= done for done, total in seen)


def test_a_corrupted_head_download_is_refused_and_nothing_is_installed(laion_store, mirror):
    broken = bytearray(HEAD_BYTES)
    broken[1000] ^= 0xFF
    mirror.add(head_url_path(), bytes(broken))
    with pytest.raises(ModelError, match="does not match the manifest's hash") as caught:
        laion_store.pull(LAION, report=quiet, show_progress=False)
    message = str(caught.value)
    assert "nothing was installed" in message and "\n" not in message
    assert laion_store.path(LAION) is None and leftovers(laion_store.root) == []


def test_a_short_head_download_is_refused(laion_store, mirror):
    mirror.add(head_url_path(), HEAD_BYTES[:-10])  # a server that ends the file early
    with pytest.raises(ModelError, match=r"was cut off after.*nothing was installed"):
        laion_store.pull(LAION, report=quiet, show_progress=False)
    assert laion_store.path(LAION) is None and leftovers(laion_store.root) == []


def test_a_dropped_connection_installs_nothing_and_a_retry_succeeds(laion_store, mirror):
    path = head_url_path()
    mirror.drop[path] = True
    with pytest.raises(ModelError, match="was cut off after") as caught:
        laion_store.pull(LAION, report=quiet, show_progress=False)
    assert "nothing was installed" in str(caught.value) and "\n" not in str(caught.value)
    assert laion_store.path(LAION) is None and leftovers(laion_store.root) == []
    mirror.drop[path] = False
    laion_store.pull(LAION, report=quiet, show_progress=False)
    assert laion_store.verify(LAION)[0].ok


@pytest.mark.parametrize("where", ["backbone", "head"])
def test_cancel_mid_download_leaves_nothing(laion_store, backbone, where):
    """Cancelled from the progress callback (as the GUI's Cancel button sets the event from
    another thread): in the Hub part, or after the first chunk of the head."""
    cancel = threading.Event()
    backbone_bytes = sum(len(v) for k, v in backbone.items() if k != "README.md")

    def progress(done: int, _total: int) -> None:
        if where == "backbone" or done > backbone_bytes:
            cancel.set()

    with pytest.raises(Cancelled):
        laion_store.pull(LAION, report=quiet, show_progress=False, cancel=cancel,
                         progress=progress)
    assert laion_store.path(LAION) is None and leftovers(laion_store.root) == []


def test_a_cancelled_or_failed_pull_keeps_the_installed_model(laion_store, mirror):
    laion_store.pull(LAION, report=quiet, show_progress=False)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        laion_store.pull(LAION, report=quiet, show_progress=False, cancel=cancel)
    mirror.drop[head_url_path()] = True
    with pytest.raises(ModelError):
        laion_store.pull(LAION, report=quiet, show_progress=False)
    assert laion_store.verify(LAION)[0].ok and leftovers(laion_store.root) == [LAION]


def test_pulling_again_replaces_the_whole_model(laion_store, hub, backbone):
    laion_store.pull(LAION, report=quiet, show_progress=False)
    newer = {**backbone, "model.safetensors": os.urandom(7000)}
    hub.add(CLIP_REPO, CLIP_COMMIT, newer)
    folder = laion_store.pull(LAION, report=quiet, show_progress=False)
    assert (folder / "backbone" / "model.safetensors").read_bytes() == newer["model.safetensors"]
    assert laion_store.verify(LAION)[0].ok and leftovers(laion_store.root) == [LAION]


@pytest.mark.parametrize("edited", [HEAD, "backbone/model.safetensors", "backbone/config.json"])
def test_verify_notices_an_edited_part_file(laion_store, edited):
    folder = laion_store.pull(LAION, report=quiet, show_progress=False)
    with open(folder / edited, "ab") as handle:
        handle.write(b"\0")
    result = laion_store.verify(LAION)[0]
    assert not result.ok and f"{edited} has changed since it was installed" in result.problems


def test_verify_notices_a_missing_part(laion_store):
    import shutil

    folder = laion_store.pull(LAION, report=quiet, show_progress=False)
    shutil.rmtree(folder / "head")
    result = laion_store.verify(LAION)[0]
    assert not result.ok and f"{HEAD} is missing" in result.problems


def test_remove_deletes_the_whole_model_folder(laion_store):
    laion_store.pull(LAION, report=quiet, show_progress=False)
    removed = laion_store.remove(LAION)
    assert not removed.exists() and laion_store.installed_names() == []
    assert leftovers(laion_store.root) == []


def test_an_unreachable_url_host_is_one_clear_line(laion_store, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(ModelError, match=f"could not reach 127.0.0.1:{port}") as caught:
        laion_store.pull(LAION, report=quiet, show_progress=False)
    assert MIRROR_ENV in str(caught.value) and "\n" not in str(caught.value)
    assert leftovers(laion_store.root) == []


def test_a_missing_url_file_is_one_clear_line(laion_store, mirror):
    mirror.files.clear()
    with pytest.raises(ModelError, match="answered HTTP 404 for sac\\+logos"):
        laion_store.pull(LAION, report=quiet, show_progress=False)
    assert leftovers(laion_store.root) == []


# -- a licence to accept ----------------------------------------------------------------


def nima_store(hub, tmp_path, data: bytes, *, real_prefix: bool = False) -> ModelStore:
    """The manifest's nima-ava entry against the Hub stand-in serving ``data``. Unless
    ``real_prefix``, the entry's sha256_prefix becomes ``data``'s (the real file's
    b0c77c00 cannot be reproduced by made-up bytes)."""
    hub.add(NIMA_REPO, NIMA_COMMIT, {NIMA_FILE: data, "other-model.pth": b"not asked for"})
    raw = raw_entry(NIMA)
    if not real_prefix:
        raw["files"][0]["sha256_prefix"] = hashlib.sha256(data).hexdigest()[:8]
    entry = entry_from_dict(raw, where="test")
    return ModelStore(tmp_path / "store", {entry.name: entry})


def test_a_model_needing_its_licence_accepted_is_refused_without_it(hub, tmp_path):
    store = nima_store(hub, tmp_path, os.urandom(3000))
    with pytest.raises(LicenceNotAccepted) as caught:
        store.pull(NIMA, report=quiet, show_progress=False)
    message = str(caught.value)
    assert "CC BY-NC-SA 4.0" in message and "--accept-licence" in message
    assert "\n" not in message and isinstance(caught.value, ModelError)
    assert caught.value.command == "critique models pull nima-ava --accept-licence"
    assert "non-commercial" in caught.value.licence_text
    assert hub.requests == [] and leftovers(store.root) == []  # nothing was downloaded


def test_with_the_licence_accepted_it_is_pulled_and_the_acceptance_recorded(hub, tmp_path):
    data = os.urandom(3000)
    store = nima_store(hub, tmp_path, data)
    folder = store.pull(NIMA, report=quiet, show_progress=False, accept_licence=True)
    record = json.loads((folder / RECORD).read_text())
    assert set(record["files"]) == {NIMA_FILE}
    assert record["files"][NIMA_FILE]["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["revision"] == NIMA_COMMIT  # unpinned: the commit 'main' resolved to
    assert record["licence_accepted"]["licence"].startswith("CC BY-NC-SA 4.0")
    assert store.verify(NIMA)[0].ok


def test_a_file_whose_hash_does_not_start_with_its_published_prefix_is_refused(hub, tmp_path):
    data = os.urandom(3000)
    if hashlib.sha256(data).hexdigest().startswith("b0c77c00"):  # 1 in 4 billion
        data += b"\0"
    store = nima_store(hub, tmp_path, data, real_prefix=True)
    with pytest.raises(ModelError, match=f"{NIMA_FILE} of 'nima-ava' does not match"):
        store.pull(NIMA, report=quiet, show_progress=False, accept_licence=True)
    assert store.path(NIMA) is None and leftovers(store.root) == []


def test_existing_callers_pull_positionally_as_before(laion_store):
    """name, report and show_progress keep their places; the new arguments are keywords."""
    lines = []
    folder = laion_store.pull(LAION, lines.append, show_progress=False)
    assert folder.is_dir() and any("from" in line for line in lines)


# -- the installed folder loads (slow: builds and loads a model) ------------------------


@pytest.mark.slow
def test_a_pulled_laion_model_loads_as_the_scorer_expects(hub, mirror, tmp_path):
    """A tiny CLIP vision tower (real architecture, projection 768) saved as the Hub serves
    it, the real head from the URL stand-in: the installed folder loads with
    transformers (local files only) and the head with weights_only, and scores."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, image_size=224, patch_size=32,
                              projection_dim=768)
    saved = tmp_path / "tiny-clip"
    CLIPVisionModelWithProjection(config).save_pretrained(saved)
    served = {p.name: p.read_bytes() for p in saved.iterdir() if p.is_file()}
    served["preprocessor_config.json"] = (CLIP_DIR / "preprocessor_config.json").read_bytes()
    hub.add(CLIP_REPO, CLIP_COMMIT, served)
    mirror.add(head_url_path(), HEAD_BYTES)
    entry = laion_entry(served)
    store = ModelStore(tmp_path / "store", {entry.name: entry})
    folder = store.pull(LAION, report=quiet, show_progress=False)

    vision = CLIPVisionModelWithProjection.from_pretrained(folder / "backbone",
                                                           local_files_only=True).eval()
    state = torch.load(folder / HEAD, weights_only=True, map_location="cpu")
    assert sorted(state) == sorted(f"layers.{i}.{k}" for i in (0, 2, 4, 6, 7)
                                   for k in ("weight", "bias"))
    with torch.inference_mode():
        embeds = vision(pixel_values=torch.rand(2, 3, 224, 224)).image_embeds
        x = embeds / embeds.norm(dim=-1, keepdim=True)
        for i in (0, 2, 4, 6, 7):  # five Linear layers, no activations (dropouts are off)
            x = x @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]
    assert x.shape == (2, 1) and torch.isfinite(x).all()
