"""The ``critique`` command as a user runs it: a real process, real photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers.photos import REPO_ROOT, load_rgb


def run_cli(*args: str, env_home=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_home is not None:
        env["CRITIQUE_HOME"] = str(env_home)
    return subprocess.run([sys.executable, "-m", "critique_app", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


def test_analyze_json_describes_the_photo(tmp_path, isolated_home):
    result = run_cli("analyze", "resources/samples/rocket.jpg", "--json", env_home=isolated_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["photo"]["width"] == 640 and data["photo"]["format"] == "JPEG"
    assert "Adobe RGB" in " ".join(data["photo"]["notes"])
    exposure = data["measurements"]["exposure"]
    assert exposure["highlights_clipped_pct"]["unit"] == "% of frame"
    assert set(data["modalities"]) == {"saliency", "blur", "depth"}
    assert data["modalities"]["blur"]["status"] == "ok"
    assert data["modalities"]["depth"]["status"] == "unavailable"
    assert "depth model" in data["modalities"]["depth"]["reason"]
    scene = data["scene"]  # keys documented in docs/scene.md
    assert set(scene) == {"kinds", "light", "light_cues", "against", "labels", "note"}
    assert scene["kinds"][0]["name"] == "blue-hour" and scene["light"] == "blue hour"
    assert any("point light sources" in cue["text"] for cue in scene["kinds"][0]["cues"])
    assert scene["labels"] is None and "not installed" in scene["note"]  # no classifier here


def test_analyze_report_is_readable(isolated_home):
    result = run_cli("analyze", "resources/samples/chelsea.jpg", env_home=isolated_home)
    assert result.returncode == 0, result.stderr
    for words in ("chelsea.jpg", "Blown highlights", "Overall sharpness", "depth", "Scene:"):
        assert words in result.stdout


def test_maps_are_written(tmp_path, isolated_home):
    maps = tmp_path / "maps"
    result = run_cli("analyze", "resources/samples/chelsea.jpg", "--maps", str(maps), "--json",
                     env_home=isolated_home)
    assert result.returncode == 0, result.stderr
    for name in ("saliency", "blur"):
        values = np.load(maps / f"{name}.npy")
        assert values.dtype == np.float32 and values.shape == (300, 451)
        assert values.min() >= 0.0 and values.max() <= 1.0
        with Image.open(maps / f"{name}.png") as overlay:
            assert overlay.size[0] == 451 and overlay.size[1] > 300  # photo + legend strip
    assert not (maps / "depth.npy").exists()  # no model, no invented map


@pytest.mark.parametrize("content", [b"", b"not an image at all", None])
def test_bad_input_is_one_line_and_exit_2(tmp_path, isolated_home, content):
    path = tmp_path / "broken.jpg"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("analyze", str(path), env_home=isolated_home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "broken.jpg" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_16bit_tiff_through_the_cli(tmp_path, isolated_home):
    import tifffile

    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, load_rgb("coffee").astype(np.uint16) * 257, photometric="rgb")
    result = run_cli("analyze", str(path), "--json", env_home=isolated_home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["photo"]["bit_depth"] == 16


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("critique ")
    assert "analyze" in run_cli("--help").stdout
