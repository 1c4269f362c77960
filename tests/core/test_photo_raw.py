"""Camera RAW through LibRaw, on DNG files built in the test from a real photo's mosaic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from critique_app.core.photo import load_photo
from tests.helpers.photos import load_rgb
from tests.helpers.raw_files import write_dng


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def cat():
    return load_rgb("chelsea")[:300, :450]


def test_raw_without_preview_is_demosaiced_at_half_size(tmp_path, cat):
    photo = load_photo(write_dng(tmp_path / "cat.dng", cat))
    assert photo.decoded_from == "raw-demosaic" and photo.bit_depth == 16
    assert photo.original_size == (450, 300)
    assert photo.format == "RAW (DNG)"
    assert photo.size == (225, 150) and photo.decode_scale == 0.5
    half = np.asarray(Image.fromarray(cat).resize((225, 150), Image.Resampling.BOX)) / 255
    assert _correlation(photo.luminance(), half.mean(axis=2)) > 0.9


def test_large_embedded_preview_is_used(tmp_path, cat):
    photo = load_photo(write_dng(tmp_path / "cat.dng", cat, preview=cat), max_side=450)
    assert photo.decoded_from == "raw-preview"
    assert photo.original_size == (450, 300)
    assert np.abs(photo.pixels - cat / 255.0).mean() < 0.01


def test_small_preview_falls_back_to_the_sensor_data(tmp_path, cat):
    thumb = np.asarray(Image.fromarray(cat).resize((90, 60)))
    photo = load_photo(write_dng(tmp_path / "cat.dng", cat, preview=thumb), max_side=450)
    assert photo.decoded_from == "raw-demosaic"
