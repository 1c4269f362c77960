"""Every kind of bad input is one PhotoError with a message a photographer understands."""

from __future__ import annotations

import struct
import zlib

import pytest

from critique_app.core.photo import load_photo
from critique_app.core.util.errors import CritiqueError, PhotoError
from tests.helpers.photos import PHOTOS


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be width x height (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + _chunk(b"IEND", b""))


def _case(tmp_path, kind):
    jpeg = PHOTOS["rocket"].read_bytes()
    if kind == "missing":
        return tmp_path / "nope.jpg", "not found"
    if kind == "empty":
        (tmp_path / "empty.jpg").write_bytes(b"")
        return tmp_path / "empty.jpg", "empty"
    if kind == "folder":
        return tmp_path, "folder"
    if kind == "truncated":
        (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
        return tmp_path / "cut.jpg", "truncated"
    if kind == "not-an-image":
        (tmp_path / "notes.jpg").write_text("shopping list: film, batteries\n")
        return tmp_path / "notes.jpg", "not a valid JPG"
    if kind == "garbage-png":
        (tmp_path / "noise.png").write_bytes(bytes(range(256)) * 40)
        return tmp_path / "noise.png", "not a valid PNG"
    if kind == "bomb":
        (tmp_path / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
        return tmp_path / "bomb.png", "safety limit"
    if kind == "unsupported":
        (tmp_path / "drawing.xyz").write_text("<svg></svg>")
        return tmp_path / "drawing.xyz", "unsupported file type"
    if kind == "fake-raw":
        (tmp_path / "fake.nef").write_bytes(b"\0" * 4096)
        return tmp_path / "fake.nef", "RAW"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["missing", "empty", "folder", "truncated", "not-an-image", "garbage-png", "bomb",
     "unsupported", "fake-raw"],
)
def test_bad_input_raises_one_clear_error(tmp_path, kind):
    path, expected = _case(tmp_path, kind)
    with pytest.raises(PhotoError) as caught:
        load_photo(path)
    message = str(caught.value)
    assert isinstance(caught.value, CritiqueError)
    assert expected in message
    assert "\n" not in message and str(path.name) in message


def test_pixel_limit_is_configurable(photo_path):
    with pytest.raises(PhotoError, match="safety limit"):
        load_photo(photo_path("chelsea"), max_pixels=100_000)
