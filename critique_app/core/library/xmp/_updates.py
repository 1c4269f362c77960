"""Updating a photo's sidecars together: read all, edit and check all, then write each."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from critique_app.core.library.xmp._edit_check import verify
from critique_app.core.library.xmp._properties import PREFERRED_PREFIX, Changes
from critique_app.core.library.xmp._reading import Sidecar, parse, read_bytes
from critique_app.core.library.xmp._sidecar_files import FolderListing, sidecars_of
from critique_app.core.library.xmp._text_editor import edit_text, new_packet
from critique_app.core.library.xmp._writing import write_sidecar
from critique_app.core.util.errors import CritiqueError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


@dataclass
class SidecarResult:
    """What :func:`write_rating` did for one photo."""

    written: list[Path] = field(default_factory=list)  # created or updated
    kept_manual: list[Path] = field(default_factory=list)  # hold the photographer's rating
    skipped: list[str] = field(default_factory=list)  # one line each: which sidecar and why
    unchanged: list[Path] = field(default_factory=list)  # already held this rating


@dataclass
class SidecarPlan:
    """One sidecar of the photo being updated: as read, and its new bytes once prepared."""

    path: Path
    old: bytes | None  # None: a new sidecar
    root: Element | None
    stat: os.stat_result | None
    new: bytes | None = None


def update_sidecars(photo: Path, edit: Callable[[Sidecar], Changes]) -> SidecarResult:
    """Set or remove simple XMP properties in the sidecars of ``photo`` (the ones
    :func:`sidecar_paths` names); the photo itself is not opened.

    ``edit`` is called with each sidecar as read (one that does not exist yet has no
    ``root``) and returns the changes for it: property -> new value, or None to remove
    it; an empty dict leaves that sidecar alone (and does not create it). Ratings are
    not protected here: the caller decides. Every sidecar is read, edited and checked
    before any is written; each write is atomic; other bytes stay as they were. Raises
    :class:`CritiqueError` (one line, files left unchanged) for sidecars that are not
    valid XMP or cannot be written.
    """
    plans, result = read_plans(photo)
    for plan in plans:  # edit and check all before writing any
        changes = edit(Sidecar(plan.path, plan.root))
        for (uri, _), value in changes.items():
            if uri not in PREFERRED_PREFIX:
                raise ValueError(f"no prefix known for the namespace {uri}")
            if value is not None and not isinstance(value, str):
                raise ValueError(f"property values are text, not {value!r}")
        if changes:
            prepare(plan, changes)
        elif plan.old is not None:
            plan.new = plan.old
    write_plans(plans, result)
    return result


def read_plans(photo: Path, listing: FolderListing | None = None,
               ) -> tuple[list[SidecarPlan], SidecarResult]:
    """Every sidecar of an existing ``photo``, read and parsed, and the result to fill.
    ``listing``: its folder's, when the caller writes to many photos of one folder."""
    photo = Path(photo)
    if not photo.is_file():
        raise CritiqueError("photo not found", path=photo)
    paths, skipped = sidecars_of(photo, listing)
    return [_inspect(path) for path in paths], SidecarResult(skipped=skipped)


def prepare(plan: SidecarPlan, changes: Changes) -> None:
    """Set ``plan.new``: the sidecar with ``changes`` made, checked; nothing is written."""
    if plan.old is None:
        plan.new = new_packet(changes)
    else:
        assert plan.stat is not None
        if stat.S_IMODE(plan.stat.st_mode) & 0o222 == 0:
            # A rename would replace it regardless; read-only means "leave it".
            raise CritiqueError("the sidecar is read-only; left unchanged", path=plan.path)
        plan.new = edit_text(plan.old, plan.path, changes)
    verify(plan.root, plan.new, plan.path, changes)


def write_plans(plans: list[SidecarPlan], result: SidecarResult) -> None:
    """Write every prepared sidecar whose bytes changed, and note it in ``result``."""
    for plan in plans:
        if plan.old is None and plan.new is None:
            continue  # nothing to write into a sidecar that does not exist
        if plan.new == plan.old:
            result.unchanged.append(plan.path)  # rewriting would only touch the mtime
            continue
        assert plan.new is not None
        write_sidecar(plan.path, plan.new, plan.stat)
        result.written.append(plan.path)


def _inspect(path: Path) -> SidecarPlan:
    try:
        before = path.stat()
    except FileNotFoundError:
        return SidecarPlan(path, None, None, None)
    except OSError as error:
        raise CritiqueError(f"cannot read the sidecar ({error.strerror})", path=path) from None
    old = read_bytes(path)
    return SidecarPlan(path, old, parse(old, path), before)
