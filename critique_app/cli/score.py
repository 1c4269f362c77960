"""``critique score FOLDER``: cull a shoot."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from critique_app.core.util.errors import Cancelled

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def score(
    folder: Annotated[Path, typer.Argument(help="The folder of photos to score.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Include subfolders.")
                         ] = False,
    results: Annotated[Path | None, typer.Option(
        "--out", help="Write the results here (.csv or .json).")] = None,
    xmp: Annotated[bool, typer.Option(
        "--xmp", help="Write star ratings to .xmp sidecars (Lightroom, darktable, digiKam).")
                   ] = False,
    rating_from: Annotated[str, typer.Option(
        help="Stars from the score 'percentile' within this folder, or the 'mean' score.")
                           ] = "percentile",
    overwrite_ratings: Annotated[bool, typer.Option(
        help="Also replace ratings you set yourself (and darktable's default 1 star).")
                                 ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Decoding threads.")] = 2,
    model: Annotated[str | None, typer.Option(
        help="The photo score model to use (default: the installed one).")] = None,
    runtime: Annotated[str, typer.Option(help="auto (ONNX Runtime), onnx or torch.")] = "auto",
) -> None:
    """Score every photo in a folder: one row per photo, cached, resumable."""
    from critique_app.core.folder_scoring.output import write_results
    from critique_app.core.folder_scoring.runner import find_photos, score_photos
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import find_scorers
    from critique_app.core.util.paths import data_dir

    if rating_from not in ("percentile", "mean"):
        raise typer.BadParameter("use 'percentile' or 'mean'", param_hint="--rating-from")
    photos = find_photos(folder, recursive=recursive)
    scorers = find_scorers(name=model, runtime=runtime)
    if scorers.missing:
        err.print(f"[yellow]scores left empty:[/yellow] {scorers.missing}", highlight=False)
    else:
        used = ", ".join(f"{m}: {s.info.name} ({s.provider})"
                         for m, s in sorted(scorers.by_modality.items()))
        out.print(f"score models: {used}", highlight=False)
    cancel = threading.Event()
    with ResultsCache(data_dir() / "cache" / "results.sqlite") as cache, _progress() as bar:
        task = bar.add_task("scoring", total=len(photos), counts="")

        def progress(done: int, total: int, counts: dict[str, int]) -> None:
            bar.update(task, completed=done,
                       counts=" ".join(f"{k} {v}" for k, v in counts.items()))

        result = score_photos(photos, cache=cache, scorers=scorers, jobs=jobs, cancel=cancel,
                              progress=progress)
    rows = [row for row in result.rows if row is not None]
    for reason in result.depth_missing:
        err.print(f"[yellow]depth scores left empty:[/yellow] {reason}", highlight=False)
    for row in rows:
        if row["status"] != "ok":
            err.print(f"[red]skipped[/red] {row['path']}: {row['error']}", highlight=False,
                      soft_wrap=True)
    if results:
        write_results(rows, results)
        out.print(f"results written to {results}", highlight=False)
    if xmp:
        _write_sidecars(rows, rating_from, overwrite_ratings)
    out.print(f"{len(photos)} photos: {result.cached} cached, {result.computed} computed, "
              f"{result.failed} failed" + (" (interrupted)" if result.cancelled else ""),
              highlight=False)
    if result.cancelled:
        raise Cancelled()


def _write_sidecars(rows: list[dict], rating_from: str, overwrite: bool) -> None:
    from critique_app.core.library.xmp import stars_from_mean, stars_from_percentile, write_rating
    from critique_app.core.util.errors import CritiqueError

    scored = [row for row in rows if row.get("score_mean") is not None]
    if not scored:
        err.print("[yellow]no sidecars written:[/yellow] there are no scores to rate from")
        return
    written = kept = 0
    for row in scored:
        if rating_from == "percentile":
            stars, source = stars_from_percentile(row["score_percentile"]), "score-percentile"
        else:
            stars, source = stars_from_mean(row["score_mean"]), "score-mean"
        try:
            outcome = write_rating(Path(row["path"]), stars, source=source,
                                   overwrite_manual=overwrite)
        except CritiqueError as error:
            err.print(f"[red]sidecar not written[/red] {error}", highlight=False, soft_wrap=True)
            continue
        written += bool(outcome.written or outcome.unchanged)
        kept += bool(outcome.kept_manual)
    basis = ("the score's percentile within this folder" if rating_from == "percentile"
             else "the mean score")
    out.print(f"star ratings from {basis} in {written} sidecars"
              + (f"; kept your own rating on {kept} (use --overwrite-ratings)" if kept else ""),
              highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=err, transient=False)
