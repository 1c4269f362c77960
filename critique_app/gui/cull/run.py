"""The Cull page's work, on a worker thread: what ``critique cull FOLDER`` does, with the
results cache the Folder page uses (facts already there are not recomputed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from critique_app.core.culling.verdicts import CullResult


def cull_folder_at(folder: Path, *, recursive: bool = False, jobs: int = 2,
                   cancel: threading.Event | None = None,
                   progress: Callable | None = None) -> CullResult:
    """Find the photos, the installed scorer and the shared results cache, then cull."""
    from critique_app.core.culling.cull import cull_folder
    from critique_app.core.folder_scoring.folder import results_cache_path
    from critique_app.core.library.finding import find_photos
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import find_scorers
    from critique_app.core.util.errors import check_cancelled

    photos = find_photos(folder, recursive=recursive)
    scorers = find_scorers()
    check_cancelled(cancel)
    # Opened on this (the worker's) thread: a SQLite connection belongs to its thread.
    with ResultsCache(results_cache_path()) as cache:
        return cull_folder(photos, cache=cache, scorers=scorers, jobs=jobs, cancel=cancel,
                           progress=progress)


__all__ = ["cull_folder_at"]
