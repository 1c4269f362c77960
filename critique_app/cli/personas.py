"""``critique personas``: the voices a critique can take."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

out = Console(soft_wrap=True, highlight=False)
personas_app = typer.Typer(help="List, add and remove critique personas.",
                           no_args_is_help=True)


@personas_app.command("list")
def list_personas() -> None:
    """Show the built-in personas and yours."""
    from critique_app.core.critic.personas import all_personas

    for persona in all_personas().values():
        tag = "built-in" if persona.builtin else "yours"
        out.print(f"[bold]{persona.name}[/bold] [dim]({tag})[/dim]: {persona.description}")


@personas_app.command("add")
def add_persona(
    name: Annotated[str, typer.Argument(help="A short name, e.g. street-shooter.")],
    description: Annotated[str, typer.Argument(
        help="Who they are, e.g. 'a street photographer who loves grain and candid moments'.")],
) -> None:
    """Add (or replace) a persona of your own."""
    from critique_app.core.critic.personas import save_persona

    persona = save_persona(name, description)
    out.print(f"saved persona {persona.name}")


@personas_app.command("remove")
def remove_persona(name: Annotated[str, typer.Argument(help="The persona to remove.")]) -> None:
    """Remove one of your personas."""
    from critique_app.core.critic.personas import delete_persona

    delete_persona(name)
    out.print(f"removed persona {name}")
