"""Cull a folder: facts per photo, groups of one moment, the best of each, flags; then rows,
a summary and XMP picks. What ``critique cull`` and the app's Cull view call.

* :func:`cull_folder` runs the facts runner (cached, resumable), groups the frames and
  ranks each group into a :class:`~critique_app.core.culling.verdicts.CullResult`, groups in
  capture order;
* :func:`cull_rows` and :func:`summary_lines` say what it found (columns in ``columns.py``);
* :func:`write_cull_xmp` marks each group's best as a pick in its sidecars and, only when
  asked, rejects the other frames of bursts; never over the photographer's own rating.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from critique_app.core.culling.columns import COLUMNS
from critique_app.core.culling.grouping import group_frames
from critique_app.core.culling.ranking import rank_groups
from critique_app.core.culling.runner import cull_photos
from critique_app.core.culling.verdicts import FLAGS, GROUP_KINDS, CulledPhoto, CullResult, Group
from critique_app.core.library.xmp import listing_once, write_cull_flag
from critique_app.core.util.errors import CritiqueError, check_cancelled

Progress = Callable[[int, int, dict[str, int]], None]  # (done, total, counts), as scoring's


def cull_folder(paths: Sequence[Path], *, cache, scorers, jobs: int = 2,
                cancel: threading.Event | None = None,
                progress: Progress | None = None) -> CullResult:
    """Cull ``paths`` (one folder's photos, in file order): facts from ``cache`` or computed
    (``jobs`` threads, ``scorers`` for the score), then groups and verdicts.

    A set ``cancel`` stops the facts runner; what is done is kept in the cache and culled
    (``result.cancelled``). Photos that cannot be read are rows with their error.
    """
    facts = cull_photos(list(paths), cache=cache, scorers=scorers, jobs=jobs, cancel=cancel,
                        progress=progress)
    photos = [CulledPhoto(Path(path), facts=found, error=error)
              for path, found, error in zip(facts.paths, facts.facts, facts.errors, strict=True)]
    result = decide(photos, cached=facts.cached, computed=facts.computed, failed=facts.failed,
                    cancelled=facts.cancelled)
    if facts.face_method:
        result.face_method, result.face_note = facts.face_method, facts.face_note
    if facts.scores_missing:
        result.notes.append(f"scores left empty: {facts.scores_missing}")
    result.notes += facts.notes
    return result


def decide(photos: list[CulledPhoto], **counts) -> CullResult:
    """Group and rank the photos that have facts; ``counts``: CullResult's cached, computed,
    failed, cancelled. Groups are returned in capture order (the first frame's time)."""
    readable = [photo for photo in photos if photo.facts is not None]
    frames = [{**photo.facts, "path": str(photo.path)} for photo in readable]
    groups = _in_capture_order(group_frames(frames), frames) if frames else []
    for verdict in rank_groups(frames, groups) if frames else []:
        readable[verdict.index].verdict = verdict
    counts.setdefault("failed", sum(photo.error is not None for photo in photos))
    result = CullResult(photos=list(photos), groups=groups, **counts)
    result.face_method, result.face_note = _face_method(readable)
    return result


# --- rows and summary ----------------------------------------------------------------------


def cull_rows(result: CullResult) -> list[dict]:
    """One row per photo (see ``columns.COLUMNS``), in the order of ``result.photos``;
    photos a cancelled run did not reach are left out."""
    rows = []
    for photo in result.photos:
        if photo.facts is None and photo.error is None:
            continue  # not reached before the run was stopped
        row = dict.fromkeys(COLUMNS)
        row["path"] = str(photo.path)
        if photo.error is not None or photo.facts is None:
            row.update(status="error", error=photo.error or "no facts")
            rows.append(row)
            continue
        facts, verdict = photo.facts, photo.verdict
        row.update(status="ok", error="", taken_at=taken_at(facts.get("exif_time")),
                   faces=len(_faces(facts)), eyes=_eyes_text(facts), score=facts.get("score"))
        if verdict is not None:
            group = result.groups[verdict.group]
            row.update(group=verdict.group + 1, group_size=len(group.members),
                       group_kind=group.kind, rank=verdict.rank, best=int(verdict.best),
                       flags=";".join(verdict.flags), reasons=" | ".join(verdict.reasons))
        rows.append(row)
    return rows


def summary_lines(result: CullResult) -> list[str]:
    """What the run found, a few lines: photos, groups by kind, picks, flags, faces."""
    done = sum(photo.facts is not None or photo.error is not None for photo in result.photos)
    lines = [f"{done} photos: {result.cached} cached, {result.computed} computed, "
             f"{result.failed} failed" + (" (interrupted)" if result.cancelled else "")]
    kinds = Counter(group.kind for group in result.groups)
    order = [kind for kind in GROUP_KINDS if kinds[kind]] + sorted(set(kinds) - set(GROUP_KINDS))
    described = ", ".join(f"{kinds[kind]} {_plural(kind, kinds[kind])}" for kind in order)
    lines.append(f"{len(result.groups)} {_plural('group', len(result.groups))}"
                 + (f": {described}" if described else ""))
    verdicts = [photo.verdict for photo in result.photos if photo.verdict is not None]
    picks = sum(verdict.best for verdict in verdicts)
    whole = sum(group.keep_whole for group in result.groups)
    lines.append(f"{picks} {_plural('pick', picks)} (the best frame of each group)"
                 + (f"; {whole} kept whole (never rejected)" if whole else ""))
    flagged = Counter(flag for verdict in verdicts for flag in verdict.flags)
    if flagged:
        order = [flag for flag in FLAGS if flagged[flag]] + sorted(set(flagged) - set(FLAGS))
        frames = sum(bool(verdict.flags) for verdict in verdicts)
        lines.append(f"{frames} flagged {_plural('frame', frames)}: "
                     + ", ".join(f"{flagged[flag]} {flag}" for flag in order))
    else:
        lines.append("no frames flagged")
    if result.face_method:
        name, note = _method_name(result.face_method), result.face_note
        lines.append("faces: " + (note if name.lower() in note.lower()
                                  else f"{name} ({note})" if note else name))
    lines += result.notes
    return lines


def taken_at(seconds: float | None) -> str | None:
    """The camera's clock as text ("2024-05-01 14:03:22.450"), from facts' exif_time."""
    if seconds is None or not math.isfinite(seconds):
        return None
    try:
        moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    except OverflowError:
        return None
    return moment.isoformat(sep=" ", timespec="milliseconds")


# --- XMP -------------------------------------------------------------------------------------


@dataclass
class CullXmpReport:
    """What :func:`write_cull_xmp` did, in photos."""

    picked: int = 0  # marked as their group's pick (or already were)
    rejected: int = 0  # marked rejected (only with reject_others)
    cleared: int = 0  # an earlier cull's flag removed: no longer the pick
    kept: int = 0  # the photographer's own stars, pick or reject: left alone
    failed: list[str] = field(default_factory=list)  # sidecars not written, one line each
    problems: list[str] = field(default_factory=list)  # sidecars left alone along the way


def write_cull_xmp(result: CullResult, *, reject_others: bool = False,
                   cancel: threading.Event | None = None,
                   progress: Callable[[int, int], None] | None = None) -> CullXmpReport:
    """Each group's best as a pick in its photo's XMP sidecars; with ``reject_others`` the
    other frames of groups that are not kept whole (brackets, panoramas, focus stacks) as
    rejected. A single is never rejected. Other frames lose a flag an earlier cull wrote.
    Photos the photographer rated, picked or rejected are left alone (``kept``); the photos
    themselves are never written. A sidecar that cannot be written is reported, not raised.
    """
    todo = [photo for photo in result.photos if photo.verdict is not None]
    report = CullXmpReport()
    listing = listing_once()  # each folder listed once, not once a photo
    for done, photo in enumerate(todo):
        check_cancelled(cancel)
        flag = cull_flag(result, photo, reject_others=reject_others)
        try:
            outcome = write_cull_flag(photo.path, flag, listing=listing(photo.path.parent))
        except CritiqueError as error:
            report.failed.append(str(error))
            report.problems.append(str(error))
        else:
            if outcome.kept_manual:
                report.kept += 1
            elif flag == "pick":
                report.picked += 1
            elif flag == "reject":
                report.rejected += 1
            elif outcome.written:
                report.cleared += 1
            report.problems += outcome.skipped
        if progress is not None:
            progress(done + 1, len(todo))
    return report


def cull_flag(result: CullResult, photo: CulledPhoto, *, reject_others: bool) -> str | None:
    """The flag a frame gets: "pick" for the best, "reject" for the others of a group
    that is not kept whole (only with ``reject_others``), else None."""
    verdict = photo.verdict
    if verdict is None:
        return None
    if verdict.best:
        return "pick"
    group = result.groups[verdict.group]
    if reject_others and not group.keep_whole and len(group.members) > 1:
        return "reject"
    return None


# --- helpers ---------------------------------------------------------------------------------


def _in_capture_order(groups: list[Group], frames: list[dict]) -> list[Group]:
    """Groups ordered by their first frame's capture time (file order where none)."""
    def key(group: Group):
        times = [frames[i].get("exif_time") for i in group.members]
        known = [t for t in times if isinstance(t, (int, float))]
        return (min(known) if known else math.inf, min(group.members, default=0))

    return sorted(groups, key=key)


def _face_method(readable: list[CulledPhoto]) -> tuple[str, str]:
    """The face reader most photos were read with, and its note (why, when a fallback)."""
    readings = [photo.facts.get("faces") or {} for photo in readable]
    methods = Counter(reading.get("method") for reading in readings if reading.get("method"))
    if not methods:
        return "", ""
    method = methods.most_common(1)[0][0]
    note = next((reading.get("note") for reading in readings
                 if reading.get("method") == method and reading.get("note")), "")
    if len(methods) > 1:
        others = ", ".join(f"{_method_name(m)} on {n}" for m, n in methods.items() if m != method)
        note = "; ".join(part for part in (note, f"{others} (read before the models changed)")
                         if part)
    return method, note or ""


def _method_name(method: str) -> str:
    return {"mediapipe": "MediaPipe face, landmark and iris models",
            "haar": "OpenCV Haar cascades", "none": "not read"}.get(method, method)


def _faces(facts: dict) -> list[dict]:
    return list((facts.get("faces") or {}).get("faces") or [])


def _eyes_text(facts: dict) -> str | None:
    faces = _faces(facts)
    if not faces:
        return None
    parts = []
    for face in faces:
        eyes = []
        for eye in face.get("eyes") or []:
            side = "L" if eye.get("side") == "left" else "R" if eye.get("side") == "right" else "?"
            openness = eye.get("openness")
            value = f"{openness:.2f}" if eye.get("visible") and openness is not None else "?"
            eyes.append(f"{side} {value}")
        parts.append(" ".join(eyes) if eyes else "?")
    return " | ".join(parts)


def _plural(word: str, count: int) -> str:
    if count == 1:
        return word
    return {"focus-stack": "focus stacks", "single": "singles"}.get(word, word + "s")


__all__ = [
    "CullXmpReport",
    "cull_flag",
    "cull_folder",
    "cull_rows",
    "decide",
    "summary_lines",
    "taken_at",
    "write_cull_xmp",
]
