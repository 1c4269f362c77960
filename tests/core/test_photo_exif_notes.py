"""A broken EXIF block never stops a photo from loading, and never goes unsaid.

The photos are the real JPEG in resources/samples with an EXIF block spliced in
as the APP1 segment a camera writes (the picture data stays byte for byte the
same), then damaged the way bad card readers and careless editors damage it.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from critique_app.core.photo import load_photo
from tests.helpers.photos import REPO_ROOT

SAMPLE = REPO_ROOT / "resources" / "samples" / "chelsea.jpg"  # 451 × 300, no EXIF of its own
UNUSED = "orientation and capture data not used"


def exif_block(orientation: int = 6) -> bytes:
    """A camera-like EXIF block (big-endian, as Nikon writes it): orientation, camera, exposure."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "NIKON CORPORATION"
    exif[0x0110] = "NIKON Z 6_2"
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = 1 / 250  # exposure time
    sub[0x8827] = 400  # ISO
    block = exif.tobytes()
    assert block.startswith(b"Exif\x00\x00MM\x00*")
    return block


def with_app1(tmp_path, payload: bytes, name: str = "shot.jpg"):
    """The sample JPEG with ``payload`` as its APP1 segment, right after the SOI marker."""
    jpeg = SAMPLE.read_bytes()
    assert jpeg[:2] == b"\xff\xd8"
    path = tmp_path / name
    path.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
                     + jpeg[2:])
    return path


def damaged(block: bytes, at: int, replacement: bytes) -> bytes:
    """``block`` with bytes overwritten at ``at``, counted from the TIFF header."""
    at += 6
    return block[:at] + replacement + block[at + len(replacement):]


@pytest.fixture(scope="module")
def as_stored():
    return load_photo(SAMPLE).pixels


def test_an_intact_block_is_used_without_a_note(tmp_path, as_stored):
    photo = load_photo(with_app1(tmp_path, exif_block()))
    assert photo.size == (300, 451)  # orientation 6: turned upright
    assert photo.exif.camera == "NIKON Z 6_2" and photo.exif.iso == 400
    assert photo.exif.shutter_text == "1/250 s"
    assert not [n for n in photo.notes if "EXIF" in n and "orientation 6 applied" not in n]
    assert np.array_equal(photo.pixels, np.rot90(as_stored, k=-1))


@pytest.mark.parametrize(("damage", "cause"), [
    # the byte-order mark ("MM") overwritten: not a TIFF structure at all
    (lambda block: damaged(block, 0, b"\x00\x00"), "not a TIFF file"),
    # the first directory's offset points far past the end of the block
    (lambda block: damaged(block, 4, struct.pack(">I", 60_000)), "Corrupt EXIF data"),
    # the block cut short inside its header (a truncated copy)
    (lambda block: block[:6 + 5], "only 5 bytes long"),
], ids=["byte order overwritten", "directory past the end", "cut short"])
def test_a_corrupt_block_leaves_a_note_and_the_photo_loads(tmp_path, as_stored, damage, cause):
    photo = load_photo(with_app1(tmp_path, damage(exif_block())))
    notes = [n for n in photo.notes if n.startswith("EXIF unreadable: ")]
    assert len(notes) == 1, photo.notes
    assert cause in notes[0] and notes[0].endswith(UNUSED)
    # The picture is intact: it loads as stored, neither turned nor described.
    assert photo.size == (451, 300) and photo.exif.is_empty()
    assert np.array_equal(photo.pixels, as_stored)


def test_a_partly_readable_block_is_used_and_says_so(tmp_path, as_stored):
    # The first directory claims 0xFFFF entries: Pillow reads the real ones, then runs out.
    photo = load_photo(with_app1(tmp_path, damaged(exif_block(), 8, b"\xff\xff")))
    notes = [n for n in photo.notes if n.startswith("EXIF partly unreadable: ")]
    assert len(notes) == 1, photo.notes
    assert "the tags that could be read are used" in notes[0]
    assert photo.size == (300, 451) and photo.exif.camera == "NIKON Z 6_2"
    assert np.array_equal(photo.pixels, np.rot90(as_stored, k=-1))


@pytest.mark.parametrize("value", [0, 9])
def test_an_invalid_orientation_is_named_and_not_applied(tmp_path, as_stored, value):
    photo = load_photo(with_app1(tmp_path, exif_block(orientation=value)))
    assert any(f"EXIF orientation {value} is not one of the valid values 1-8" in n
               for n in photo.notes), photo.notes
    assert photo.size == (451, 300) and photo.exif.camera == "NIKON Z 6_2"
    assert np.array_equal(photo.pixels, as_stored)


def test_critique_analyze_shows_the_note(tmp_path, isolated_home):
    path = with_app1(tmp_path, damaged(exif_block(), 0, b"\x00\x00"))
    result = subprocess.run(
        [sys.executable, "-m", "critique_app", "analyze", str(path), "--json", "--no-depth"],
        capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
        env={**os.environ, "CRITIQUE_HOME": str(isolated_home)})
    assert result.returncode == 0, result.stderr
    notes = json.loads(result.stdout)["photo"]["notes"]
    assert any(n.startswith("EXIF unreadable: not a TIFF file") and n.endswith(UNUSED)
               for n in notes), notes
