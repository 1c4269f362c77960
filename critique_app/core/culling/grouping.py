"""Frames of one moment, grouped: capture time first, then look.

Capture time splits the shoot into runs (a gap, or another camera); within a run,
frames are chained by look, so two subjects shot 0.3 s apart stay two groups. Without
capture times (stripped copies), frames are chained by look in file order, stricter,
and only with their near neighbours: similarity over the whole folder would join
everything that looks alike into "super-clusters".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from critique_app.core.culling.look import likeness
from critique_app.core.culling.sequences import bracket_at, focus_travel, one_direction, pan_step
from critique_app.core.culling.verdicts import Group

RUN_GAP_S = 2.0  # bursts are 0.1-0.5 s apart, scenes minutes; a pause over 2 s is a new moment
FILE_GAP_S = 300.0  # file times are copies' times at best: only a 5 min gap splits by them
LOOK_WINDOW = 3  # a frame may join a chain whose last frame is at most 3 frames back
RUN_VOTES = 1  # within a time run one more cue for "same" than against is enough
NO_TIME_VOTES = 2  # without times look alone decides: two more cues must agree


def name_of(frames: list[dict], index: int) -> str:
    path = frames[index].get("path")
    return PurePath(path).name if path else f"frame {index + 1}"


def group_frames(frames: list[dict]) -> list[Group]:
    """Every frame in exactly one group, groups in the order of their first frame."""
    timed = [i for i, f in enumerate(frames) if f.get("exif_time") is not None]
    untimed = [i for i, f in enumerate(frames) if f.get("exif_time") is None]
    groups: list[Group] = []
    for camera in dict.fromkeys(frames[i].get("camera") for i in timed):
        shots = sorted((i for i in timed if frames[i].get("camera") == camera),
                       key=lambda i: (frames[i]["exif_time"], i))
        for run in _time_runs(frames, shots):
            groups += _group_run(frames, run, timed=True)
    for run in _file_time_runs(frames, untimed):
        groups += _group_run(frames, run, timed=False)
    return sorted(groups, key=lambda g: min(g.members))


def _time_runs(frames: list[dict], shots: list[int]) -> list[list[int]]:
    """Split at pauses: over RUN_GAP_S after the previous exposure ended."""
    runs: list[list[int]] = []
    for i in shots:
        if runs:
            prev = runs[-1][-1]
            gap = frames[i]["exif_time"] - frames[prev]["exif_time"]
            if gap <= RUN_GAP_S + (frames[prev].get("shutter_s") or 0.0):
                runs[-1].append(i)
                continue
        runs.append([i])
    return runs


def _file_time_runs(frames: list[dict], shots: list[int]) -> list[list[int]]:
    """File order; file times split only at long gaps, and never when they are all one
    time (copies written together)."""
    times = [frames[i].get("file_time") for i in shots]
    usable = None not in times and len(set(times)) > 1
    runs: list[list[int]] = []
    for i, t in zip(shots, times, strict=True):
        if runs and not (usable and abs(t - frames[runs[-1][-1]]["file_time"]) > FILE_GAP_S):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


@dataclass
class _Chain:
    members: list[int]
    last_pos: int
    bits: list[int] = field(default_factory=list)  # hash distance of each look link
    thumbs: list[float] = field(default_factory=list)
    near: bool = True  # every look link near-identical
    pans: list[tuple[int, int]] = field(default_factory=list)


def _group_run(frames: list[dict], run: list[int], timed: bool) -> list[Group]:
    groups: list[Group] = []
    stretch: list[int] = []
    pos = 0
    while pos < len(run):
        found = bracket_at(frames, run, pos)
        if found:
            groups += [_classify(frames, c, run, timed) for c in _chains(frames, stretch, timed)]
            stretch = []
            length, why = found
            groups.append(Group("bracket", tuple(run[pos:pos + length]), why, keep_whole=True))
            pos += length
        else:
            stretch.append(run[pos])
            pos += 1
    groups += [_classify(frames, c, run, timed) for c in _chains(frames, stretch, timed)]
    return groups


def _chains(frames: list[dict], stretch: list[int], timed: bool) -> list[_Chain]:
    """Each frame joins the best-matching chain among those seen in the last few frames;
    a pan (partial overlap) links only to a chain's last frame, and only within a time
    run: without times, two unrelated photos can overlap by chance."""
    needed = RUN_VOTES if timed else NO_TIME_VOTES
    chains: list[_Chain] = []
    for pos, i in enumerate(stretch):
        best, best_key, best_link = None, None, None
        for chain in chains:
            if pos - chain.last_pos > LOOK_WINDOW:
                continue
            for j in chain.members[-LOOK_WINDOW:]:
                look = likeness(frames[j], frames[i])
                key = (2, look.votes, look.thumb)
                if look.votes >= needed and (best_key is None or key > best_key):
                    best, best_key, best_link = chain, key, look
            # a pan continues from the frame just before, and needs capture times
            if best is None and timed and not chain.bits and chain.last_pos == pos - 1:
                pan = pan_step(frames[chain.members[-1]], frames[i])
                if pan and (not chain.pans or one_direction([*chain.pans, pan])):
                    best, best_key, best_link = chain, (1, 0, 0.0), pan
        if best is None:
            chains.append(_Chain([i], pos))
            continue
        best.members.append(i)
        best.last_pos = pos
        if isinstance(best_link, tuple):
            best.pans.append(best_link)
        else:
            best.bits.append(best_link.hash_bits)
            best.thumbs.append(best_link.thumb)
            best.near = best.near and best_link.near_identical
    return chains


def _classify(frames: list[dict], chain: _Chain, run: list[int], timed: bool) -> Group:
    members = chain.members
    n = len(members)
    span = (frames[members[-1]]["exif_time"] - frames[members[0]]["exif_time"]) if timed else 0.0
    within = f"within {span:.1f} s," if timed else "(no capture times: joined by look, file order),"
    if n == 1:
        return Group("single", tuple(members), _single_why(frames, members[0], run, timed))
    if chain.pans and not chain.bits:
        return Group("panorama", tuple(members),
                     f"{n} frames {within} same exposure, each overlapping the last "
                     "(the camera panned): a panorama, kept whole", keep_whole=True)
    travel = focus_travel(frames, members) if not chain.pans else None
    if travel:
        return Group("focus-stack", tuple(members),
                     f"{n} frames {within} same framing and exposure, the sharp zone moving "
                     f"{travel}: a focus stack, kept whole", keep_whole=True)
    if chain.near and not chain.pans:
        look = f"near-identical (hash distance <= {max(chain.bits)})"
    else:
        look = f"alike (hash distance <= {max(chain.bits, default=0)}, " \
               f"thumbnails match >= {min(chain.thumbs, default=0):.2f})"
    return Group("burst", tuple(members), f"{n} frames {within} {look}")


def _single_why(frames: list[dict], index: int, run: list[int], timed: bool) -> str:
    if not timed:
        return "one frame: no capture times, and its neighbours in file order look different"
    if len(run) == 1:
        return f"one frame: nothing else shot within {RUN_GAP_S:g} s"
    pos = run.index(index)
    other = run[pos - 1] if pos else run[pos + 1]
    gap = abs(frames[index]["exif_time"] - frames[other]["exif_time"])
    return f"one frame: {gap:.1f} s from {name_of(frames, other)} but a different view"
