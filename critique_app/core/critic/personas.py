"""Who the critique speaks as.

The built-in personas follow the Impressions paper's annotator traits
(introvert / extrovert, art-experienced / novice). Users add their own as a
short description; they are kept in ``personas.json`` in the data folder. A
persona reaches the model through the prompt, and also through a LoRA adapter
when one trained for it is installed (see :mod:`critique_app.core.critic.loading`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically
from critique_app.core.util.paths import data_dir


@dataclass(frozen=True)
class Persona:
    name: str
    description: str  # who is speaking, in the second person's terms ("a viewer who ...")
    builtin: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "builtin": self.builtin}


DEFAULT_PERSONA = "critic"

BUILTIN_PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona("critic", "an experienced, fair photography critic who is specific and kind",
                True),
        Persona("introvert", "an introverted viewer who notices quiet details, solitude and "
                "subtle moods, and prefers calm scenes", True),
        Persona("extrovert", "an extroverted viewer drawn to people, energy, action and "
                "social moments", True),
        Persona("art-experienced", "a viewer with art training who talks about composition, "
                "light, genre and photographic technique", True),
        Persona("novice", "a viewer with no art training who says plainly what they see, like "
                "and feel, without jargon", True),
    )
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def personas_file() -> Path:
    return data_dir() / "personas.json"


def user_personas(path: Path | None = None) -> dict[str, Persona]:
    path = path or personas_file()
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: Persona(name, str(text)) for name, text in raw.items()}
    except (OSError, ValueError, AttributeError) as error:
        raise CritiqueError(f"{path} could not be read ({error}); fix or delete it") from None


def all_personas(path: Path | None = None) -> dict[str, Persona]:
    return {**BUILTIN_PERSONAS, **user_personas(path)}


def resolve_persona(value: str | None, path: Path | None = None) -> Persona:
    """A persona by name; text that is not a known name is taken as an ad-hoc description."""
    if not value:
        return BUILTIN_PERSONAS[DEFAULT_PERSONA]
    known = all_personas(path)
    key = value.strip().lower()
    if key in known:
        return known[key]
    if " " in value.strip():
        return Persona("custom", value.strip())
    raise CritiqueError(f"unknown persona '{value}'; choose from {', '.join(known)}, or give a "
                        "short description in quotes")


def save_persona(name: str, description: str, path: Path | None = None) -> Persona:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise CritiqueError("a persona name is 1-40 lowercase letters, digits, '-' or '_'")
    if name in BUILTIN_PERSONAS:
        raise CritiqueError(f"'{name}' is a built-in persona; pick another name")
    if not description.strip():
        raise CritiqueError("a persona needs a short description")
    path = path or personas_file()
    current = {p.name: p.description for p in user_personas(path).values()}
    current[name] = description.strip()
    _write_json(path, current)
    return Persona(name, description.strip())


def delete_persona(name: str, path: Path | None = None) -> None:
    path = path or personas_file()
    current = {p.name: p.description for p in user_personas(path).values()}
    if name not in current:
        raise CritiqueError(f"there is no user persona '{name}'")
    del current[name]
    _write_json(path, current)


def _write_json(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, indent=2, ensure_ascii=False))
