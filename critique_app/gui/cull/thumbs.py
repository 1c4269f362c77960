"""Thumbnails for the Cull page, made on a worker thread from the shared disk cache (the
filmstrip's: the same photo's thumbnail is made once for both)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from critique_app.core.library.thumbnails import DEFAULT_SIZE, thumbnail
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.bridge import Task

log = logging.getLogger("critique.gui")


def make_thumbnails(task: Task, paths: list[Path]) -> Iterator[tuple[Path, object]]:
    """On a worker thread: (path, RGB uint8 array or the one-line error), in order."""
    for path in paths:
        if task.cancel_event.is_set():
            return
        try:
            yield path, thumbnail(path, DEFAULT_SIZE)
        except CritiqueError as error:
            yield path, str(error)
        except Exception as error:  # one bad file must not stop the others
            log.exception("thumbnail of %s failed", path)
            yield path, f"cannot make a thumbnail: {type(error).__name__}: {error}"


__all__ = ["make_thumbnails"]
