"""The app's preferences: a plain dataclass kept as JSON (no Qt here).

A settings file that cannot be read never stops the app: whatever is unreadable
falls back to its default and :attr:`Settings.warning` says so, for the UI to show.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs

from critique_app.core.util.files import write_text_atomically
from critique_app.core.util.paths import data_dir, models_dir

SCHEMA_VERSION = 1
MAX_RECENT = 10
DEVICES = ("auto", "cpu", "cuda")
MODELS_DIR_VARIABLE = "CRITIQUE_MODELS_DIR"


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    device: str = "auto"  # one of DEVICES
    models_dir: str | None = None  # None: the default models folder
    default_persona: str = "critic"
    use_language_model: bool = True  # False: rule-based critique only
    critic_model: str | None = None  # None: the best installed language model
    scorer_model: str | None = None  # None: the best installed score model
    personal_model: str | None = None  # "Learn my taste": scored beside the photo model
    personal_retrain_every: int = 10  # new ratings before the personal model learns again
    auto_critique: bool = True  # start the critique as soon as a photo opens
    recent: list[str] = field(default_factory=list)  # most recent first
    window_geometry: str | None = None  # base64 of QWidget.saveGeometry()
    # Why (part of) the file was reset when it was loaded; never saved.
    warning: str | None = field(default=None, compare=False, repr=False)

    def add_recent(self, path: str | os.PathLike) -> None:
        text = str(path)
        self.recent = [text, *(p for p in self.recent if p != text)][:MAX_RECENT]

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "warning"}


def settings_path() -> Path:
    home = os.environ.get("CRITIQUE_HOME")
    if home:
        return Path(home).expanduser() / "settings.json"
    return Path(platformdirs.user_config_dir("critique", appauthor=False)) / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; defaults (with ``warning`` set) for whatever cannot be read."""
    path = Path(path) if path else settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except OSError as error:
        return Settings(warning=f"the settings file {path} could not be read ({error}); "
                                "the defaults are used")
    except ValueError:  # not JSON, or not UTF-8
        raw = None
    if not isinstance(raw, dict):
        return Settings(warning=f"the settings file {path} was unreadable and the settings "
                                "were reset to their defaults")
    settings, bad = _from_dict(_migrate(raw))
    if bad:
        settings.warning = (f"some settings in {path} were unreadable and were reset: "
                            f"{', '.join(bad)}")
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    path = Path(path) if path else settings_path()
    text = json.dumps(settings.to_dict(), indent=2, ensure_ascii=False)
    return write_text_atomically(path, text)


_applied_models_dir: str | None = None  # the value apply_models_dir last put in the env


def apply_models_dir(settings: Settings) -> Path:
    """Point the core's models_dir() at the chosen folder; returns the folder now in use.

    With no folder chosen, only an override this function made is undone, so a
    CRITIQUE_MODELS_DIR given at launch still applies.
    """
    global _applied_models_dir
    if settings.models_dir:
        value = str(Path(settings.models_dir).expanduser())
        os.environ[MODELS_DIR_VARIABLE] = value
        _applied_models_dir = value
    elif _applied_models_dir is not None:
        if os.environ.get(MODELS_DIR_VARIABLE) == _applied_models_dir:
            del os.environ[MODELS_DIR_VARIABLE]
        _applied_models_dir = None
    return models_dir()


def default_models_dir() -> Path:
    """The models folder used when the settings name none."""
    launched = os.environ.get(MODELS_DIR_VARIABLE)
    if launched and launched != _applied_models_dir:
        return Path(launched).expanduser()
    return data_dir() / "models"


# -- reading -----------------------------------------------------------------------

def _migrate(raw: dict) -> dict:
    """Bring an older file up to SCHEMA_VERSION (a file without a version is version 0)."""
    raw = dict(raw)
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        version = 0
    # Before version 1 an empty critic_model meant "no language model".
    if version < 1 and raw.get("critic_model") == "":
        raw["critic_model"] = None
        raw.setdefault("use_language_model", False)
    raw["schema_version"] = SCHEMA_VERSION
    return raw


def _is_optional_text(value) -> bool:
    return value is None or isinstance(value, str)


_CHECKS = {
    "device": lambda v: v in DEVICES,
    "models_dir": _is_optional_text,
    "default_persona": lambda v: isinstance(v, str) and bool(v.strip()),
    "use_language_model": lambda v: isinstance(v, bool),
    "critic_model": _is_optional_text,
    "scorer_model": _is_optional_text,
    "personal_model": _is_optional_text,
    "personal_retrain_every": lambda v: isinstance(v, int) and not isinstance(v, bool)
    and 1 <= v <= 10_000,
    "auto_critique": lambda v: isinstance(v, bool),
    "recent": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
    "window_geometry": _is_optional_text,
}


def _from_dict(raw: dict) -> tuple[Settings, list[str]]:
    """Settings from known keys (others are ignored) and the names of unusable ones."""
    settings = Settings()
    bad = []
    for name, check in _CHECKS.items():
        if name not in raw:
            continue
        value = raw[name]
        if check(value):
            setattr(settings, name, value)
        else:
            bad.append(name)
    settings.models_dir = settings.models_dir or None
    settings.critic_model = settings.critic_model or None
    settings.scorer_model = settings.scorer_model or None
    settings.personal_model = settings.personal_model or None
    recent, settings.recent = settings.recent, []
    for item in reversed(recent):  # keeps the first (most recent) of duplicates
        settings.add_recent(item)
    return settings, bad
