"""Sequences whose frames differ on purpose: exposure brackets, panoramas, focus stacks.
Each is kept whole, so these tests lean towards "not a sequence" when unsure."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from critique_app.core.culling.look import likeness, thumb_cosine, thumb_shift

BRACKET_MIN, BRACKET_MAX = 3, 9  # cameras bracket 3, 5, 7 or 9 frames; two are just a pair
BRACKET_MIN_STEP = 0.3  # 1/3 EV, the smallest bracketing step cameras offer
BRACKET_STEP_TOLERANCE = 0.1  # bias values are rounded rationals (-0.67 for -2/3)
MEASURED_MIN_STEP = 0.45  # no bias tags: measured brightness steps; clipping shrinks +1 EV to ~0.5
MEASURED_MIN_SPAN = 1.5  # ...and spans at least 1.5 EV (a -1/0/+1 bracket measures ~1.8)
PAN_MIN_SHIFT = 2  # thumb px of 16: the view moved by at least 1/8 of the frame
PAN_MIN_CORR = 0.85  # the shifted overlap matches well (lens and parallax allow no more)...
PAN_GAIN = 0.15  # ...and clearly better than the frames laid on top of each other
FOCUS_MIN = 3  # a focus stack needs a near, a middle and a far frame
FOCUS_PEAK = 2.0  # the in-focus cell is at least twice as sharp as the frame's median cell
FOCUS_TRAVEL = 0.75  # of a 3x3 grid cell: the sharp zone really moved


def ev_label(values) -> str:
    return "/".join("0" if abs(v) < 0.005 else f"{v:+.2f}".rstrip("0").rstrip(".")
                    for v in sorted(values))


def _even_steps(values: list[float]) -> bool:
    steps = np.diff(sorted(values))
    return bool(len(steps) and steps.min() >= BRACKET_MIN_STEP
                and steps.max() - steps.min() <= BRACKET_STEP_TOLERANCE)


def _measured_steps(frames: list[dict], members: list[int]) -> bool:
    """No bias tags (stripped copies): same framing, brightness stepping clearly."""
    evs = [(frames[i].get("exposure") or {}).get("ev") for i in members]
    if None in evs:
        return False
    steps = np.diff(sorted(evs))
    framing = all(thumb_cosine(frames[a]["thumb"], frames[b]["thumb"]) >= 0.9
                  for a, b in pairwise(members))
    return bool(framing and steps.min() >= MEASURED_MIN_STEP and steps.sum() >= MEASURED_MIN_SPAN)


def bracket_at(frames: list[dict], seq: list[int], start: int) -> tuple[int, str] | None:
    """The longest bracket starting at ``seq[start]``: (its length, why), or None."""
    for length in range(min(BRACKET_MAX, len(seq) - start), BRACKET_MIN - 1, -1):
        members = seq[start:start + length]
        biases = [frames[i].get("exposure_bias_ev") for i in members]
        if all(b is not None for b in biases):
            if len(set(biases)) == length and _even_steps(biases):
                return length, f"{length} frames bracketed {ev_label(biases)} EV: kept whole"
        elif all(b is None for b in biases) and _measured_steps(frames, members):
            evs = [frames[i]["exposure"]["ev"] for i in members]
            return length, (f"{length} frames of one view stepping in brightness "
                            f"({ev_label(evs)} EV measured, no bias recorded): "
                            "a bracket, kept whole")
    return None


def same_settings(a: dict, b: dict) -> bool:
    """Shutter, aperture, ISO and focal length agree wherever both frames record them."""
    for key in ("shutter_s", "aperture_f", "iso", "focal_length_mm"):
        x, y = a.get(key), b.get(key)
        if x is not None and y is not None and abs(x - y) > 0.01 * max(abs(x), abs(y)):
            return False
    return True


def pan_step(a: dict, b: dict) -> tuple[int, int] | None:
    """The thumb shift from ``a`` to ``b`` when ``b`` overlaps ``a`` partly: a pan."""
    if not same_settings(a, b):
        return None
    dx, dy, corr = thumb_shift(a["thumb"], b["thumb"])
    if max(abs(dx), abs(dy)) < PAN_MIN_SHIFT or corr < PAN_MIN_CORR:
        return None
    if corr < thumb_cosine(a["thumb"], b["thumb"]) + PAN_GAIN:
        return None
    return dx, dy


def one_direction(shifts: list[tuple[int, int]]) -> bool:
    first = np.array(shifts[0], float)
    return all(float(np.dot(first, s)) > 0 for s in shifts)


def _sharp_centre(grid) -> tuple[float, float] | None:
    """Where the sharp zone sits (row, column in cells), or None when nothing stands out."""
    cells = np.array([0.0 if v is None else v for v in grid], float).reshape(3, 3)
    if cells.max() <= 0 or cells.max() < FOCUS_PEAK * max(np.median(cells), 1e-12):
        return None
    weights = (cells / cells.max()) ** 4  # the in-focus cells, not the blurred rest
    rows, cols = np.mgrid[0:3, 0:3]
    return (float((weights * rows).sum() / weights.sum()),
            float((weights * cols).sum() / weights.sum()))


def focus_travel(frames: list[dict], members: list[int]) -> str | None:
    """Words for how the sharp zone moves across a near-identical run, or None when it
    does not move one way (a burst, not a focus stack)."""
    if len(members) < FOCUS_MIN:
        return None
    if not all(same_settings(frames[a], frames[b]) and likeness(frames[a], frames[b]).near_identical
               for a, b in pairwise(members)):
        return None
    centres = [_sharp_centre(frames[i]["sharpness"]["grid"]) for i in members]
    if any(c is None for c in centres):
        return None
    points = np.array(centres)
    direction = points[-1] - points[0]
    travel = float(np.linalg.norm(direction))
    if travel < FOCUS_TRAVEL:
        return None
    along = points @ (direction / travel)
    if np.any(np.diff(along) < -0.1):
        return None
    dr, dc = direction
    if abs(dr) >= abs(dc):
        return "top to bottom" if dr > 0 else "bottom to top"
    return "left to right" if dc > 0 else "right to left"
