"""Each frame of a group measured against the group: subject sharpness, eyes, exposure,
score; the flags these earn, and the words for each."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

from critique_app.core.culling.grouping import name_of
from critique_app.core.culling.people import EYES_SHUT, openness, people

BLUR_RATIO = 0.7  # of the group's sharpest (facts' Laplacian/gradient energy, cell-weighted):
#                   on the 7 packaged photos (JPEG, noise) a 7-21 px shake at any angle leaves
#                   0.12-0.49 of it, a defocus of sigma 1.5-4 0.01-0.20, faces 0.45 / 0.13 at
#                   most; sharp twins (shifted, other noise) measure 0.94-1.0
SOFT_SINGLE = 0.5  # a single frame whose sharpest cell is below this is clearly blurred:
#                    crisp photos measure 0.77-2.97, a sigma-4 defocus 0.08-0.21, a 21 px
#                    shake 0.19-1.45 (by content: busy scenes keep fine detail across it)
EYES_CLOSED_RATIO = 0.6  # openness under 0.6 of the same person's widest in the group:
#                         eyes painted shut on the astronaut read 0.48-0.50 of open (the iris
#                         model's lids never quite meet), behind glasses (Grace Hopper) 0.79
EXPOSURE_FLAG_EV = 1.0  # a full stop off the group's median


@dataclass
class Assessment:
    index: int
    position: int  # in capture order within the group
    sharp: float | None = None  # relative to the group's sharpest (1.0 = it)
    what: str = "subject"  # what the sharpness is of: "face" or "subject"
    eyes: float | None = None  # worst main person's openness relative to their widest
    ev_delta: float | None = None
    score: float | None = None
    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def assess_group(frames: list[dict], members) -> list[Assessment]:
    members = list(members)
    out = [Assessment(i, k, score=frames[i].get("score")) for k, i in enumerate(members)]
    crowd = people(frames, members)
    _sharpness(frames, out, crowd)
    _eyes(frames, out, crowd)
    _exposure(frames, out)
    for a in out:
        if a.score is not None:
            best = max(b.score for b in out if b.score is not None)
            top = " (the group's highest)" if a.score == best else ""
            a.reasons.append(f"score {a.score:.2f}{top}")
    return out


def assess_single(frames: list[dict], index: int) -> Assessment:
    """A frame with nothing to compare: only what is clearly wrong on its own is flagged.
    Not exposure (a dark single may be a night scene), and blur only when even the
    sharpest part of the frame is soft (a face alone is smooth skin: no absolute test)."""
    a = Assessment(index, 0, score=frames[index].get("score"))
    value = frames[index]["sharpness"].get("subject")
    if value is not None and value < SOFT_SINGLE:
        a.flags.append("subject-blur")
        a.reasons.append(f"clearly blurred: nothing in the frame is sharp (sharpness "
                         f"{value:.2f}; crisp frames measure 0.8 and more)")
    _eyes(frames, [a], people(frames, [index]))
    if a.score is not None:
        a.reasons.append(f"score {a.score:.2f}")
    return a


# -- sharpness ----------------------------------------------------------------------------

def _sharpness(frames: list[dict], out: list[Assessment], crowd) -> None:
    members = [a.index for a in out]
    values, what = _face_sharpness(frames, members, crowd), "face"
    if values is None:
        values, what = _grid_sharpness(frames, members), "subject"
    if values is None:
        return
    best = max(range(len(out)), key=lambda k: values[k])
    best_name = name_of(frames, out[best].index)
    for k, a in enumerate(out):
        a.what = what
        a.sharp = float(values[k] / values[best]) if values[best] > 0 else 1.0
        pct = round(100 * a.sharp)
        if pct == 100 and k != best:  # not "100%" beside "a little less sharp"
            pct = f"{min(99.9, 100 * a.sharp):.1f}"
        if k == best:
            a.reasons.append(f"sharpest {what} of the {len(out)} frames")
        elif a.sharp < BLUR_RATIO:
            a.flags.append("subject-blur")
            a.reasons.append(f"{what} blurred: {pct}% as sharp as in {best_name}")
        else:
            a.reasons.append(f"{what} {pct}% as sharp as in {best_name}")


def _face_sharpness(frames: list[dict], members: list[int], crowd) -> list[float] | None:
    """Per frame, its least sharp main face relative to that person's sharpest; None unless
    every frame has a measured face (then faces decide, not the background)."""
    best = {k: max((f.get("sharpness") or 0.0) for f in p.faces.values())
            for k, p in enumerate(crowd)}
    values = []
    for i in members:
        rel = [p.faces[i]["sharpness"] / best[k] for k, p in enumerate(crowd)
               if i in p.main and p.faces[i].get("sharpness") is not None and best[k] > 0]
        if not rel:
            return None
        values.append(min(rel))
    return values


def _grid_sharpness(frames: list[dict], members: list[int]) -> list[float] | None:
    """Cell by cell against the sharpest frame in that cell, weighted towards the cells
    that are sharp somewhere (the subject; out-of-focus background weighs little). The
    frames of a group share their framing, so the cells line up; a lone "subject"
    number (the sharpest cell) is the fallback."""
    grids = [frames[i]["sharpness"].get("grid") for i in members]
    if all(g and len(g) == 9 for g in grids):
        cells = np.array([[np.nan if v is None else v for v in g] for g in grids], float)
        top = np.nanmax(np.where(np.isnan(cells), -np.inf, cells), axis=0)
        usable = np.isfinite(top) & (top > 0)
        if usable.any():
            weight = top[usable] ** 2
            rel = np.nan_to_num(cells[:, usable] / top[usable], nan=0.0)
            return list((rel * weight).sum(axis=1) / weight.sum())
    subject = [frames[i]["sharpness"].get("subject") for i in members]
    return None if None in subject else [float(v) for v in subject]


# -- eyes ----------------------------------------------------------------------------------

def _eyes(frames: list[dict], out: list[Assessment], crowd) -> None:
    """Each main person's openness against their own widest in the group."""
    widest: dict[int, tuple[float, int]] = {}
    for k, person in enumerate(crowd):
        for i, face in person.faces.items():
            value, _ = openness(face)
            if value is not None and i in person.main and value > widest.get(k, (-1.0, -1))[0]:
                widest[k] = (value, i)
    for a in out:
        present = [(k, p) for k, p in enumerate(crowd) if a.index in p.main]
        several = len(present) > 1
        label = (lambda k: f"person {k + 1} from the left: ") if several else (lambda k: "")
        worst, unknown, closed = None, [], []
        for k, person in present:
            value, why = openness(person.faces[a.index])
            if value is None:
                unknown.append(f"{label(k)}{why}")
                continue
            top, where = widest[k]
            rel = value / top if top > 0 else 1.0
            worst = rel if worst is None else min(worst, rel)
            if value < EYES_SHUT or rel < EYES_CLOSED_RATIO:
                compare = f" vs {top:.2f} in {name_of(frames, where)}" if where != a.index else ""
                closed.append(f"{label(k)}openness {value:.2f}{compare}")
            else:
                a.reasons.append(f"{label(k)}eyes open (openness {value:.2f})")
        a.eyes = worst
        if closed:
            a.flags.append("eyes-closed")
            a.reasons.append("eyes closed (" + "; ".join(closed) + ")")
        if unknown and not _eyes_measurable(frames[a.index]):
            # Haar cascades find faces but never measure eyes: a flag on every face would
            # only repeat what the summary says once.
            a.reasons.append("eyes not checked (OpenCV's Haar cascades cannot measure them)")
        elif unknown:
            a.flags.append("eyes-unknown")
            a.reasons.append("eyes: can't tell (" + "; ".join(unknown) + ")")


def _eyes_measurable(facts: dict) -> bool:
    return (facts.get("faces") or {}).get("method") == "mediapipe"


# -- exposure -------------------------------------------------------------------------------

def _exposure(frames: list[dict], out: list[Assessment]) -> None:
    """Against the group's median; with two frames, against the one clipping less."""
    evs = [(frames[a.index].get("exposure") or {}).get("ev") for a in out]
    if None in evs:
        return
    if len(out) == 2:
        clip = [frames[a.index]["exposure"].get("highlights_pct", 0.0)
                + frames[a.index]["exposure"].get("shadows_pct", 0.0) for a in out]
        ref_k = 0 if clip[0] <= clip[1] else 1
        reference, against = evs[ref_k], f"{name_of(frames, out[ref_k].index)}"
    else:
        reference, against = statistics.median(evs), "the group's median"
    for a, ev in zip(out, evs, strict=True):
        a.ev_delta = ev - reference
        stops = abs(a.ev_delta)
        if len(out) == 2 and a is out[ref_k]:
            a.reasons.append("exposure: the better balanced of the two (clips least)")
        elif stops > EXPOSURE_FLAG_EV:
            darker = a.ev_delta < 0
            a.flags.append("underexposed" if darker else "overexposed")
            word = "underexposed" if darker else "overexposed"
            a.reasons.append(f"{word}: {stops:.1f} EV {'darker' if darker else 'brighter'} "
                             f"than {against}")
        else:
            a.reasons.append(f"exposure within {max(stops, 0.05):.1f} EV of {against}")
