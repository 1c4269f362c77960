"""What culling decides, as plain data shared by the grouping, the ranking and the shells."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

GROUP_KINDS = ("burst", "single", "bracket", "panorama", "focus-stack")
FLAGS = ("subject-blur", "eyes-closed", "eyes-unknown", "underexposed", "overexposed")


@dataclass(frozen=True)
class Group:
    """Frames of one moment, in capture order. ``keep_whole`` groups (brackets, panoramas,
    focus stacks) differ on purpose: their frames are never rejected."""

    kind: str  # one of GROUP_KINDS
    members: tuple[int, ...]  # indices into the frames list
    why: str  # in words: "7 frames within 1.8 s, near-identical"
    keep_whole: bool = False


@dataclass(frozen=True)
class Verdict:
    """One frame's place in its group: rank 1 is the best; every rank and flag has a reason."""

    index: int  # into the frames list
    group: int  # index into the groups list
    rank: int  # 1 = best
    best: bool
    flags: tuple[str, ...] = ()  # subset of FLAGS
    reasons: tuple[str, ...] = ()  # words, one per deciding factor or flag


@dataclass
class CulledPhoto:
    """One photo of the folder: its facts and verdict, or why it could not be read."""

    path: Path
    facts: dict | None = None
    error: str | None = None
    verdict: Verdict | None = None


@dataclass
class CullResult:
    photos: list[CulledPhoto]
    groups: list[Group]
    cached: int = 0
    computed: int = 0
    failed: int = 0
    cancelled: bool = False
    face_method: str = ""  # "mediapipe" or "haar" (then ``face_note`` says why)
    face_note: str = ""
    notes: list[str] = field(default_factory=list)
