"""The ``critique`` command line: a thin shell over the core."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from critique_app import __version__
from critique_app.core.util.errors import Cancelled, CritiqueError

app = typer.Typer(
    name="critique",
    help="Photo critique: saliency, depth and blur maps, measurements, scores and critiques.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console()
stderr = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"critique {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    context: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Critique analyses photos the way a photographer looks at them.

    With no command, the desktop app opens.
    """
    if context.invoked_subcommand is None:
        gui(None)


@app.command()
def gui(
    path: Annotated[Path | None, typer.Argument(help="A photo or a folder to open.")] = None,
) -> None:
    """Open the desktop app (optionally on a photo or a folder)."""
    try:
        from critique_app.gui.app import run
    except ImportError as error:
        raise CritiqueError(f"the desktop app needs PySide6 ({error}); "
                            "reinstall Critique with its dependencies") from None
    raise typer.Exit(run(path))


@app.command()
def analyze(
    photo: Annotated[Path, typer.Argument(help="The photo file to analyse.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    maps: Annotated[Path | None, typer.Option(
        "--maps", help="Write <modality>.npy maps and <modality>.png overlays here.")] = None,
    depth_model: Annotated[Path | None, typer.Option(
        "--depth-model", help="A transformers depth model folder (default: installed).")] = None,
    no_depth: Annotated[bool, typer.Option("--no-depth", help="Skip depth estimation.")] = False,
) -> None:
    """Measure a photo (exposure, colour, noise, sharpness, tilt, subject) and map it."""
    from critique_app.cli.maps import write_maps
    from critique_app.cli.report import print_report
    from critique_app.core.analysis.analyzer import analyze as run_analysis
    from critique_app.core.scene import scene_for

    result = run_analysis(photo, depth=not no_depth, depth_model=depth_model,
                          cancel=threading.Event())
    scene = scene_for(result)
    written = write_maps(result, maps) if maps else []
    if as_json:
        data = result.to_dict()
        data["scene"] = scene.as_dict()
        if maps:
            data["maps"] = [str(p) for p in written]
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        print_report(result, stdout, scene)
        if written:
            stdout.print(f"[dim]maps written to {maps}: "
                         f"{', '.join(p.name for p in written)}[/dim]")


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        app()  # click handles --help and usage errors itself (exit code 2)
    except CritiqueError as error:
        stderr.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Cancelled:
        stderr.print("cancelled")
        sys.exit(130)
    except Exception as error:  # a bug: one line unless asked for the traceback
        if os.environ.get("CRITIQUE_DEBUG"):
            raise
        stderr.print(f"[red]internal error:[/red] {type(error).__name__}: {error} "
                     "(set CRITIQUE_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(1)


def _register_subcommands() -> None:
    from critique_app.cli.critique import critique
    from critique_app.cli.cull import cull
    from critique_app.cli.models import models_app
    from critique_app.cli.personas import personas_app
    from critique_app.cli.score import score

    app.add_typer(models_app, name="models")
    app.add_typer(personas_app, name="personas")
    app.command()(score)
    app.command()(critique)
    app.command()(cull)


_register_subcommands()
