"""Opening one photo for viewing, as a stream of results in the order a viewer wants them.

1. ``photo``: the analysis-size decode (draft JPEG decoding: the first pixels);
2. ``analysis``: blur, saliency and every measurement (the overlays);
3. ``scores``: what the trained score models say ({} when none is installed);
4. ``depth``: the depth map, when a depth model is installed (the slow one);
5. ``full``: the full-resolution pixels as uint8, for 100% zoom.
Each step checks ``cancel``, so switching photos stops the stale one early.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from critique_app.core.analysis import analyze, estimate_depth
from critique_app.core.errors import CritiqueError, check_cancelled
from critique_app.core.imaging import load_photo
from critique_app.core.imaging.photo import to_uint8
from critique_app.core.modalities import find_depth_model

FULL_MAX_SIDE = 16_384  # full resolution for any camera; the pixel limit still applies


def open_photo_steps(path: Path, *, scorers=None, cancel=None) -> Iterator[tuple[str, object]]:
    photo = load_photo(path)
    yield "photo", photo
    check_cancelled(cancel)
    analysis = analyze(photo, depth=False, cancel=cancel)
    yield "analysis", analysis
    if scorers is not None:  # {} when no trained score model is installed
        check_cancelled(cancel)
        yield "scores", scorers.score_sources(analysis.sources())
    check_cancelled(cancel)
    try:
        depth_model = find_depth_model()
    except CritiqueError:
        depth_model = None
    yield "depth", estimate_depth(photo.pixels, depth_model, cancel)
    check_cancelled(cancel)
    if max(photo.original_size) > max(photo.pixels.shape[:2]):
        yield "full", to_uint8(load_photo(path, max_side=FULL_MAX_SIDE).pixels)
