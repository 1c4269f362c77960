"""The photo again, larger than the analysis image, just far enough down to hold its faces.

A face's sharpness needs ~160 px across it; in the 720 px analysis image a face is often
30-100 px wide. Decoding a 24 MP JPEG again costs about as much as the first decode (most
of it is entropy decoding, whatever the scale), so only the rows down to the lowest face
are decoded: libjpeg produces rows top-down and stops when Pillow's decoder has the rows
it was given. Faces sit in the upper half of most frames, so this halves the cost.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from critique_app.core.photo.exif import apply_orientation, read_exif
from critique_app.core.photo.raw import RAW_EXTENSIONS

JPEG_SCALES = (0.125, 0.25, 0.5, 1.0)  # what libjpeg's DCT scaling offers


def decode_for_faces(path: Path, scale: float, boxes: list[tuple[float, float, float, float]]
                     ) -> np.ndarray | None:
    """Upright grey uint8 of the photo at least ``scale`` x its original size (at most
    native; a JPEG at the next libjpeg scale up), with the rows under the lowest of
    ``boxes`` (upright, 0-1 of the frame) possibly left black. None for RAW files."""
    if path.suffix.lower() in RAW_EXTENSIONS:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(path)
    with image:
        orientation = read_exif(image).orientation
        if image.format in ("JPEG", "MPO"):
            fraction = next((f for f in JPEG_SCALES if f >= min(scale, 1.0)), 1.0)
            width, height = image.size
            image.draft("L", (math.ceil(width * fraction), math.ceil(height * fraction)))
            rows = math.ceil(image.size[1] * _stored_bottom(boxes, orientation)) + 16
            grey = _top_rows(image, min(rows, image.size[1]))
        else:
            grey = np.asarray(image.convert("L"))
    return np.ascontiguousarray(apply_orientation(grey, orientation))


def _stored_bottom(boxes, orientation: int) -> float:
    """How far down the stored (not yet upright) image the boxes reach, 0-1."""
    if not boxes:
        return 1.0
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    reach = {1: y1, 2: y1, 3: 1.0 - y0, 4: 1.0 - y0, 5: x1, 6: 1.0 - x0, 7: 1.0 - x0, 8: x1}
    return min(1.0, max(0.0, reach.get(orientation, 1.0)))


def _top_rows(image: Image.Image, rows: int) -> np.ndarray:
    """The first ``rows`` rows of an opened, drafted JPEG as grey uint8 (the rest black),
    decoding no further; the whole image the ordinary way when that cannot be done."""
    _width, height = image.size
    if rows >= height or image.mode != "L" or len(image.tile) != 1:
        return np.asarray(image.convert("L"))
    try:
        return _decode_rows(image, rows)
    except Exception:  # Pillow's decoder plumbing changed: decode it all instead
        return np.asarray(image.convert("L"))


def _decode_rows(image: Image.Image, rows: int) -> np.ndarray:
    """Pillow's own tile decoding loop (ImageFile.load), told to fill only ``rows`` rows."""
    tile = image.tile[0]
    codec, offset, args = tile[0], tile[2], tile[3]
    target = Image.core.new(image.mode, image.size)
    decoder = Image._getdecoder(image.mode, codec, args, image.decoderconfig)
    try:
        decoder.setimage(target, (0, 0, image.size[0], rows))
        image.fp.seek(offset)
        buffer = b""
        while True:
            chunk = image.fp.read(1 << 16)
            buffer += chunk
            consumed, _ = decoder.decode(buffer)
            if consumed < 0 or not chunk:
                break  # done; stopping early reports a broken stream, the rows are there
            buffer = buffer[consumed:]
    finally:
        decoder.cleanup()
    grey = np.zeros((image.size[1], image.size[0]), np.uint8)
    grey[:rows] = np.asarray(image._new(target).crop((0, 0, image.size[0], rows)))
    return grey
