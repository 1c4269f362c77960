"""``critique score`` for a newcomer: with no photo score model it still measures every
photo, and says on stderr the exact command that pulls the recommended pretrained one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from critique_app.core.store.store import ModelStore
from tests.helpers.photos import PHOTOS, REPO_ROOT

PULL = "critique models pull laion-aesthetic-v2"


def critique(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "critique_app", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=180, cwd=REPO_ROOT)


@pytest.fixture
def shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("chelsea", "coffee"):
        shutil.copy(PHOTOS[name], folder / f"{name}.png")
    return folder


def test_without_a_score_model_score_prints_the_exact_pull_command(shoot, tmp_path):
    out = tmp_path / "results.csv"
    result = critique("score", str(shoot), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert PULL in lines, result.stderr  # on a line of its own: copy, paste, run
    assert PULL not in result.stdout  # stdout stays the results' summary
    assert "2 photos: 0 cached, 2 computed, 0 failed" in result.stdout
    assert out.is_file()


@pytest.mark.slow
def test_with_a_photo_score_model_no_pull_command_is_printed(shoot, installed):
    result = critique("score", str(shoot))
    assert result.returncode == 0, result.stderr
    assert "critique models pull" not in result.stderr
    assert ModelStore().installed_for_task("score")


def test_the_pull_command_names_the_recommended_model_until_it_is_installed(monkeypatch):
    from critique_app.cli import score

    assert score.pull_command() == PULL
    monkeypatch.setattr(ModelStore, "path", lambda self, name: self.folder(name))
    assert score.pull_command() is None  # installed but unusable: the hint says why
