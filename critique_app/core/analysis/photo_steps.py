"""Opening one photo for viewing, as a stream of results in the order a viewer wants them.

1. ``photo``: the analysis-size decode (draft JPEG decoding: the first pixels);
2. ``analysis``: blur, saliency and every measurement (the overlays);
3. ``scores``: what the score models say of those ({} when none is installed);
4. ``depth``: a new :class:`Analysis` with the depth map added (the slow step; the
   modality says why when no depth model is installed or it is damaged);
5. ``scores`` again, with the depth score, when a depth score model is installed and
   depth came: every score model has then had its say;
6. ``ready``: the final Analysis; everything a critique is grounded on is known;
7. ``full``: the full-resolution pixels as uint8, for 100% zoom.

Every value is new, never an earlier one changed: the GUI may be handing an earlier
Analysis or score dict to another thread (a critique) while later ones come.
Each step checks ``cancel``, so switching photos stops the stale one early.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from critique_app.core.analysis.analyzer import analyze, estimate_depth
from critique_app.core.maps import find_depth_model
from critique_app.core.photo import load_photo
from critique_app.core.photo.decoded import to_uint8
from critique_app.core.util.errors import CritiqueError, check_cancelled

FULL_MAX_SIDE = 16_384  # full resolution for any camera; the pixel limit still applies


def open_photo_steps(path: Path, *, scorers=None, cancel=None) -> Iterator[tuple[str, object]]:
    photo = load_photo(path)
    yield "photo", photo
    check_cancelled(cancel)
    analysis = analyze(photo, depth=False, cancel=cancel)
    yield "analysis", analysis
    scores = None
    if scorers is not None:  # {} when no score model is installed
        check_cancelled(cancel)
        scores = scorers.score_inputs(analysis.score_inputs())
        yield "scores", scores
    check_cancelled(cancel)
    try:
        depth_model = find_depth_model()
    except CritiqueError:
        depth_model = None
    start = time.perf_counter()
    depth = estimate_depth(photo.pixels, depth_model, cancel)
    analysis = analysis.with_map(depth, time.perf_counter() - start)
    yield "depth", analysis
    if scores is not None and depth.available and "depth" in scorers.by_modality:
        check_cancelled(cancel)
        scores = {**scores, **scorers.score_inputs({"depth": depth.map})}
        yield "scores", scores
    check_cancelled(cancel)
    yield "ready", analysis
    check_cancelled(cancel)
    if max(photo.original_size) > max(photo.pixels.shape[:2]):
        yield "full", to_uint8(load_photo(path, max_side=FULL_MAX_SIDE).pixels)
