"""``critique cull FOLDER``: group a shoot's frames by moment, pick the best of each."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from critique_app.core.util.errors import Cancelled, CritiqueError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def cull(
    folder: Annotated[Path, typer.Argument(help="The folder of photos to cull.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Include subfolders.")
                         ] = False,
    results: Annotated[Path | None, typer.Option(
        "--out", help="Write one row per photo here (.csv or .json) instead of the table.")
                       ] = None,
    xmp: Annotated[bool, typer.Option(
        "--xmp", help="Mark each group's best as a pick in its .xmp sidecars (digiKam, "
                      "darktable, Lightroom); your own ratings and flags are kept.")] = False,
    reject_others: Annotated[bool, typer.Option(
        "--reject-others", help="With --xmp: also mark the other frames of each burst "
                                "rejected (never brackets, panoramas, focus stacks or singles).")
                             ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Decoding threads.")] = 2,
) -> None:
    """Group frames of the same moment, rank each group and flag blinks, missed focus and
    exposure; cached, resumable. Photos are never moved, renamed, deleted or modified."""
    from critique_app.cli.score import _progress
    from critique_app.core.culling.cull import cull_folder, cull_rows, summary_lines
    from critique_app.core.culling.output import write_cull_results
    from critique_app.core.folder_scoring.folder import results_cache_path
    from critique_app.core.library.finding import find_photos
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import find_scorers

    if reject_others and not xmp:
        raise CritiqueError("--reject-others marks frames rejected in XMP sidecars: "
                            "add --xmp (nothing is rejected without it)")
    if results is not None and results.suffix.lower() not in (".csv", ".json"):
        raise CritiqueError(f"{results}: a cull can be written as .csv or .json")
    photos = find_photos(folder, recursive=recursive)
    if not photos:
        hint = "" if recursive else " (add --recursive to look in subfolders)"
        raise CritiqueError(f"{folder}: no photos found{hint}")
    scorers = find_scorers()
    bar = _progress()
    bar.start()
    bar.add_task("culling", total=len(photos), counts="")

    def progress(done: int, total: int, counts: dict[str, int]) -> None:
        bar.update(bar.task_ids[0], completed=done,
                   counts=" ".join(f"{k} {v}" for k, v in counts.items()))

    cancel = threading.Event()
    try:
        with ResultsCache(results_cache_path()) as cache:
            result = cull_folder(photos, cache=cache, scorers=scorers, jobs=jobs,
                                 cancel=cancel, progress=progress)
    except KeyboardInterrupt:  # the runner stops on its own; this is a Ctrl-C after it
        if bar.live.is_started:
            bar.stop()
        err.print("interrupted: what was read is cached; run again to finish")
        raise Cancelled() from None
    finally:
        if bar.live.is_started:
            bar.stop()
    rows = cull_rows(result)
    for row in rows:
        if row["status"] != "ok":
            err.print(f"[red]skipped[/red] {row['path']}: {row['error']}", highlight=False,
                      soft_wrap=True)
    if results:
        write_cull_results(rows, results)
        out.print(f"results written to {results}", highlight=False)
    else:
        out.print(groups_table(result))
    if xmp and not result.cancelled:
        _write_xmp(result, reject_others)
    elif xmp:
        err.print("[yellow]no sidecars written:[/yellow] the run was interrupted; run it again "
                  "to finish (what is done is cached)")
    for line in summary_lines(result):
        out.print(line, highlight=False)
    if result.cancelled:
        raise Cancelled()


def groups_table(result) -> Table:
    """The groups, one line per frame: the pick marked, rank, flags and the reasons."""
    table = Table(show_lines=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("group", overflow="fold", max_width=28)
    for name in ("", "photo", "rank", "flags", "why"):
        table.add_column(name, overflow="fold")
    by_index = {}
    readable = [photo for photo in result.photos if photo.facts is not None]
    for photo in readable:
        if photo.verdict is not None:
            by_index[photo.verdict.index] = photo
    for number, group in enumerate(result.groups, start=1):
        members = sorted((by_index[i] for i in group.members if i in by_index),
                         key=lambda photo: photo.verdict.rank)
        for place, photo in enumerate(members):
            verdict = photo.verdict
            first = place == 0
            label = f"{number} {group.kind} ({len(group.members)})" if first else (
                f"[dim]{escape(group.why)}[/dim]" if place == 1 else "")
            table.add_row(
                label,
                "[green]★ pick[/green]" if verdict.best else "",
                escape(photo.path.name), str(verdict.rank), ", ".join(verdict.flags),
                escape("; ".join(verdict.reasons) or (group.why if first else "")),
                end_section=place == len(members) - 1)
    return table


def _write_xmp(result, reject_others: bool) -> None:
    from critique_app.cli.score import _progress
    from critique_app.core.culling.cull import write_cull_xmp

    bar = _progress()
    bar.start()
    bar.add_task("sidecars", total=None, counts="")

    def progress(done: int, total: int) -> None:
        bar.update(bar.task_ids[0], completed=done, total=total)

    try:
        report = write_cull_xmp(result, reject_others=reject_others, progress=progress)
    except KeyboardInterrupt:
        bar.stop()
        err.print("sidecars: interrupted (each one written is whole; run again to finish)")
        raise Cancelled() from None
    bar.stop()
    for problem in report.failed:
        err.print(f"[red]sidecar not written[/red] {problem}", highlight=False, soft_wrap=True)
    parts = [f"picks marked on {report.picked}"]
    if reject_others:
        parts.append(f"{report.rejected} rejected")
    if report.cleared:
        parts.append(f"an earlier cull's flag cleared on {report.cleared}")
    if report.kept:
        parts.append(f"your own rating or flag kept on {report.kept} (left alone)")
    out.print("sidecars: " + "; ".join(parts), highlight=False)
