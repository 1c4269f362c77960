"""What the Cull page shows, worked out from a CullResult without Qt: one row per group with
its frames in capture order, which groups pass the "Flagged only" filter, the summary line.

The verdicts say which frame a group's member index means (``Verdict.index`` and
``Group.members`` share the frames list), so errors left out of that list cannot shift
the frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.culling.verdicts import CulledPhoto, CullResult, Group

KIND_NAMES = {"burst": "Burst", "single": "Single", "bracket": "Exposure bracket",
              "panorama": "Panorama", "focus-stack": "Focus stack"}
FACE_METHODS = {"mediapipe": "MediaPipe face and iris models", "haar": "Haar cascades"}


@dataclass(frozen=True)
class GroupRow:
    """One group as the page shows it: its frames in capture order."""

    number: int  # index into CullResult.groups
    group: Group
    frames: tuple[CulledPhoto, ...]

    @property
    def flagged(self) -> bool:
        return any(is_flagged(frame) for frame in self.frames)

    @property
    def best(self) -> CulledPhoto | None:
        return next((f for f in self.frames if f.verdict is not None and f.verdict.best), None)

    def title(self) -> str:
        """"Burst · 7 frames", "Exposure bracket · 3 frames · kept whole", "Single"."""
        kind = KIND_NAMES.get(self.group.kind, self.group.kind.capitalize())
        size = len(self.frames)
        parts = [kind] + ([f"{size} frames"] if size != 1 else [])
        if self.group.keep_whole:
            parts.append("kept whole")
        return " · ".join(parts)


def is_flagged(photo: CulledPhoto) -> bool:
    return photo.verdict is not None and bool(photo.verdict.flags)


def group_rows(result: CullResult) -> list[GroupRow]:
    """The groups in the result's order, each with its frames (members the verdicts do not
    name are left out: a cancelled run may stop between facts and verdicts)."""
    by_frame = {photo.verdict.index: photo for photo in result.photos
                if photo.verdict is not None}
    rows = []
    for number, group in enumerate(result.groups):
        frames = tuple(by_frame[m] for m in group.members if m in by_frame)
        if frames:
            rows.append(GroupRow(number, group, frames))
    return rows


def errors(result: CullResult) -> list[str]:
    """One line per photo that could not be read: "DSC_0042.jpg: not a photo (…)". A photo
    with neither facts nor an error in a finished run failed without a reason given."""
    lines = []
    for photo in result.photos:
        name = Path(photo.path).name
        if photo.error:
            lines.append(photo.error if name in photo.error else f"{name}: {photo.error}")
        elif photo.facts is None and not result.cancelled:
            lines.append(f"{name}: could not be read (no reason given)")
    return lines


def face_text(result: CullResult) -> str:
    """Which face finder was used, and why when it is the fallback; the core's command to
    install the models is said as the app's menu."""
    if not result.face_method:
        return ""
    name = FACE_METHODS.get(result.face_method, result.face_method)
    note = re.sub(r"run: critique models pull (\S+)", r"Tools ▸ Models… installs \1",
                  result.face_note)
    return f"faces: {name}" + (f" — {note}" if note else "")


def summary(result: CullResult, rows: list[GroupRow]) -> str:
    """"12 groups (7 singles, 4 bursts, 1 exposure bracket) · 5 picks · 5 frames flagged":
    a pick for each group of several frames (a single frame is no choice)."""
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row.group.kind] = kinds.get(row.group.kind, 0) + 1
    detail = ", ".join(f"{count} {_plural(KIND_NAMES.get(kind, kind).lower(), count)}"
                       for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]))
    picks = sum(row.best is not None for row in rows if len(row.frames) > 1)  # a choice made
    flagged = sum(is_flagged(frame) for row in rows for frame in row.frames)
    parts = [f"{len(rows)} {_plural('group', len(rows))}" + (f" ({detail})" if detail else ""),
             f"{picks} {_plural('pick', picks)}",
             f"{flagged} {_plural('frame', flagged)} flagged"]
    if result.failed:
        parts.append(f"{result.failed} unreadable")
    if result.cancelled:
        parts.append("cancelled: the photos done are kept, Cull goes on from there")
    return " · ".join(parts)


def _plural(word: str, count: int) -> str:
    return word if count == 1 else word + "s"


__all__ = ["GroupRow", "errors", "face_text", "group_rows", "is_flagged", "summary"]
