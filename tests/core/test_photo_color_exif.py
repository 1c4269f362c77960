"""Colour profiles, EXIF orientation and the EXIF summary."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from critique_app.core.photo import load_photo
from tests.helpers.photos import load_rgb


def _linear_srgb_profile() -> bytes:
    """A minimal ICC v2 RGB profile: sRGB primaries, D50 white, gamma 1.0 (linear)."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x, y, z) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    desc_text = b"Linear sRGB test\0"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text
            + b"\0" * 4 + b"\0" * 4 + b"\0" * 2 + b"\0" + b"\0" * 67)
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", 256)  # gamma 1.0
    tags = [
        (b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)), (b"rTRC", curve), (b"gTRC", curve),
        (b"bTRC", curve), (b"cprt", b"text" + b"\0" * 4 + b"CC0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642)
              + s15(1.0) + s15(0.8249) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + body


def test_embedded_profile_is_converted_to_srgb(tmp_path):
    icc = _linear_srgb_profile()
    ImageCms.ImageCmsProfile(io.BytesIO(icc))  # lcms accepts it
    grey = np.full((32, 32, 3), 128, np.uint8)  # linear 0.5 ...
    path = tmp_path / "linear.png"
    Image.fromarray(grey).save(path, icc_profile=icc)
    photo = load_photo(path)
    # ... is sRGB 0.735 (188/255): the profile was applied, not ignored.
    assert abs(float(photo.pixels.mean()) - 0.735) < 0.01
    assert any("colour profile" in note for note in photo.notes)


def test_adobe_rgb_photo_is_converted(photo_path):
    photo = load_photo(photo_path("rocket"))
    assert any("Adobe RGB" in note for note in photo.notes)
    untouched = load_rgb("rocket") / 255.0
    assert np.abs(photo.pixels - untouched).mean() > 0.005


# How each EXIF orientation stores the upright picture (the inverse of what a viewer does).
STORE = {
    1: lambda im: im,
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    3: lambda im: im.transpose(Image.Transpose.ROTATE_180),
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    5: lambda im: im.transpose(Image.Transpose.TRANSPOSE),
    6: lambda im: im.transpose(Image.Transpose.ROTATE_90),
    7: lambda im: im.transpose(Image.Transpose.TRANSVERSE),
    8: lambda im: im.transpose(Image.Transpose.ROTATE_270),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_same_upright_pixels(tmp_path, orientation):
    upright = Image.fromarray(load_rgb("chelsea"))
    stored = STORE[orientation](upright)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    stored.save(path, exif=exif)
    photo = load_photo(path)
    assert photo.original_size == (451, 300)
    assert np.array_equal(photo.to_uint8(), np.asarray(upright))


def test_exif_summary(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"
    exif[0x0110] = "NIKON Z 6_2"
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = 1 / 250
    sub[0x829D] = 2.8
    sub[0x8827] = 400
    sub[0x920A] = 50.0
    sub[0xA434] = "NIKKOR Z 50mm f/1.8 S"
    sub[0x9003] = "2024:06:01 18:30:05"
    path = tmp_path / "shot.jpg"
    Image.fromarray(load_rgb("chelsea")).save(path, exif=exif)
    summary = load_photo(path).exif
    assert summary.camera == "NIKON CORPORATION NIKON Z 6_2" or summary.camera == "NIKON Z 6_2"
    assert summary.lens == "NIKKOR Z 50mm f/1.8 S"
    assert summary.aperture_f == 2.8 and summary.iso == 400 and summary.focal_length_mm == 50
    assert summary.shutter_text == "1/250 s"
    assert summary.taken_at == "2024-06-01T18:30:05"


def test_no_exif_is_an_empty_summary(photo_path):
    assert load_photo(photo_path("coffee")).exif.is_empty()
