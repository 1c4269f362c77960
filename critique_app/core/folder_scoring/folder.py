"""Score a folder, then write stars: what ``critique score FOLDER`` and the app's Folder page do.

Both shells call the same two functions and only show what they return:

* :func:`score_folder` finds the photos (:func:`~critique_app.core.library.finding.find_photos`),
  the installed score models and the results cache (:func:`results_cache_path`), and scores
  every photo (:func:`~critique_app.core.folder_scoring.runner.score_photos`: cached photos
  are not recomputed, percentiles are taken within the folder);
* :func:`write_star_ratings` turns those scores into 1-5 stars (by the score's percentile
  within the folder, or by the mean score) in the photos' XMP sidecars, keeping ratings the
  photographer set unless told to replace them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.folder_scoring.runner import (
    FolderScoringResult,
    Progress,
    score_photos,
)
from critique_app.core.library.finding import find_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.library.xmp import (
    listing_once,
    stars_from_mean,
    stars_from_percentile,
    write_rating,
)
from critique_app.core.scoring.scorer import ScorerSet, find_scorers
from critique_app.core.util.errors import CritiqueError, check_cancelled
from critique_app.core.util.paths import data_dir

RATING_BASES = ("percentile", "mean")  # what stars can be given from
Started = Callable[[list[Path], ScorerSet], None]  # (the photos, the score models), before scoring


def results_cache_path() -> Path:
    """The results cache every folder scoring shares (keyed by the photos' bytes)."""
    return data_dir() / "cache" / "results.sqlite"


def score_folder(folder: Path, *, recursive: bool = False, model: str | None = None,
                 runtime: str = "auto", jobs: int = 2, cancel: threading.Event | None = None,
                 progress: Progress | None = None,
                 started: Started | None = None) -> FolderScoringResult:
    """Score and measure every photo in ``folder`` (and its subfolders if ``recursive``).

    ``model``: the photo score model (default: the installed one); ``runtime``: auto, onnx
    or torch; ``jobs``: decoding threads. ``started(photos, scorers)`` is called once the
    photos and score models are found, before the first photo is scored; ``progress(done,
    total, counts)`` as photos are done. A set ``cancel`` stops the run: before scoring it
    raises :class:`~critique_app.core.util.errors.Cancelled`; during it, what is done is
    kept in the cache and returned (``result.cancelled``). Raises
    :class:`~critique_app.core.util.errors.CritiqueError` for a folder that cannot be read
    or a model that cannot be used.
    """
    photos = find_photos(folder, recursive=recursive)
    scorers = find_scorers(name=model, runtime=runtime)
    if started is not None:
        started(photos, scorers)
    check_cancelled(cancel)
    # Opened on the calling thread: a SQLite connection belongs to its thread.
    with ResultsCache(results_cache_path()) as cache:
        return score_photos(photos, cache=cache, scorers=scorers, jobs=jobs, cancel=cancel,
                            progress=progress)


@dataclass
class StarRatingReport:
    """What :func:`write_star_ratings` did."""

    rated: int = 0  # photos with a score to give stars from
    written: int = 0  # of those, photos whose sidecars now hold the stars (or already did)
    kept: int = 0  # photos whose own rating was kept (not overwritten)
    failed: list[str] = field(default_factory=list)  # sidecars not written, one line each
    # every problem, in order: the failed ones and sidecars left alone along the way
    problems: list[str] = field(default_factory=list)


def rows_to_rate(rows: list[dict], rating_from: str = "percentile") -> list[dict]:
    """The rows stars can be given from: those with a score (and its percentile)."""
    _check_basis(rating_from)
    needed = "score_percentile" if rating_from == "percentile" else "score_mean"
    return [row for row in rows if row.get("status") == "ok"
            and row.get("score_mean") is not None and row.get(needed) is not None]


def write_star_ratings(rows: list[dict], *, rating_from: str = "percentile",
                       overwrite: bool = False, cancel: threading.Event | None = None,
                       progress: Callable[[int, int], None] | None = None) -> StarRatingReport:
    """1-5 stars from each scored row (a :class:`FolderScoringResult` row) into its photo's
    XMP sidecars (Lightroom, darktable, digiKam); the photos themselves are not opened.

    ``rating_from``: ``"percentile"`` (the score's percentile within the folder: top 10 %
    five stars, see :func:`~critique_app.core.library.xmp.stars_from_percentile`) or
    ``"mean"`` (the mean score, halved). Ratings the photographer set are kept unless
    ``overwrite``. A sidecar that cannot be written is reported, not raised; ``progress(done,
    total)`` after each photo; a set ``cancel`` raises ``Cancelled`` before the next one.
    """
    chosen = rows_to_rate(rows, rating_from)
    report = StarRatingReport(rated=len(chosen))
    listing = listing_once()  # each folder listed once, not once a photo
    for done, row in enumerate(chosen):
        check_cancelled(cancel)
        if rating_from == "percentile":
            stars, basis = stars_from_percentile(row["score_percentile"]), "score-percentile"
        else:
            stars, basis = stars_from_mean(row["score_mean"]), "score-mean"
        try:
            photo = Path(row["path"])
            outcome = write_rating(photo, stars, basis=basis, overwrite_manual=overwrite,
                                   listing=listing(photo.parent))
        except CritiqueError as error:
            report.failed.append(str(error))
            report.problems.append(str(error))
        else:
            report.written += bool(outcome.written or outcome.unchanged)
            report.kept += bool(outcome.kept_manual)
            report.problems += outcome.skipped
        if progress is not None:
            progress(done + 1, len(chosen))
    return report


def _check_basis(rating_from: str) -> None:
    if rating_from not in RATING_BASES:
        raise ValueError(f"stars are given from {' or '.join(map(repr, RATING_BASES))}, "
                         f"not {rating_from!r}")


__all__ = [
    "RATING_BASES",
    "StarRatingReport",
    "results_cache_path",
    "rows_to_rate",
    "score_folder",
    "write_star_ratings",
]
