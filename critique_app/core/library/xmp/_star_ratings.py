"""Critique's star ratings: stars from scores, written without overriding the photographer's."""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path

from critique_app.core.library.xmp._embedded import read_embedded_xmp
from critique_app.core.library.xmp._manual_ratings import holds_manual_rating
from critique_app.core.library.xmp._properties import (
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_RATING,
    Changes,
)
from critique_app.core.library.xmp._reading import values
from critique_app.core.library.xmp._sidecar_files import FolderListing
from critique_app.core.library.xmp._updates import (
    SidecarResult,
    prepare,
    read_plans,
    write_plans,
)

_BASIS_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # safe in an attribute as-is


def stars_from_percentile(p: float) -> int:
    """Stars for a photo whose score is at percentile ``p`` (0-100) within its folder.

    Top 10% (p >= 90) -> 5, next 20% (p >= 70) -> 4, middle 40% (p >= 30) -> 3,
    next 20% (p >= 10) -> 2, bottom 10% -> 1. With ``p = 100 * rank / (n - 1)`` (rank 0
    = lowest score) ten photos get 1, 2, 4, 2 and 1 photos of 1..5 stars.
    """
    if not 0 <= p <= 100:  # also refuses NaN
        raise ValueError(f"percentile must be within 0-100, not {p}")
    for threshold, stars in ((90, 5), (70, 4), (30, 3), (10, 2)):
        if p >= threshold:
            return stars
    return 1


def stars_from_mean(mean: float) -> int:
    """Stars for a mean score on the 1-10 scale: ``clip(round(mean / 2), 1, 5)``.

    Halves round up (not Python's round-half-to-even), so the bands are
    [1, 3) -> 1, [3, 5) -> 2, [5, 7) -> 3, [7, 9) -> 4, [9, 10] -> 5.
    """
    if not math.isfinite(mean):
        raise ValueError(f"mean score must be a finite number, not {mean}")
    return min(5, max(1, math.floor(mean / 2 + 0.5)))


def write_rating(
    photo: Path, stars: int, *, basis: str, overwrite_manual: bool = False,
    listing: FolderListing | None = None,
) -> SidecarResult:
    """Write ``stars`` (1-5) into the XMP sidecars of ``photo``; the photo itself is not opened.

    ``basis`` says what the stars were made from (e.g. ``"score-percentile"``, ``"score-mean"``)
    and is stored beside it. If any existing sidecar holds the photographer's rating,
    nothing is written (all sidecars of a photo should agree) unless ``overwrite_manual``;
    nor when no sidecar has a rating and the photo's own XMP holds one (stars, a pick or a
    reject: the sidecar would hide it), or that XMP cannot be read (CritiqueError).
    Every sidecar is read, edited and checked before any is written; each write is
    atomic. Raises :class:`CritiqueError` (one line, file left unchanged) for sidecars
    that are not valid XMP or cannot be written, ValueError for bad arguments. ``listing``:
    the photo's folder's (:func:`folder_listing`), when the caller rates many of its photos.
    """
    stars = _check_stars(stars)
    if not isinstance(basis, str) or not _BASIS_PATTERN.fullmatch(basis):
        raise ValueError(f"basis must be a short word such as 'score-mean', not {basis!r}")
    if basis == USER_BASIS:
        raise ValueError(f"basis {USER_BASIS!r} is kept for the photographer's own ratings "
                         "(critique_app.core.library.ratings)")
    plans, result = read_plans(photo, listing)
    manual = [
        plan.path for plan in plans if plan.root is not None and holds_manual_rating(plan.root)
    ]
    if not manual and not overwrite_manual and not any(
            plan.root is not None and values(plan.root, RATING) for plan in plans):
        embedded = read_embedded_xmp(photo)  # the rating the photo shows until a sidecar has one
        if embedded.root is not None and holds_manual_rating(embedded.root):
            manual = [Path(photo)]
    if manual and not overwrite_manual:
        result.kept_manual = manual
        result.skipped += [
            f"{plan.path.name}: not written; the photographer's rating in "
            f"{manual[0].name} is kept"
            for plan in plans
            if plan.path not in manual
        ]
        return result

    changes: Changes = {RATING: str(stars), RATING_BASIS: basis, WRITTEN_RATING: str(stars)}
    for plan in plans:  # edit and check all before writing any
        prepare(plan, changes)
    write_plans(plans, result)
    return result


def _check_stars(stars: int) -> int:
    if isinstance(stars, bool):
        raise ValueError("stars must be a whole number from 1 to 5, not a bool")
    try:
        stars = operator.index(stars)  # numpy integers too
    except TypeError:
        raise ValueError(f"stars must be a whole number from 1 to 5, not {stars!r}") from None
    if not 1 <= stars <= 5:
        raise ValueError(f"stars must be from 1 to 5, not {stars}")
    return stars
