"""Critique's cull flags: a group's pick (or a reject) in the sidecars, never over the
photographer's own stars, pick or reject.

A pick is digiKam's ``PickLabel="3"``; a reject is ``PickLabel="1"`` plus
``xmp:Rating="-1"``, which darktable and Lightroom read as rejected. Each is marked with
``critique:FlagSource`` (what wrote it, ``"cull"``) and ``critique:WrittenFlag`` (the label
written), and a reject's rating with ``critique:RatingSource``/``WrittenRating`` as for
stars, so a later cull can replace or clear its own flag and can tell when the
photographer changed it (then it is theirs). The photo itself is never opened for writing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from critique_app.core.library.xmp._embedded import read_embedded_xmp
from critique_app.core.library.xmp._manual_ratings import (
    PICK_ACCEPTED,
    PICK_REJECTED,
    holds_cull_flag,
    holds_manual_stars,
    judged_by_photographer,
)
from critique_app.core.library.xmp._properties import (
    FLAG_SOURCE,
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_FLAG,
    WRITTEN_RATING,
    Changes,
)
from critique_app.core.library.xmp._reading import first, to_int, values
from critique_app.core.library.xmp._sidecar_files import FolderListing
from critique_app.core.library.xmp._updates import (
    SidecarPlan,
    SidecarResult,
    prepare,
    read_plans,
    write_plans,
)

CullFlag = Literal["pick", "reject"] | None
_BASIS_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # safe in an attribute as-is


def write_cull_flag(photo: Path, flag: CullFlag, *, basis: str = "cull",
                    listing: FolderListing | None = None) -> SidecarResult:
    """Mark ``photo`` picked (``"pick"``) or rejected (``"reject"``) in its XMP sidecars, or
    clear the flag an earlier cull wrote (None: nothing else is touched, no sidecar made).

    Nothing is written when the photographer has judged the photo: stars, a pick or a
    reject in any sidecar that Critique did not write (or that was changed since), or in
    the photo's own XMP; then ``result.kept_manual`` names where. Every sidecar is read,
    edited and checked before any is written; each write is atomic. Raises
    :class:`CritiqueError` (one line, files left unchanged) for sidecars that are not
    valid XMP or cannot be written, or a photo whose XMP cannot be read. ``listing``: the
    photo's folder listed once (:func:`folder_listing`) when flagging many of its photos.
    """
    if flag not in ("pick", "reject", None):
        raise ValueError(f"flag must be 'pick', 'reject' or None, not {flag!r}")
    if not isinstance(basis, str) or not _BASIS_PATTERN.fullmatch(basis) or basis == USER_BASIS:
        raise ValueError(f"basis must be a short word such as 'cull', not {basis!r}")
    plans, result = read_plans(photo, listing)
    manual = [plan.path for plan in plans
              if plan.root is not None and judged_by_photographer(plan.root)]
    if not manual:
        embedded = read_embedded_xmp(photo)  # a sidecar label would hide the photo's own
        if embedded.root is not None and judged_by_photographer(embedded.root):
            manual = [Path(photo)]
    if manual:
        result.kept_manual = manual
        return result
    for plan in plans:  # edit and check all before writing any
        changes = _changes(plan, flag, basis)
        if changes:
            prepare(plan, changes)
        elif plan.old is not None:
            plan.new = plan.old
    write_plans(plans, result)
    return result


def _changes(plan: SidecarPlan, flag: CullFlag, basis: str) -> Changes:
    """What one sidecar needs to say ``flag`` (with our markers), and nothing more."""
    root = plan.root
    ours_flag = root is not None and holds_cull_flag(root)
    ours_reject = root is not None and _holds_cull_reject(root)
    changes: Changes = {}
    if flag is None:
        if ours_flag:
            changes = {PICK_LABEL: None, FLAG_SOURCE: None, WRITTEN_FLAG: None}
        if ours_reject:
            changes |= {RATING: None, RATING_BASIS: None, WRITTEN_RATING: None}
        return changes
    label = str(PICK_ACCEPTED if flag == "pick" else PICK_REJECTED)
    changes = {PICK_LABEL: label, FLAG_SOURCE: basis, WRITTEN_FLAG: label}
    if flag == "reject":
        changes |= {RATING: "-1", RATING_BASIS: basis, WRITTEN_RATING: "-1"}
    elif ours_reject:  # our earlier reject's rating goes with it
        changes |= {RATING: None, RATING_BASIS: None, WRITTEN_RATING: None}
    return changes


def _holds_cull_reject(root) -> bool:
    """An ``xmp:Rating="-1"`` that an automatic writer (not the photographer) set."""
    return (to_int(first(values(root, RATING))) == -1 and bool(values(root, RATING_BASIS))
            and not holds_manual_stars(root))
