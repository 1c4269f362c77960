"""`pull` from the Hugging Face Hub end to end, against a stand-in Hub on 127.0.0.1.

The stand-in serves tiny models under the real repo ids, commits and file names;
huggingface_hub's own snapshot_download talks to it (HF_ENDPOINT), so what is
tested is the real download path: resolve the revision, list, HEAD, GET, resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from critique_app.core.store.manifest import entry_from_dict, load_manifest
from critique_app.core.store.store import RECORD, ModelStore
from critique_app.core.util.errors import ModelError
from tests.helpers.depth_models import save_tiny_depth_model
from tests.helpers.hub_stand_in import HubStandIn
from tests.helpers.photos import REPO_ROOT, load_rgb

DEPTH = "depth-anything-v2-small"
DEPTH_REPO = "depth-anything/Depth-Anything-V2-Small-hf"
DEPTH_COMMIT = "32d03942121d29edb49de4e2cc15831558af3f36"  # the manifest's pin
UNPINNED = "smolvlm2-2.2b-instruct"
UNPINNED_REPO = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"
MAIN_COMMIT = "c0ffee" + "0" * 34  # what the stand-in's 'main' points to
pytestmark = pytest.mark.slow  # pulls (tiny) models and loads them


@pytest.fixture(scope="module")
def tiny_depth_files(tmp_path_factory) -> dict[str, bytes]:
    """A random Depth Anything of the real architecture, tiny, as the Hub would serve it."""
    folder = save_tiny_depth_model(tmp_path_factory.mktemp("tiny-depth-hub"))
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    files["README.md"] = b"# not asked for by the manifest's patterns\n"
    return files


def depth_entry_for(files: dict[str, bytes]):
    """The real manifest entry (repo, pinned commit, patterns), with the tiny weights' hash."""
    raw = json.loads((REPO_ROOT / "models" / "manifest.json").read_text())
    entry = next(m for m in raw["models"] if m["name"] == DEPTH)
    weights = files["model.safetensors"]
    for file in entry["files"]:
        if file["path"] == "model.safetensors":
            file.update(sha256=hashlib.sha256(weights).hexdigest(), size=len(weights))
    return entry


@pytest.fixture
def depth_store(hub, tiny_depth_files, tmp_path):
    hub.add(DEPTH_REPO, DEPTH_COMMIT, tiny_depth_files)
    entry = entry_from_dict(depth_entry_for(tiny_depth_files), where="test")
    return ModelStore(tmp_path / "store", {entry.name: entry})


def quiet(_line: str) -> None:
    pass


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_pull_fetches_the_pinned_commit_hashes_every_file_and_the_model_works(depth_store, hub,
                                                                             tiny_depth_files):
    from critique_app.core.maps.depth import compute_depth

    folder = depth_store.pull(DEPTH, report=quiet, show_progress=False)
    record = json.loads((folder / RECORD).read_text())
    assert record["revision"] == DEPTH_COMMIT
    assert set(record["files"]) == {"config.json", "preprocessor_config.json", "model.safetensors"}
    for name, facts in record["files"].items():  # every fetched file, hashed as installed
        assert facts["sha256"] == hashlib.sha256(tiny_depth_files[name]).hexdigest()
    assert not (folder / "README.md").exists() and not (folder / ".cache").exists()
    assert f"GET /{DEPTH_REPO}/resolve/{DEPTH_COMMIT}/model.safetensors" in hub.requests
    assert depth_store.verify(DEPTH)[0].ok
    rgb = load_rgb("chelsea").astype("float32") / 255
    assert compute_depth(rgb, folder).status == "ok"


def test_a_file_that_does_not_match_the_manifest_is_refused(hub, tiny_depth_files, tmp_path):
    """The real manifest's hash of the real weights refuses the stand-in's tiny weights."""
    hub.add(DEPTH_REPO, DEPTH_COMMIT, tiny_depth_files)
    store = ModelStore(tmp_path / "store", load_manifest())
    with pytest.raises(ModelError, match=r"model\.safetensors of 'depth-anything-v2-small' does "
                                         r"not match the manifest's hash") as caught:
        store.pull(DEPTH, report=quiet, show_progress=False)
    assert "nothing was installed" in str(caught.value) and "\n" not in str(caught.value)
    assert store.path(DEPTH) is None and leftovers(tmp_path / "store") == []


@pytest.mark.slow  # huggingface_hub retries a dropped download five times, a second apart
def test_a_dropped_connection_installs_nothing_and_a_retry_succeeds(depth_store, hub):
    hub.drop["model.safetensors"] = True
    with pytest.raises(ModelError, match="could not fetch depth-anything/Depth-Anything-V2-Small"):
        depth_store.pull(DEPTH, report=quiet, show_progress=False)
    assert depth_store.path(DEPTH) is None and depth_store.installed_names() == []
    assert leftovers(depth_store.root) == []  # no half-downloaded folder left behind
    hub.drop["model.safetensors"] = False
    depth_store.pull(DEPTH, report=quiet, show_progress=False)
    assert depth_store.verify(DEPTH)[0].ok


def run_cli(*args: str, hub: HubStandIn, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(CRITIQUE_HOME=str(home), HF_ENDPOINT=hub.url, HF_HOME=str(home / "hf"),
               COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "critique_app", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


def test_cli_pull_of_an_unpinned_model_records_and_lists_the_commit(hub, tmp_path):
    files = {"config.json": b'{"model_type": "smolvlm"}', "preprocessor_config.json": b"{}",
             "tokenizer.json": b"{}", "model.safetensors": os.urandom(4096),
             "onnx/model.onnx": b"not asked for"}
    hub.add(UNPINNED_REPO, MAIN_COMMIT, files)
    pulled = run_cli("models", "pull", UNPINNED, hub=hub, home=tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    assert f"{UNPINNED_REPO} (main)" in pulled.stdout and "installed" in pulled.stdout
    record = json.loads((tmp_path / "models" / UNPINNED / RECORD).read_text())
    assert record["revision"] == MAIN_COMMIT
    assert set(record["files"]) == set(files) - {"onnx/model.onnx"}
    listed = run_cli("models", "list", hub=hub, home=tmp_path).stdout
    row = next(line for line in listed.splitlines() if UNPINNED in line)
    assert "yes" in row and MAIN_COMMIT[:12] in row
    assert "main (unpinned)" not in row  # the resolved commit, not the branch name


def test_cli_pull_of_an_unknown_revision_is_one_clear_line(hub, tiny_depth_files, tmp_path):
    hub.add(DEPTH_REPO, "1" * 40, tiny_depth_files)  # the stand-in lacks the pinned commit
    pulled = run_cli("models", "pull", DEPTH, hub=hub, home=tmp_path)
    assert pulled.returncode != 0
    errors = [line for line in pulled.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, pulled.stderr
    assert f"{DEPTH_REPO} has no revision '{DEPTH_COMMIT}'" in errors[0]
    assert leftovers(tmp_path / "models") == []


def test_models_dialog_pulls_from_the_hub(qtbot, bridge, depth_store):
    from critique_app.gui.models.dialog import ModelsDialog

    dialog = ModelsDialog(bridge, store_factory=lambda: depth_store)
    qtbot.addWidget(dialog)
    dialog.select(DEPTH)
    assert dialog.pull_button.isEnabled()
    with qtbot.waitSignal(dialog.modelsChanged, timeout=60_000):
        dialog.pull_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert not dialog.showing_error(), dialog.message_text()
    assert dialog.message_text().startswith(f"installed {DEPTH}")
    status = {s.entry.name: s for s in dialog.statuses}[DEPTH]
    assert status.installed and status.revision == DEPTH_COMMIT
    assert DEPTH_COMMIT[:12] in dialog.details.text()


SAME_PROCESS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from critique_app.core.maps.depth import load_depth_model
    from critique_app.core.store.manifest import load_manifest
    from critique_app.core.store.store import ModelStore

    model_dir, manifest, store_root = map(Path, sys.argv[1:4])
    load_depth_model(model_dir)  # transformers and huggingface_hub are now imported
    store = ModelStore(store_root, load_manifest(manifest))
    folder = store.pull("depth-anything-v2-small", report=print, show_progress=False)
    print("pulled", folder)
""")


@pytest.mark.slow  # a fresh Python that imports torch and transformers
def test_a_pull_after_a_model_was_loaded_in_the_same_process(hub, tiny_depth_files, tmp_path):
    """What the app does: load a model, then pull another from the Models dialog."""
    hub.add(DEPTH_REPO, DEPTH_COMMIT, tiny_depth_files)
    local = tmp_path / "local-depth"
    local.mkdir()
    for name, data in tiny_depth_files.items():
        (local / name).write_bytes(data)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": 1, "models": [depth_entry_for(tiny_depth_files)]}))
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf"), CRITIQUE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SAME_PROCESS, str(local), str(manifest),
                           str(tmp_path / "store")], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pulled" in done.stdout
    assert json.loads((tmp_path / "store" / DEPTH / RECORD).read_text())["revision"] == \
        DEPTH_COMMIT
