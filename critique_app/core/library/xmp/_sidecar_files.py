"""Which sidecar files a photo has or gets: darktable's full-name one, Lightroom's stem one."""

from __future__ import annotations

import os
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


def sidecar_paths(photo: Path) -> list[Path]:
    """The sidecars :func:`write_rating` writes or updates for ``photo``.

    Existing sidecars are returned under their actual names (``.XMP`` included). Only
    the folder listing is read.
    """
    return sidecars_of(Path(photo))[0]


def sidecars_of(photo: Path) -> tuple[list[Path], list[str]]:
    """The sidecars of ``photo``, and one line for each one left alone (and why)."""
    if photo.suffix.lower() == ".xmp":
        raise ValueError(f"{photo} is a sidecar, not a photo")
    folder = photo.parent
    try:
        names = [entry.name for entry in os.scandir(folder) if _is_file(entry)]
    except OSError as error:
        raise CritiqueError(f"cannot list the folder ({error.strerror})", path=folder) from None

    paths = [_existing_sidecar(folder, names, photo.name) or folder / f"{photo.name}.xmp"]
    skipped: list[str] = []
    if not photo.suffix:  # <stem>.xmp would be the same file
        return paths, skipped
    stem_existing = _existing_sidecar(folder, names, photo.stem)
    if photo.suffix.lower() in LIGHTROOM_RAW_EXTENSIONS or stem_existing:
        stem_path = stem_existing or folder / f"{photo.stem}.xmp"
        # Case-insensitive: Lightroom pairs IMG_1.CR2 with img_1.jpg on macOS/Windows.
        sharing = sorted(
            name
            for name in names
            if name != photo.name
            and Path(name).suffix.lower() in _STEM_SHARING_EXTENSIONS
            and Path(name).stem.casefold() == photo.stem.casefold()
        )
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


def _existing_sidecar(folder: Path, names: list[str], base: str) -> Path | None:
    """``<base>.xmp`` if present, else ``<base>.XMP`` or another spelling of the suffix."""
    if f"{base}.xmp" in names:
        return folder / f"{base}.xmp"
    for name in sorted(names):
        if len(name) == len(base) + 4 and name.startswith(base) and name[-4:].lower() == ".xmp":
            return folder / name
    return None
