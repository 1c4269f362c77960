"""The rule that tells the photographer's own rating from one Critique wrote, to protect it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from critique_app.core.library.xmp._properties import (
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_RATING,
)
from critique_app.core.library.xmp._reading import first, to_int, values

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


def holds_manual_rating(root: Element) -> bool:
    """Whether the sidecar holds the photographer's judgement: a digiKam pick or reject,
    or a non-zero rating without our marker, marked as theirs, or changed since we wrote it."""
    if to_int(first(values(root, PICK_LABEL))) in (1, 3):
        return True  # picked or rejected (digiKam): the photographer has judged it
    raw = first(values(root, RATING))
    if raw is None or not raw.strip() or to_int(raw) == 0:
        return False  # unrated
    bases = values(root, RATING_BASIS)
    if not bases or USER_BASIS in bases:
        return True
    written = to_int(first(values(root, WRITTEN_RATING)))
    # Marker present but the rating changed since: the photographer re-rated it.
    return written is not None and written != to_int(raw)
