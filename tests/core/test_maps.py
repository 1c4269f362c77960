"""Blur, saliency and depth maps on real photos degraded in known ways."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from critique_app.core.maps import compute_blur, compute_depth, compute_saliency
from critique_app.core.maps.overlay import render_overlay, with_legend
from tests.helpers.depth_models import save_tiny_depth_model
from tests.helpers.photo_edits import as_photo
from tests.helpers.photos import load_rgb


def _luma(rgb: np.ndarray) -> np.ndarray:
    return as_photo(rgb).luminance()


@pytest.mark.parametrize("name", ["coffee", "china", "astronaut"])
def test_blurred_region_is_marked_blurred(name):
    rgb = load_rgb(name)
    width = rgb.shape[1]
    edited = rgb.copy()
    edited[:, : width // 2] = cv2.GaussianBlur(rgb[:, : width // 2], (0, 0), 3)
    result = compute_blur(_luma(edited))
    assert result.map.dtype == np.float32 and result.map.shape == rgb.shape[:2]
    assert result.map.min() >= 0.0 and result.map.max() <= 1.0
    left = result.map[:, 10 : width // 2 - 10].mean()
    right = result.map[:, width // 2 + 10 : -10].mean()
    assert left > right + 0.3, (left, right)


def test_clear_sky_is_not_blurred():
    rgb = load_rgb("coffee").astype(np.float32) / 255
    height = rgb.shape[0]
    sky_rows = height // 3
    gradient = np.linspace(0.55, 0.85, sky_rows)[:, None, None] * np.array([0.65, 0.8, 1.0])
    noise = np.random.default_rng(0).normal(0, 1.5 / 255, (sky_rows, rgb.shape[1], 3))
    rgb[:sky_rows] = gradient + noise
    result = compute_blur(as_photo(rgb).luminance())
    assert result.map[: sky_rows - 20].mean() < 0.15


def test_saliency_finds_a_pasted_subject():
    background = cv2.GaussianBlur(load_rgb("china"), (0, 0), 6)
    background = (0.6 * background + 0.4 * background.mean()).astype(np.uint8)  # dull it
    cup = cv2.resize(load_rgb("coffee"), (120, 80), interpolation=cv2.INTER_AREA)
    top, left = 60, 420  # upper right of the 640 x 427 frame
    background[top : top + 80, left : left + 120] = cup
    result = compute_saliency(background.astype(np.float32) / 255)
    assert result.map.shape == background.shape[:2]
    peak_y, peak_x = np.unravel_index(np.argmax(cv2.GaussianBlur(result.map, (0, 0), 5)),
                                      result.map.shape)
    assert top - 20 <= peak_y <= top + 100 and left - 20 <= peak_x <= left + 140


def test_unknown_saliency_backend_is_a_clear_error():
    from critique_app.core.util.errors import CritiqueError

    with pytest.raises(CritiqueError, match="unknown saliency method"):
        compute_saliency(np.zeros((8, 8, 3), np.float32), backend="nope")


def test_overlays_keep_the_photo_where_the_map_is_zero():
    photo = load_rgb("chelsea")
    empty = np.zeros(photo.shape[:2], np.float32)
    assert np.array_equal(render_overlay(photo, empty, "blur"), photo)
    full = np.ones(photo.shape[:2], np.float32)
    assert not np.array_equal(render_overlay(photo, full, "saliency"), photo)
    legend = with_legend(render_overlay(photo, empty, "depth"), "depth")
    assert legend.shape[1] == photo.shape[1] and legend.shape[0] > photo.shape[0]


def test_no_depth_model_is_unavailable_with_a_hint():
    result = compute_depth(np.zeros((32, 32, 3), np.float32), None)
    assert result.status == "unavailable" and result.map is None
    assert "no depth model" in result.reason and "--depth-model" in result.hint


@pytest.fixture(scope="module")
def tiny_depth_model(tmp_path_factory):
    """A randomly initialised Depth Anything of the real architecture, saved like a download."""
    return save_tiny_depth_model(tmp_path_factory.mktemp("tiny-depth"))


@pytest.mark.slow
def test_depth_model_loads_from_a_local_folder(tiny_depth_model):
    rgb = load_rgb("chelsea").astype(np.float32) / 255
    result = compute_depth(rgb, tiny_depth_model)
    assert result.status == "ok"
    assert result.map.shape == rgb.shape[:2] and result.map.dtype == np.float32
    assert result.map.min() >= 0.0 and result.map.max() <= 1.0
    assert "depth_anything" in result.method


def _damage(folder, how: str) -> None:
    if how == "truncated weights":  # a download cut short
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif how == "no processor":
        (folder / "preprocessor_config.json").unlink()
    elif how == "wrong architecture":  # e.g. a text model's folder named as the depth model
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))


@pytest.mark.slow
@pytest.mark.parametrize(("how", "cause"), [
    ("truncated weights", "model.safetensors is damaged or incomplete"),
    ("no processor", "preprocessor_config.json is missing"),
    ("wrong architecture", "describes a 'bert' model, not a depth-estimation model"),
])
def test_a_damaged_depth_model_makes_depth_unavailable_and_says_why(
        tmp_path, tiny_depth_model, how, cause):
    from critique_app.core.analysis.analyzer import analyze

    folder = tmp_path / "depth-anything-v2-small"
    shutil.copytree(tiny_depth_model, folder)
    _damage(folder, how)
    analysis = analyze(as_photo(load_rgb("chelsea")), depth_model=folder)
    depth = analysis.maps["depth"]
    assert depth.status == "unavailable" and depth.map is None
    assert depth.reason.startswith("depth-anything-v2-small could not be loaded: ")
    assert cause in depth.reason and "\n" not in depth.reason
    assert str(folder) in depth.hint  # where to look
    # the rest of the analysis is whole
    assert analysis.maps["saliency"].available and analysis.maps["blur"].available
    assert analysis.measurements["exposure.ev_vs_middle_grey"] is not None


@pytest.mark.slow
def test_a_damaged_depth_model_is_tried_once_not_once_per_photo(tmp_path, tiny_depth_model,
                                                                monkeypatch):
    from critique_app.core.maps import depth as depth_module

    folder = tmp_path / "depth-anything-v2-small"
    shutil.copytree(tiny_depth_model, folder)
    _damage(folder, "truncated weights")
    attempts = []
    real_init = depth_module.DepthModel.__init__

    def counting_init(self, *args, **kwargs):
        attempts.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(depth_module.DepthModel, "__init__", counting_init)
    rgb = load_rgb("chelsea").astype(np.float32) / 255
    reasons = {compute_depth(rgb, folder).reason for _ in range(5)}
    assert len(attempts) == 1 and len(reasons) == 1 and "damaged" in reasons.pop()
    shutil.copy(tiny_depth_model / "model.safetensors", folder / "model.safetensors")
    assert compute_depth(rgb, folder).status == "ok"  # repaired files are loaded afresh
    assert len(attempts) == 2


def test_a_config_that_is_not_json_is_unavailable_too(tmp_path):
    from critique_app.core.analysis.analyzer import analyze

    (tmp_path / "config.json").write_text("{not json")
    depth = analyze(as_photo(load_rgb("chelsea")), depth_model=tmp_path).maps["depth"]
    assert depth.status == "unavailable" and "config.json is unreadable" in depth.reason


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["metric", "relative"])
def test_depth_maps_put_near_at_one_for_metric_and_relative_models(tmp_path, kind):
    """Metric Depth Anything checkpoints share model_type "depth_anything" with relative
    ones: metres (far = large) must come out inverted, disparity (near = large) not."""
    import torch

    from critique_app.core.maps.depth import DepthModel

    folder = save_tiny_depth_model(tmp_path / kind, kind)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "depth_anything" and config["depth_estimation_type"] == kind
    model = DepthModel(folder)
    # The model's raw output for this photo: a ramp from 1 on the left to 20 on the right
    # (metres for a metric model: the left is nearest; disparity for a relative one: the
    # right is nearest).
    ramp = torch.linspace(1.0, 20.0, 56).repeat(42, 1)[None]
    model.model = lambda **inputs: SimpleNamespace(predicted_depth=ramp)
    depth = model.predict(load_rgb("chelsea").astype(np.float32) / 255)
    left, right = depth[:, :40].mean(), depth[:, -40:].mean()
    near, far = (left, right) if kind == "metric" else (right, left)
    assert near > far + 0.5 and far < 0.05, (kind, left, right)


def test_metric_depth_converts_to_disparity_scale():
    """A metric map reads like a relative one: a step from 1 m to 2 m is a larger change
    of nearness than from 10 m to 11 m (as the eye judges depth)."""
    from critique_app.core.maps.depth import to_nearness

    metres = np.array([[1.0, 2.0, 10.0, 11.0]] * 4, np.float32)
    near = to_nearness(metres, (4, 4), near_is_large=False)[0]
    assert near[0] > near[1] > near[2] > near[3]
    assert near[0] - near[1] > 5 * (near[2] - near[3])


@pytest.mark.parametrize(("config", "expected"), [
    ({"model_type": "depth_anything", "depth_estimation_type": "metric"}, (False, True)),
    ({"model_type": "depth_anything", "depth_estimation_type": "relative"}, (True, True)),
    ({"model_type": "depth_anything"}, (True, True)),  # older configs: relative
    ({"model_type": "zoedepth"}, (False, True)),  # metric
    ({"model_type": "glpn"}, (False, True)),  # metric
    ({"model_type": "dpt"}, (True, True)),  # MiDaS-style inverse depth
    ({"model_type": "depth_pro"}, (True, True)),  # raw output is inverse depth
    ({"model_type": "something_new"}, (True, False)),  # assumed, and said so
])
def test_which_way_each_model_family_runs(config, expected):
    from critique_app.core.maps.depth import near_is_large

    assert near_is_large(SimpleNamespace(**config)) == expected


@pytest.mark.slow
def test_a_named_folder_without_a_model_is_an_error_not_a_fallback(tmp_path, tiny_depth_model,
                                                                   monkeypatch):
    from critique_app.core.maps import find_depth_model
    from critique_app.core.util.errors import ModelError

    monkeypatch.setenv("CRITIQUE_DEPTH_MODEL", str(tiny_depth_model))
    assert find_depth_model() == tiny_depth_model
    with pytest.raises(ModelError, match="no depth model found"):
        find_depth_model(tmp_path / "empty")
