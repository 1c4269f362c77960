"""Whatever bytes a file holds, loading either works or raises PhotoError: never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critique_app.core.photo import load_photo
from critique_app.core.util.errors import PhotoError
from tests.helpers.photos import PHOTOS

JPEG = PHOTOS["rocket"].read_bytes()
PNG = PHOTOS["chelsea"].read_bytes()


def _load_or_photo_error(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"photo{suffix}"
        path.write_bytes(data)
        try:
            photo = load_photo(path)
        except PhotoError as error:
            assert "\n" not in str(error)
        else:
            assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from([".jpg", ".png", ".tif", ".webp", ".heic"]))
def test_random_bytes(data, suffix):
    _load_or_photo_error(data, suffix)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=len(JPEG) - 1))
def test_truncated_jpeg_at_any_length(cut):
    _load_or_photo_error(JPEG[:cut], ".jpg")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(PNG) - 1), st.integers(0, 255))
def test_one_corrupted_byte_in_a_png(position, value):
    data = bytearray(PNG)
    data[position] = value
    _load_or_photo_error(bytes(data), ".png")
