"""Which sidecar files a photo has or gets: darktable's full-name one, Lightroom's stem one."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.photo.load import IMAGE_EXTENSIONS
from critique_app.core.photo.raw import RAW_EXTENSIONS
from critique_app.core.util.errors import CritiqueError

# RAW formats Lightroom keeps metadata for in a <stem>.xmp sidecar.
LIGHTROOM_RAW_EXTENSIONS = frozenset({
    ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef",
    ".dng", ".srw", ".x3f", ".3fr", ".iiq", ".rwl", ".erf", ".mrw", ".kdc", ".dcr",
})  # fmt: skip
# Files that may claim a <stem>.xmp of their own: photos, and videos (Lightroom keeps
# sidecars for some video formats too).
_VIDEO_EXTENSIONS = {
    ".mov", ".mp4", ".m4v", ".avi", ".mts", ".m2ts", ".mpg", ".mpeg", ".3gp", ".mkv",
}  # fmt: skip
_STEM_SHARING_EXTENSIONS = frozenset(
    IMAGE_EXTENSIONS | RAW_EXTENSIONS | LIGHTROOM_RAW_EXTENSIONS | _VIDEO_EXTENSIONS
)


@dataclass(frozen=True)
class FolderListing:
    """A folder's file names, indexed for finding each photo's sidecars and the photos that
    share its stem: reading many photos of one folder lists it once (:func:`folder_listing`)."""

    names: frozenset[str]
    sidecars: dict[str, list[str]]  # "<base>" -> the names "<base>.xmp" in any case, sorted
    stems: dict[str, list[str]]  # casefolded stem -> names with a stem-sharing extension


def folder_listing(folder: Path) -> FolderListing:
    """The files in ``folder``, indexed (raises CritiqueError when it cannot be listed)."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if _is_file(entry)]
    except OSError as error:
        raise CritiqueError(f"cannot list the folder ({error.strerror})", path=folder) from None
    sidecars: dict[str, list[str]] = {}
    stems: dict[str, list[str]] = {}
    for name in sorted(names):
        if len(name) > 4 and name[-4:].lower() == ".xmp":
            sidecars.setdefault(name[:-4], []).append(name)
        path = Path(name)
        if path.suffix.lower() in _STEM_SHARING_EXTENSIONS:
            stems.setdefault(path.stem.casefold(), []).append(name)
    return FolderListing(frozenset(names), sidecars, stems)


def listing_once() -> Callable[[Path], FolderListing]:
    """:func:`folder_listing` that lists each folder once, for one run over many photos (a
    folder that cannot be listed is tried again, and raises again)."""
    return functools.cache(folder_listing)


def sidecar_paths(photo: Path, listing: FolderListing | None = None) -> list[Path]:
    """The sidecars :func:`write_rating` writes or updates for ``photo``.

    Existing sidecars are returned under their actual names (``.XMP`` included). Only
    the folder listing is read; ``listing`` is that listing when the caller has it
    already (:func:`folder_listing` of the photo's folder).
    """
    return sidecars_of(Path(photo), listing)[0]


def sidecars_of(photo: Path, listing: FolderListing | None = None,
                ) -> tuple[list[Path], list[str]]:
    """The sidecars of ``photo``, and one line for each one left alone (and why)."""
    if photo.suffix.lower() == ".xmp":
        raise ValueError(f"{photo} is a sidecar, not a photo")
    folder = photo.parent
    if listing is None:
        listing = folder_listing(folder)

    paths = [_existing_sidecar(folder, listing, photo.name) or folder / f"{photo.name}.xmp"]
    skipped: list[str] = []
    if not photo.suffix:  # <stem>.xmp would be the same file
        return paths, skipped
    stem_existing = _existing_sidecar(folder, listing, photo.stem)
    if photo.suffix.lower() in LIGHTROOM_RAW_EXTENSIONS or stem_existing:
        stem_path = stem_existing or folder / f"{photo.stem}.xmp"
        # Case-insensitive: Lightroom pairs IMG_1.CR2 with img_1.jpg on macOS/Windows.
        sharing = [name for name in listing.stems.get(photo.stem.casefold(), [])
                   if name != photo.name]
        if sharing:
            skipped.append(
                f"{stem_path.name}: not written; {', '.join(sharing)} shares the name "
                f"{photo.stem} with {photo.name}"
            )
        else:
            paths.append(stem_path)
    return paths, skipped


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _existing_sidecar(folder: Path, listing: FolderListing, base: str) -> Path | None:
    """``<base>.xmp`` if present, else ``<base>.XMP`` or another spelling of the suffix."""
    if f"{base}.xmp" in listing.names:
        return folder / f"{base}.xmp"
    spellings = listing.sidecars.get(base)
    return folder / spellings[0] if spellings else None
