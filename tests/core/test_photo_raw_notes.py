"""A RAW file says why its sensor data was demosaiced, and a corrupt embedded
preview costs the preview, not the photo.

The DNGs are built from a real photo's mosaic (tests/core/test_photo_raw.py); the
JPEG preview is the same photo encoded by Pillow and written into the preview
strip as a camera does (compression 7), whole or cut short.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import tifffile
from PIL import Image

from critique_app.core.photo import load_photo
from tests.helpers.photos import load_rgb
from tests.helpers.raw_files import write_dng


@pytest.fixture(scope="module")
def cat():
    return load_rgb("chelsea")[:300, :450]


def jpeg_preview_dng(path, cat: np.ndarray, cut_to: float = 1.0):
    """A DNG whose preview is ``cat`` as a JPEG, its first ``cut_to`` share only."""
    buffer = io.BytesIO()
    Image.fromarray(cat).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()[: int(len(buffer.getvalue()) * cut_to)]
    write_dng(path, cat, preview=cat)  # an uncompressed preview strip, then made a JPEG one
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.tags["StripByteCounts"].count == 1 and page.tags["NewSubfileType"].value == 1
        compression = page.tags["Compression"].valueoffset
        photometric = page.tags["PhotometricInterpretation"].valueoffset
        byte_count = page.tags["StripByteCounts"].valueoffset
        start = page.tags["StripOffsets"].value[0]
    data = bytearray(path.read_bytes())
    data[compression : compression + 2] = struct.pack("<H", 7)  # JPEG
    data[photometric : photometric + 2] = struct.pack("<H", 6)  # YCbCr
    data[byte_count : byte_count + 4] = struct.pack("<I", len(jpeg))
    data[start : start + len(jpeg)] = jpeg
    path.write_bytes(bytes(data))
    return path


def test_a_whole_jpeg_preview_is_analysed(tmp_path, cat):
    photo = load_photo(jpeg_preview_dng(tmp_path / "cat.dng", cat), max_side=450)
    assert photo.decoded_from == "raw-preview" and photo.size == (450, 300)
    assert np.abs(photo.pixels - cat / 255.0).mean() < 0.02
    assert not [note for note in photo.notes if "could not" in note]


def test_a_truncated_preview_falls_back_to_the_sensor_data_and_says_so(tmp_path, cat):
    photo = load_photo(jpeg_preview_dng(tmp_path / "cat.dng", cat, cut_to=0.35), max_side=450)
    assert photo.decoded_from == "raw-demosaic" and photo.size == (225, 150)
    assert photo.notes[0].startswith(
        "demosaiced at half size (the embedded preview could not be decoded: image file is "
        "truncated"), photo.notes
    half = np.asarray(Image.fromarray(cat).resize((225, 150), Image.Resampling.BOX)) / 255
    assert np.corrcoef(photo.luminance().ravel(), half.mean(axis=2).ravel())[0, 1] > 0.9


def test_the_demosaic_note_says_why_the_preview_was_not_used(tmp_path, cat):
    bare = load_photo(write_dng(tmp_path / "bare.dng", cat))
    assert bare.notes[0] == "demosaiced at half size (no embedded preview)"
    thumb = np.asarray(Image.fromarray(cat).resize((90, 60)))
    small = load_photo(write_dng(tmp_path / "small.dng", cat, preview=thumb), max_side=450)
    assert small.notes[0] == "demosaiced at half size (the embedded preview is only 90×60)"
