"""Measurements on real photos degraded with a known answer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.measurements import SPECS
from critique_app.core.measurements.color import measure_color
from critique_app.core.measurements.exposure import measure_exposure
from critique_app.core.measurements.horizon import measure_horizon
from critique_app.core.measurements.noise import measure_noise
from critique_app.core.measurements.spec import markdown
from tests.helpers.photo_edits import as_photo, rotate_and_crop
from tests.helpers.photos import REPO_ROOT, load_rgb, save_rgb


def _exposure(rgb):
    photo = as_photo(rgb)
    return measure_exposure(photo.pixels, photo.luminance())


def test_clipped_highlights_share_is_right():
    rgb = load_rgb("coffee")
    before = _exposure(rgb)["exposure.highlights_clipped_pct"]
    height, width = rgb.shape[:2]
    edited = rgb.copy()
    edited[: height // 4, width - width // 5 :] = 255  # blow out the top-right corner
    region = np.zeros(rgb.shape[:2], bool)
    region[: height // 4, width - width // 5 :] = True
    already = (rgb >= 250).all(axis=2) & ~region
    expected = 100.0 * (region.mean() + already.mean())
    after = _exposure(edited)
    assert after["exposure.highlights_clipped_pct"] == pytest.approx(expected, abs=0.01)
    assert after["exposure.highlights_clipped_pct"] > before + 4.0
    assert after["exposure.highlights_clipped_where"] == "top-right"


def test_darker_photo_reads_about_one_stop_down():
    rgb = load_rgb("astronaut").astype(np.float32) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    half = linear * 0.5
    darker = np.where(half <= 0.0031308, half * 12.92, 1.055 * half ** (1 / 2.4) - 0.055)
    ev_before = _exposure(rgb)["exposure.ev_vs_middle_grey"]
    ev_after = _exposure(darker)["exposure.ev_vs_middle_grey"]
    assert ev_after - ev_before == pytest.approx(-1.0, abs=0.1)


@pytest.mark.parametrize(("name", "clockwise"),
                         [("camera", 3.0), ("camera", -4.0), ("camera", 5.0), ("camera", -3.0)])
def test_tilt_is_found(name, clockwise):
    rgb = rotate_and_crop(load_rgb(name), clockwise)
    result = measure_horizon(as_photo(rgb).luminance())
    assert result["horizon.tilt_deg"] == pytest.approx(clockwise, abs=0.6)


@pytest.mark.parametrize("clockwise", [-4.0, -0.7, 0.0, 1.5, 6.0])
def test_sea_horizon_is_measured_to_a_tenth_of_a_degree(clockwise):
    """A seascape (sky gradient over a textured sea) has one long horizon line."""
    rng = np.random.default_rng(0)
    sky = np.linspace(0.85, 0.6, 426)[:, None] * np.ones((1, 1280))
    sea = 0.3 + 0.05 * rng.standard_normal((427, 1280))
    scene = cv2.GaussianBlur(np.vstack([sky, sea]).astype(np.float32), (0, 0), 1.2)
    rgb = rotate_and_crop(np.repeat(scene[..., None], 3, axis=2), clockwise)
    result = measure_horizon(as_photo(rgb).luminance())
    assert result["horizon.reference"] == "horizon"
    assert result["horizon.tilt_deg"] == pytest.approx(clockwise, abs=0.1)


def test_level_photo_reads_level():
    rgb = rotate_and_crop(load_rgb("camera"), 0.0)
    tilt = measure_horizon(as_photo(rgb).luminance())["horizon.tilt_deg"]
    assert tilt is None or abs(tilt) < 0.5


def test_no_straight_lines_no_tilt():
    assert measure_horizon(as_photo(load_rgb("chelsea")).luminance())["horizon.tilt_deg"] is None


def test_roof_eaves_are_not_read_as_a_tilted_horizon():
    """The temple's eaves are near-level lines at assorted angles; the old Hough
    detector read them as a 5° tilt of a photo that is level."""
    assert measure_horizon(as_photo(load_rgb("china")).luminance())["horizon.tilt_deg"] is None


def test_colour_cast_is_detected():
    rgb = load_rgb("china").astype(np.float32) / 255
    neutral = measure_color(rgb)
    tinted = np.clip(rgb * np.array([0.85, 0.95, 1.15], np.float32), 0, 1)
    cool = measure_color(tinted)
    assert cool["color.cast_b"] < neutral["color.cast_b"] - 5
    assert "cool" in cool["color.cast_direction"] or "cyan" in cool["color.cast_direction"]
    assert cool["color.cast_strength"] > neutral["color.cast_strength"]


def test_grey_photo_has_no_colour():
    grey = np.repeat(load_rgb("camera")[..., :1], 3, axis=2).astype(np.float32) / 255
    result = measure_color(grey)
    assert result["color.colorfulness"] < 1 and result["color.cast_direction"] == "neutral"


def test_added_noise_is_measured():
    rgb = load_rgb("coffee").astype(np.float32)
    clean = measure_noise(as_photo(rgb / 255).luminance())["noise.sigma"]
    noisy_rgb = rgb + np.random.default_rng(1).normal(0, 8, rgb.shape)
    noisy = measure_noise(as_photo(np.clip(noisy_rgb, 0, 255) / 255).luminance())["noise.sigma"]
    assert clean < 3
    # Independent noise adds in quadrature; Rec. 709 luma of three channels each
    # with sigma 8 has sigma 8 * |(0.2126, 0.7152, 0.0722)| = 5.99.
    assert np.sqrt(noisy**2 - clean**2) == pytest.approx(5.99, abs=0.6)


def test_subject_and_sharpness_follow_the_photo():
    rgb = load_rgb("coffee").copy()
    height, width = rgb.shape[:2]
    import cv2

    blurred_bg = cv2.GaussianBlur(rgb, (0, 0), 4)
    mask = np.zeros((height, width), bool)
    mask[40:340, 110:470] = True  # the cup and saucer stay sharp
    rgb[~mask] = blurred_bg[~mask]
    values = analyze(as_photo(rgb), depth=False).measurements
    assert 0.3 < values["subject.centroid_x"] < 0.7
    assert values["sharpness.subject"] > values["sharpness.background"]
    assert values["sharpness.subject_background_ratio"] > 1.1


def test_every_measurement_is_documented_with_a_unit(photo_path):
    values = analyze(photo_path("rocket"), depth=False).measurements
    assert set(values) == set(SPECS)
    assert all(SPECS[key].unit and SPECS[key].description for key in values)


def test_docs_list_the_current_measurements():
    assert Path(REPO_ROOT / "docs" / "measurements.md").read_text() == markdown()


def test_analysis_can_be_cancelled(photo_path):
    import threading

    from critique_app.core.util.errors import Cancelled

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        analyze(photo_path("rocket"), cancel=cancel)


@pytest.mark.parametrize("shape",
                         [(1, 1), (2, 2), (7, 5), (1, 2000), (2000, 1), (5, 700), (40, 1280)])
def test_thumbnails_and_slivers_are_analysed(shape, tmp_path):
    """A photo too small or too thin for a measurement gets no value for it, not a crash."""
    rgb = (np.random.default_rng(0).random((*shape, 3)) * 255).astype(np.uint8)
    analysis = analyze(save_rgb(rgb, tmp_path / "tiny.png"), depth=False)
    size = analysis.photo.pixels.shape[:2]  # a 2000 px sliver is analysed at 1280 px
    assert size[0] * size[1] <= shape[0] * shape[1]
    for result in analysis.maps.values():
        assert result.available and result.map.shape == size
    assert analysis.measurements["exposure.mean_luminance"] == pytest.approx(
        float(analysis.photo.luminance().mean()), abs=1e-4)
    if min(shape) < 8:
        assert analysis.measurements["noise.sigma"] is None
        assert analysis.measurements["horizon.tilt_deg"] is None
