"""Minimal DNG files built from a real photo's pixels, for the RAW loader's tests."""

from __future__ import annotations

import numpy as np
import tifffile

WHITE = 4000


def _rational(values):
    return [part for value in values for part in (int(value * 10000), 10000)]


def write_dng(path, rgb8: np.ndarray, preview: np.ndarray | None = None):
    """A minimal DNG: an RGGB Bayer mosaic sampled from ``rgb8``, optionally with a preview."""
    rgb = rgb8.astype(np.float32) / 255
    height, width = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    rgb = rgb[:height, :width]
    mosaic = np.zeros((height, width), np.uint16)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0] * WHITE
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1] * WHITE
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1] * WHITE
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2] * WHITE
    dng_tags = [(50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
                (50708, "s", 0, "Critique Test Camera", True)]  # UniqueCameraModel
    raw_tags = [(33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
                (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
                (50721, "2i", 9, _rational([1, 0, 0, 0, 1, 0, 0, 0, 1]), True),  # ColorMatrix1
                (50717, "I", 1, (WHITE,), True),  # WhiteLevel
                (50778, "H", 1, (21,), True)]  # CalibrationIlluminant1: D65
    with tifffile.TiffWriter(path) as writer:
        if preview is None:
            writer.write(mosaic, photometric=32803, subfiletype=0, extratags=dng_tags + raw_tags)
        else:
            writer.write(preview, photometric="rgb", subfiletype=1, subifds=1, extratags=dng_tags)
            writer.write(mosaic, photometric=32803, subfiletype=0, extratags=raw_tags)
    return path
