"""How many photos a folder holds, in the line the Folder and Cull pages show above their work."""

from __future__ import annotations

from pathlib import Path

from critique_app.core.library.finding import find_photos
from critique_app.core.util.errors import CritiqueError


def count_photos(folder: Path, recursive: bool = False) -> tuple[int, str]:
    """(photos, "12 photos in FOLDER"), or (0, why the folder cannot be listed)."""
    try:
        count = len(find_photos(folder, recursive=recursive))
    except CritiqueError as error:
        return 0, str(error)
    return count, (f"{count} photo{'s' if count != 1 else ''} in {folder}"
                   + (" (and its subfolders)" if recursive else ""))
