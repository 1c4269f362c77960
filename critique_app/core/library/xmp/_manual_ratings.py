"""The rule that tells the photographer's own rating from one Critique wrote, to protect it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from critique_app.core.library.xmp._properties import (
    FLAG_SOURCE,
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_FLAG,
    WRITTEN_RATING,
)
from critique_app.core.library.xmp._reading import first, to_int, values

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

PICK_REJECTED, PICK_ACCEPTED = 1, 3  # digiKam's PickLabel


def holds_manual_rating(root: Element) -> bool:
    """Whether the sidecar holds the photographer's judgement: a digiKam pick or reject,
    or a non-zero rating without our marker, marked as theirs, or changed since we wrote it.
    A pick that ``critique cull`` wrote (and nobody changed since) is not theirs; a reject
    it wrote still keeps automatic stars off the photo."""
    label = to_int(first(values(root, PICK_LABEL)))
    if label == PICK_REJECTED or (label == PICK_ACCEPTED and not holds_cull_flag(root)):
        return True  # picked or rejected (digiKam): the photographer has judged it
    return holds_manual_stars(root)


def holds_manual_stars(root: Element) -> bool:
    """Whether ``xmp:Rating`` is the photographer's: non-zero, and without our marker,
    marked as theirs, or changed since we wrote it (a reject Critique wrote is not)."""
    raw = first(values(root, RATING))
    if raw is None or not raw.strip() or to_int(raw) == 0:
        return False  # unrated
    bases = values(root, RATING_BASIS)
    if not bases or USER_BASIS in bases:
        return True
    written = to_int(first(values(root, WRITTEN_RATING)))
    # Marker present but the rating changed since: the photographer re-rated it.
    return written is not None and written != to_int(raw)


def holds_cull_flag(root: Element) -> bool:
    """Whether the pick or reject (digiKam ``PickLabel`` 3 or 1) is one Critique's cull
    wrote and nobody changed since (``critique:FlagSource`` beside it, and
    ``critique:WrittenFlag`` still equal to it)."""
    label = to_int(first(values(root, PICK_LABEL)))
    return (label in (PICK_REJECTED, PICK_ACCEPTED) and bool(values(root, FLAG_SOURCE))
            and to_int(first(values(root, WRITTEN_FLAG))) == label)


def judged_by_photographer(root: Element) -> bool:
    """Whether the XMP holds the photographer's stars, pick or reject: what a cull keeps.
    Like :func:`holds_manual_rating`, but a reject the cull wrote is its own to replace."""
    label = to_int(first(values(root, PICK_LABEL)))
    if label in (PICK_REJECTED, PICK_ACCEPTED) and not holds_cull_flag(root):
        return True
    return holds_manual_stars(root)
