"""Depth-Anything-V2-Small at its real size (the real config and processor, random
weights), saved like a download and loaded through the app's depth loader: what a
user who pulls the real model gets, short of the weights' values. Timing is the
benchmark's job (benchmarks/real_size_depth.py), not a test's."""

from __future__ import annotations

import json
import sys

import pytest

from critique_app.core.maps import compute_depth
from critique_app.core.maps.depth import load_depth_model
from critique_app.core.photo import load_photo
from tests.helpers.photos import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from real_size_depth import REAL_CONFIGS, build_real_depth_model, photo_1280

REAL_WEIGHTS_BYTES = 99_173_660  # the Hub's model.safetensors (RECONSTRUCTED.md)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (REAL_CONFIGS / "config.json").is_file(),
                                 reason="needs ../shared/real-configs beside the clone")]


def test_the_real_size_depth_model_loads_and_maps_a_1280_px_photo(tmp_path):
    folder = build_real_depth_model(tmp_path / "depth-anything-v2-small")
    # the same tensors as the real download: 24.8 M parameters in float32
    assert abs((folder / "model.safetensors").stat().st_size - REAL_WEIGHTS_BYTES) < 64_000
    assert json.loads((folder / "config.json").read_text())["model_type"] == "depth_anything"
    photo = load_photo(photo_1280(folder=tmp_path))
    assert max(photo.pixels.shape[:2]) == 1280

    model = load_depth_model(folder)
    assert model.near_is_large and model.convention_known  # V2-Small is relative depth
    seen = model.processor(images=photo.to_uint8(), return_tensors="pt")["pixel_values"]
    assert seen.shape[2] == 518  # the short side it was trained at, aspect kept
    result = compute_depth(photo.pixels, folder)
    assert result.available, result.reason
    assert result.map.shape == photo.pixels.shape[:2]
    assert result.map.min() >= 0.0 and result.map.max() <= 1.0
    assert result.method.endswith("depth_anything (depth-anything-v2-small)")
