"""``critique score FOLDER``: score every photo of a folder (a table or rows, stars in XMP)."""

from __future__ import annotations

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
    from critique_app.core.folder_scoring.folder import (
        RATING_BASES,
        score_folder,
        write_star_ratings,
    )
    from critique_app.core.folder_scoring.output import write_results

    if rating_from not in RATING_BASES:
        raise typer.BadParameter("use 'percentile' or 'mean'", param_hint="--rating-from")
    bar = _progress()

    def started(photos, scorers) -> None:
        if scorers.missing:
            err.print(f"[yellow]scores left empty:[/yellow] {scorers.missing}", highlight=False)
        if scorers.photo is None:
            _offer_pull()
        if not scorers.missing:
            used = ", ".join(f"{m}: {s.title} ({s.provider}"
                             + ("; mean only, no distribution)" if s.output == "mean" else ")")
                             for m, s in sorted(scorers.by_modality.items()))
            out.print(f"score models: {used}", highlight=False)
        bar.start()
        bar.add_task("scoring", total=len(photos), counts="")

    def progress(done: int, total: int, counts: dict[str, int]) -> None:
        bar.update(bar.task_ids[0], completed=done,
                   counts=" ".join(f"{k} {v}" for k, v in counts.items()))

    try:
        result = score_folder(folder, recursive=recursive, model=model, runtime=runtime,
                              jobs=jobs, progress=progress, started=started)
    finally:
        if bar.live.is_started:
            bar.stop()
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
        _show_stars(write_star_ratings(rows, rating_from=rating_from,
                                       overwrite=overwrite_ratings), rating_from)
    out.print(f"{len(result.rows)} photos: {result.cached} cached, {result.computed} computed, "
              f"{result.failed} failed" + (" (interrupted)" if result.cancelled else ""),
              highlight=False)
    if result.cancelled:
        raise Cancelled()


def recommended_scorer():
    """The pretrained score model recommended for this machine, or None when the manifest
    offers none or it is installed already (then unusable: the hint says why)."""
    from critique_app.core.store.recommend import detect_machine, recommend_scorer
    from critique_app.core.store.store import ModelStore

    store = ModelStore()
    recommendation = recommend_scorer(list(store.manifest.values()), detect_machine())
    if recommendation is None or store.path(recommendation.entry.name) is not None:
        return None
    return recommendation


def pull_command() -> str | None:
    """The exact command that pulls the recommended score model (see above)."""
    recommendation = recommended_scorer()
    return None if recommendation is None else \
        f"critique models pull {recommendation.entry.name}"


def _offer_pull() -> None:
    """No photo score model: the command that pulls one, on a line of its own (stderr)."""
    recommendation = recommended_scorer()
    if recommendation is None:
        return
    entry = recommendation.entry
    size = recommendation.size_bytes
    about = f"{entry.title}, {size / 1e9:.1f} GB download" if size and size >= 1e8 else \
        entry.title
    err.print(f"to score photos with the pretrained scorer recommended here ({about}), run:",
              highlight=False, markup=False)
    err.print(f"  critique models pull {entry.name}", highlight=False, markup=False)


def _show_stars(report, rating_from: str) -> None:
    if not report.rated:
        err.print("[yellow]no sidecars written:[/yellow] there are no scores to rate from")
        return
    for problem in report.failed:
        err.print(f"[red]sidecar not written[/red] {problem}", highlight=False, soft_wrap=True)
    basis = ("the score's percentile within this folder" if rating_from == "percentile"
             else "the mean score")
    kept = report.kept
    out.print(f"star ratings from {basis} in {report.written} sidecars"
              + (f"; kept your own rating on {kept} (use --overwrite-ratings)" if kept else ""),
              highlight=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=err, transient=False)
