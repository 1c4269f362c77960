"""``--maps DIR``: each available modality as <name>.npy (the map) and <name>.png (overlay)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from critique_app.core.analysis.analyzer import Analysis
from critique_app.core.maps import render_overlay, with_legend
from critique_app.core.util.errors import CritiqueError


def write_maps(analysis: Analysis, directory: Path) -> list[Path]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        message = f"cannot create the maps folder {directory}: {error.strerror}"
        raise CritiqueError(message) from None
    photo_rgb = analysis.photo.to_uint8()
    written = []
    for name, result in analysis.maps.items():
        if not result.available:
            continue
        npy, png = directory / f"{name}.npy", directory / f"{name}.png"
        np.save(npy, result.map.astype(np.float32))
        overlay = with_legend(render_overlay(photo_rgb, result.map, name), name)
        Image.fromarray(overlay).save(png, optimize=False)
        written += [npy, png]
    return written
