"""``critique models``: cards (list --verbose), and pulls that need a licence accepted.

Pulls run in a real ``critique`` process against the stand-ins on 127.0.0.1 (the Hub
stand-in through ``HF_ENDPOINT``, the URL stand-in through ``CRITIQUE_URL_MIRROR``);
the real manifest is used, so these pulls stop at its real hashes and sizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from critique_app.cli.models import models_app
from critique_app.core.store.manifest import load_manifest
from critique_app.core.store.urls import MIRROR_ENV
from tests.helpers.hub_stand_in import HubStandIn
from tests.helpers.photos import REPO_ROOT
from tests.helpers.url_stand_in import UrlStandIn

SHARED = REPO_ROOT.parent / "shared"
CLIP_DIR = SHARED / "real-configs" / "clip-vit-large-patch14"
NIMA_FILE = "NIMA_InceptionV2_ava-b0c77c00.pth"
ACCEPT = "critique models pull nima-ava --accept-licence"


@pytest.fixture
def hub():
    stand_in = HubStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def mirror():
    stand_in = UrlStandIn().start()
    yield stand_in
    stand_in.stop()


def run_cli(*args: str, home: Path, hub: HubStandIn, mirror: UrlStandIn | None = None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", MIRROR_ENV)}
    env.update(CRITIQUE_HOME=str(home), HF_ENDPOINT=hub.url, HF_HOME=str(home / "hf"),
               COLUMNS="200")
    if mirror is not None:
        env[MIRROR_ENV] = mirror.url
    return subprocess.run([sys.executable, "-m", "critique_app", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    """stderr without huggingface_hub's progress bars (a terminal's pull shows them)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return [line for line in lines if not line.lstrip().startswith("Fetching ")]


def models_folder(home: Path) -> list[str]:
    folder = home / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_list_verbose_shows_each_models_card():
    listed = CliRunner().invoke(models_app, ["list", "--verbose"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    text = listed.output
    laion = text[text.index("LAION aesthetic v2 (laion-aesthetic-v2)"):]
    laion = laion[:laion.index("\n\n")]
    for expected in ("Predicts: a mean score only (no distribution)", "Scale: 1-10 (AVA)",
                     "SRCC 0.665", "pyiqa", "AVA's official test split", "Input: 224 px",
                     "Weights licence: head Apache-2.0; CLIP ViT-L/14 backbone MIT",
                     "Not installed; download about 1.7 GB",
                     "Speed on this machine: not measured yet", "Caution: CLIP's model card"):
        assert expected in laion, expected
    nima = text[text.index("NIMA (AVA, pyiqa) (nima-ava)"):]
    for expected in ("Predicts: a distribution over the 10 score steps", "SRCC 0.713",
                     "Input: 299 px", "Weights licence: CC BY-NC-SA 4.0 (non-commercial)",
                     "Before pulling, accept:"):
        assert expected in nima, expected


def test_list_shows_a_parts_models_pinned_backbone():
    listed = CliRunner().invoke(models_app, ["list"], env={"COLUMNS": "200"})
    row = next(line for line in listed.output.splitlines() if "laion-aesthetic-v2" in line)
    assert "parts" in row and "backbone 32bd64288804" in row


def test_pull_without_accepting_the_licence_prints_it_and_the_command(hub, isolated_home):
    pulled = run_cli("models", "pull", "nima-ava", home=isolated_home, hub=hub)
    assert pulled.returncode != 0
    licence = load_manifest()["nima-ava"].licence_acceptance
    assert licence in pulled.stdout and ACCEPT in pulled.stdout
    assert "Nothing was downloaded" in pulled.stdout and "installed" not in pulled.stdout
    assert hub.requests == [] and models_folder(isolated_home) == []


def test_pull_with_the_licence_accepted_downloads_and_checks_the_file(hub, isolated_home):
    """The flag lets the pull go ahead; the stand-in's made-up file cannot carry the real
    file's SHA-256 prefix (b0c77c00), so it is refused there, in one line."""
    hub.add("chaofengc/IQA-PyTorch-Weights", "ab" * 20, {NIMA_FILE: os.urandom(4096)})
    pulled = run_cli("models", "pull", "nima-ava", "--accept-licence", home=isolated_home,
                     hub=hub)
    assert pulled.returncode != 0
    errors = error_lines(pulled)
    assert len(errors) == 1 and "does not match the manifest's hash" in errors[0], pulled.stderr
    assert any(NIMA_FILE in request for request in hub.requests)
    assert [p for p in models_folder(isolated_home) if not p.startswith(".")] == []


def test_pull_of_laion_fetches_both_parts_and_stops_at_the_real_size(hub, mirror,
                                                                    isolated_home):
    """The real config files and the real head verify; the stand-in's small weights are
    not CLIP's 1,710,540,580 bytes, so the model is refused whole, in one line."""
    entry = load_manifest()["laion-aesthetic-v2"]
    parts = {p.folder: p.source for p in entry.source.parts}
    hub.add(parts["backbone"].repo, parts["backbone"].revision, {
        "config.json": (CLIP_DIR / "config.json").read_bytes(),
        "preprocessor_config.json": (CLIP_DIR / "preprocessor_config.json").read_bytes(),
        "model.safetensors": os.urandom(4096)})
    mirror.add(urlsplit(parts["head"].url).path,
               (SHARED / "fixtures" / "laion-aesthetic-v2-head.pth").read_bytes())
    pulled = run_cli("models", "pull", "laion-aesthetic-v2", home=isolated_home, hub=hub,
                     mirror=mirror)
    assert pulled.returncode != 0
    errors = error_lines(pulled)
    assert len(errors) == 1, pulled.stderr
    assert "backbone/model.safetensors of 'laion-aesthetic-v2' does not match the manifest's " \
           "size" in errors[0] and "expected 1710540580" in errors[0]
    assert "downloading sac+logos+ava1-l14-linearMSE.pth from 127.0.0.1" in pulled.stdout
    assert [p for p in models_folder(isolated_home) if not p.startswith(".")] == []
