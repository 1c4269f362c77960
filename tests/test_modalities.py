"""Blur, saliency and depth maps on real photos degraded in known ways."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from critique_app.core.modalities import compute_blur, compute_depth, compute_saliency
from critique_app.core.modalities.overlay import render_overlay, with_legend
from tests.conftest import load_rgb
from tests.photo_edits import as_photo


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
    from critique_app.core.errors import CritiqueError

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
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=64, image_size=56, patch_size=14,
                            out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32,
                                 neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                                 head_hidden_size=8, patch_size=14)
    folder = tmp_path_factory.mktemp("tiny-depth")
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True,
                      ensure_multiple_of=14).save_pretrained(folder)
    return folder


def test_depth_model_loads_from_a_local_folder(tiny_depth_model):
    rgb = load_rgb("chelsea").astype(np.float32) / 255
    result = compute_depth(rgb, tiny_depth_model)
    assert result.status == "ok"
    assert result.map.shape == rgb.shape[:2] and result.map.dtype == np.float32
    assert result.map.min() >= 0.0 and result.map.max() <= 1.0
    assert "depth_anything" in result.method


def test_broken_depth_model_is_reported_not_crashing(tmp_path):
    from critique_app.core.analysis import analyze

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "depth_anything"}))
    photo = as_photo(load_rgb("chelsea"))
    result = analyze(photo, depth_model=tmp_path).modalities["depth"]
    assert result.status == "error" and "could not be loaded" in result.reason
    assert result.map is None


def test_a_named_folder_without_a_model_is_an_error_not_a_fallback(tmp_path, tiny_depth_model,
                                                                   monkeypatch):
    from critique_app.core.errors import ModelError
    from critique_app.core.modalities import find_depth_model

    monkeypatch.setenv("CRITIQUE_DEPTH_MODEL", str(tiny_depth_model))
    assert find_depth_model() == tiny_depth_model
    with pytest.raises(ModelError, match="no depth model found"):
        find_depth_model(tmp_path / "empty")
