"""The best frame of each group, and what is wrong with the others, in words.

Frames of one group are compared with each other, not with absolute targets: a dark
group at night is normal, a frame 2 EV darker than its burst is not. Order of what
decides: flags that ruin a frame (blur, closed eyes), then exposure flags, then subject
sharpness, eyes, exposure and the score, each in coarse steps so that noise in one
measure does not outvote a real difference in the next.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from critique_app.core.culling.assess import Assessment, assess_group, assess_single
from critique_app.core.culling.grouping import name_of
from critique_app.core.culling.sequences import ev_label
from critique_app.core.culling.verdicts import Group, Verdict

SHARP_STEP = 0.15  # frames within 15% of each other's sharpness count as equally sharp
EYE_STEP = 0.25  # openness within 25% of the person's widest counts as equally open
EXPOSURE_STEP_EV = 0.5  # half a stop from the group's exposure is within taste

_RUIN = ("subject-blur", "eyes-closed")
_LOSES = ("flagged {flags}, unlike {above}", "flagged {flags}, unlike {above}",
          "{what} less sharp than in {above}", "eyes less open than in {above}",
          "exposure further from the group's than {above}", "lower score than {above}",
          "{what} a little less sharp than in {above}", "as good as {above}, shot later")
_WINS = ("the next best is flagged {flags}", "the next best is flagged {flags}",
         "sharpest {what}", "eyes most open", "exposure closest to the group's",
         "highest score", "sharpest {what}", "as good as the next, shot first")


def rank_groups(frames: list[dict], groups: list[Group]) -> list[Verdict]:
    """One verdict per frame of every group, in frame order."""
    verdicts: list[Verdict] = []
    for number, group in enumerate(groups):
        if group.keep_whole:
            verdicts += _keep_whole(frames, number, group)
        elif len(group.members) == 1:
            a = assess_single(frames, group.members[0])
            verdicts.append(Verdict(a.index, number, 1, True, tuple(a.flags),
                                    ("a single frame: nothing to compare it with", *a.reasons)))
        else:
            verdicts += _rank(frames, number, group)
    return sorted(verdicts, key=lambda v: v.index)


def _key(a: Assessment) -> tuple:
    ruin = sum(f in _RUIN for f in a.flags)
    exposure_flags = sum(f in ("underexposed", "overexposed") for f in a.flags)
    sharp = 1.0 if a.sharp is None else a.sharp
    eyes = 1.0 if a.eyes is None else a.eyes
    return (ruin, exposure_flags,
            math.floor((1.0 - sharp) / SHARP_STEP + 1e-9),
            math.floor((1.0 - eyes) / EYE_STEP + 1e-9),
            math.floor(abs(a.ev_delta or 0.0) / EXPOSURE_STEP_EV + 1e-9),
            -a.score if a.score is not None else math.inf,
            -sharp, a.position)


def _rank(frames: list[dict], number: int, group: Group) -> list[Verdict]:
    assessed = sorted(assess_group(frames, group.members), key=_key)
    n = len(assessed)
    out = []
    for rank, a in enumerate(assessed, start=1):
        if rank == 1:
            why = _WINS[_first_difference(_key(a), _key(assessed[1]))]
            line = f"best of {n}: " + why.format(flags=_extra(assessed[1], a), what=a.what)
        else:
            above = assessed[rank - 2]
            why = _LOSES[_first_difference(_key(above), _key(a))]
            line = f"rank {rank} of {n}: " + why.format(
                above=name_of(frames, above.index), flags=_extra(a, above), what=a.what)
        out.append(Verdict(a.index, number, rank, rank == 1, tuple(a.flags), (line, *a.reasons)))
    return out


def _extra(a, b) -> str:
    """The flags ``a`` has and ``b`` has not, in words."""
    return " and ".join(f for f in a.flags if f not in b.flags) or "more often"


def _first_difference(better: tuple, worse: tuple) -> int:
    pairs = enumerate(zip(better, worse, strict=True))
    return next((k for k, (x, y) in pairs if x != y), len(better) - 1)


@dataclass
class _Whole:
    best: int
    words: str
    lines: dict[int, str] = field(default_factory=dict)


def _keep_whole(frames: list[dict], number: int, group: Group) -> list[Verdict]:
    """Every frame is kept; one is still marked (the 0 EV frame of a bracket, the middle
    of a panorama or focus stack) and the others follow by their distance from it.
    No flags: the differences between these frames are the point of the sequence."""
    members = list(group.members)
    whole = _marked(frames, group)
    pos = members.index(whole.best)
    order = sorted(members, key=lambda i: (abs(members.index(i) - pos), members.index(i)))
    out = []
    for rank, i in enumerate(order, start=1):
        first = (f"marked: {whole.words}" if i == whole.best
                 else f"part of the {group.kind.replace('-', ' ')}: kept whole, never rejected")
        reasons = (first, *([whole.lines[i]] if i in whole.lines else []))
        out.append(Verdict(i, number, rank, rank == 1, (), reasons))
    return out


def _marked(frames: list[dict], group: Group) -> _Whole:
    members = list(group.members)
    if group.kind == "bracket":
        biases = [frames[i].get("exposure_bias_ev") for i in members]
        if None not in biases:
            best = min(members, key=lambda i: (abs(frames[i]["exposure_bias_ev"]), i))
            lines = {i: f"bracket frame at {ev_label([frames[i]['exposure_bias_ev']])} EV"
                     for i in members}
            return _Whole(best, "the bracket's 0 EV frame (closest to the camera's metering)",
                          lines)
        evs = [frames[i]["exposure"]["ev"] for i in members]
        middle = statistics.median_low(evs)
        best = members[evs.index(middle)]
        return _Whole(best, "the bracket's middle exposure")
    kind = group.kind.replace("-", " ")
    return _Whole(members[len(members) // 2], f"the middle frame of the {kind}")
