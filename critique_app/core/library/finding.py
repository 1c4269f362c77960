"""Finding the photos in a folder: one rule for the whole app, and one list of extensions.

The rule, what a photographer expects of "the photos in this folder":

* a photo is a file (or a link to one) whose extension, in any case, is one Critique
  can open (:data:`PHOTO_EXTENSIONS`: the images Pillow reads and camera RAW);
* hidden files and hidden folders (names starting with ".") are skipped;
* subfolders only when the caller asks (``recursive=True``): the folder's own photos
  first, then each subfolder's, folders and files in name order;
* a folder that cannot be read is an error; an unreadable subfolder is skipped.

The Qt file dialog's filter is built from the same list (:func:`dialog_filter`).
"""

from __future__ import annotations

import os
from pathlib import Path

from critique_app.core.photo.load import IMAGE_EXTENSIONS
from critique_app.core.photo.raw import RAW_EXTENSIONS
from critique_app.core.util.errors import CritiqueError

PHOTO_EXTENSIONS = frozenset(IMAGE_EXTENSIONS | RAW_EXTENSIONS)  # lower case, with the dot


def is_photo_name(name: str) -> bool:
    """Whether a file of this name is listed as a photo (by extension; not hidden)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def find_photos(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The photos in ``folder`` (and its subfolders if ``recursive``), by the rule above.

    Raises :class:`CritiqueError` (one line) if ``folder`` is not a readable folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CritiqueError(f"{folder} is not a folder")
    try:
        entries = _entries(folder)
    except OSError as error:
        raise CritiqueError(f"{folder}: the folder cannot be read ({error.strerror})") from None
    return _photos(folder, entries, recursive)


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as iterator:
        return sorted((entry for entry in iterator if not entry.name.startswith(".")),
                      key=lambda entry: entry.name)


def _photos(folder: Path, entries: list[os.DirEntry], recursive: bool) -> list[Path]:
    found = [folder / entry.name for entry in entries
             if is_photo_name(entry.name) and _is_file(entry)]
    if recursive:
        for entry in entries:
            if not _is_folder(entry):
                continue
            try:
                below = _entries(folder / entry.name)
            except OSError:  # unreadable (or gone): skipped, as file managers do
                continue
            found += _photos(folder / entry.name, below, recursive)
    return found


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()  # follows a link: a link to a photo is a photo
    except OSError:
        return False


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)  # never loop through linked folders
    except OSError:
        return False


def dialog_filter(title: str = "Photos") -> str:
    """The file dialog's name filter, e.g. ``"Photos (*.avif *.bmp … *.x3f);;All files (*)"``
    (images first, then camera RAW). A plain string: Qt reads it, the core needs no Qt."""
    patterns = [f"*{extension}" for extension in
                [*sorted(IMAGE_EXTENSIONS), *sorted(RAW_EXTENSIONS - IMAGE_EXTENSIONS)]]
    return f"{title} ({' '.join(patterns)});;All files (*)"


__all__ = ["PHOTO_EXTENSIONS", "dialog_filter", "find_photos", "is_photo_name"]
