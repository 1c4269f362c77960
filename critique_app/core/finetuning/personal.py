"""Learn my taste: a personal score model from the open folder's ratings, in one click.

The one path both the photo page's "Learn my taste" and the fine-tuning wizard's Personal
taste task (without a starting model) take:

1. :func:`personal_argv` is the trainer's command, ``python -m train personal --data
   FOLDER --out RUN --name NAME --progress json`` (no ``--base``: a ridge head on frozen
   features, see docs/training.md); the run folder is ``<data dir>/personal/<folder
   key>/run-N`` (:func:`next_run_dir`);
2. :func:`install_personal` imports the run's model into the store under the folder's
   stable name (:func:`personal_model_name`, ``my-taste-<folder name>``), replacing the
   previous one in one rename, and records which folder and how many ratings it learned
   from (``personal.json`` beside the model);
3. :func:`read_personal_info` is what the score panel says of it: the ratings learned
   from, the held-out SRCC with its bootstrap interval, and when it was learned.

Only the photographer's own ratings count (:func:`usable_rating`, the training reader's
rule): stars Critique's scorer wrote do not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.scoring.scorer import PERSONAL_PREFIX
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.paths import data_dir

# train/tasks/frozen.py's MIN_RATINGS (the app never imports train/; a test checks both agree)
MIN_RATINGS = 20
RETRAIN_EVERY = 10  # new ratings before a background retrain (Settings.personal_retrain_every)
INFO_FILE = "personal.json"  # written beside the model when it is installed
RUNS_KEPT = 2  # run folders kept per photo folder (the newest; older ones are removed)


def usable_rating(rating) -> bool:
    """Whether ``train personal`` learns from this :class:`PhotoRating` (the training
    reader's rule): a reject, the photographer's stars, or a pick without stars; not
    what Critique's scorer or cull wrote."""
    if rating is None:
        return False
    if rating.rejected:
        return not getattr(rating, "automatic_flag", False)
    if rating.stars:
        return not rating.automatic
    return bool(rating.picked) and not getattr(rating, "automatic_flag", False)


def count_usable(ratings: Iterable) -> int:
    return sum(1 for rating in ratings if usable_rating(rating))


def folder_key(folder: Path) -> str:
    """A short, stable key of a photo folder (its resolved path)."""
    return hashlib.sha256(str(Path(folder).resolve()).encode("utf-8")).hexdigest()[:12]


def personal_root() -> Path:
    return data_dir() / "personal"


def next_run_dir(folder: Path, root: Path | None = None) -> Path:
    """``<root>/<folder key>/run-N``, N one more than the last run's."""
    parent = (root or personal_root()) / folder_key(folder)
    numbers = [int(m.group(1)) for child in (parent.iterdir() if parent.is_dir() else ())
               if (m := re.fullmatch(r"run-(\d+)", child.name))]
    return parent / f"run-{max(numbers, default=0) + 1}"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].strip("-") or "folder"


def personal_model_name(folder: Path, store=None) -> str:
    """The folder's personal model's store name: ``my-taste-<folder name>``, with the
    folder's key added when another folder of that name already has it."""
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    folder = Path(folder).resolve()
    name = PERSONAL_PREFIX + _slug(folder.name)
    installed = store.path(name)
    if installed is None or _learned_from(installed) in (None, str(folder)):
        return name
    return f"{name}-{folder_key(folder)[:6]}"


def _learned_from(model_folder: Path) -> str | None:
    try:
        return json.loads((model_folder / INFO_FILE).read_text(encoding="utf-8")).get("folder")
    except (OSError, ValueError, AttributeError):
        return None


def personal_argv(folder: Path, out: Path, name: str) -> list[str]:
    """``python -m train``'s arguments for a personal model of ``folder``'s ratings."""
    return ["personal", "--data", str(Path(folder).resolve()), "--out", str(out),
            "--name", name, "--progress", "json"]


def learned_folder_of_run(run_dir: Path) -> Path | None:
    """The photo folder a "Learn my taste" run (``personal`` without ``--base``) learned
    from, read from the run's ``run.json``; None for any other run."""
    try:
        command = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
        argv = [str(a) for a in command["argv"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not argv or argv[0] != "personal" or "--base" in argv or "--data" not in argv:
        return None
    index = argv.index("--data") + 1
    return Path(argv[index]) if index < len(argv) else None


def install_personal(model_dir: Path, folder: Path, name: str, *, store=None,
                     ratings: int | None = None) -> Path:
    """Import the trained model as ``name`` (replacing the previous one in one rename)
    and remember which folder it learned from; returns the installed folder. Older run
    folders of this photo folder are removed, the newest :data:`RUNS_KEPT` kept."""
    from critique_app.core.store.store import ModelStore
    from critique_app.core.util.files import write_text_atomically

    store = store or ModelStore()
    model_dir = Path(model_dir)
    if not (model_dir / "critique_model.json").is_file():
        raise CritiqueError(f"the trainer wrote no model in {model_dir}")
    info = {"folder": str(Path(folder).resolve()), "run": str(model_dir.parent),
            "ratings_in_folder": ratings,
            "learned_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_text_atomically(model_dir / INFO_FILE, json.dumps(info, indent=2))
    installed = store.import_dir(model_dir, name=name, report=lambda _line: None)
    _prune_runs(model_dir.parent)
    return installed


def _prune_runs(run_dir: Path) -> None:
    parent = run_dir.parent
    if not re.fullmatch(r"run-\d+", run_dir.name) or not parent.is_dir():
        return
    runs = sorted((c for c in parent.iterdir() if re.fullmatch(r"run-\d+", c.name)),
                  key=lambda c: int(c.name.split("-")[1]))
    for old in runs[:-RUNS_KEPT]:
        if old != run_dir:
            shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class PersonalInfo:
    """What a personal model learned from and how well it did on held-out ratings."""

    name: str
    ratings_used: int | None  # ratings it was fitted on
    held_out: int | None  # ratings it was measured on
    srcc: float | None
    srcc_low: float | None
    srcc_high: float | None
    learned_at: dt.datetime | None  # UTC
    folder: str | None  # the photo folder it learned from

    def summary(self) -> str:
        """"learned from 54 ratings, held-out SRCC 0.83 [0.66–0.95]"."""
        parts = []
        if self.ratings_used:
            parts.append(f"learned from {self.ratings_used} rating"
                         f"{'s' if self.ratings_used != 1 else ''}")
        if self.srcc is not None:
            text = f"held-out SRCC {self.srcc:.2f}"
            if self.srcc_low is not None and self.srcc_high is not None:
                text += f" [{self.srcc_low:.2f}–{self.srcc_high:.2f}]"
            parts.append(text)
        return ", ".join(parts)

    def learned_text(self, now: dt.datetime | None = None) -> str:
        """"learned just now", "learned 12 min ago", "learned on 7 Dec at 14:02"."""
        if self.learned_at is None:
            return ""
        now = now or dt.datetime.now(dt.UTC)
        seconds = (now - self.learned_at).total_seconds()
        if seconds < 60:
            return "learned just now"
        if seconds < 3600:
            return f"learned {int(seconds // 60)} min ago"
        local = self.learned_at.astimezone()
        if seconds < 86_400 and local.date() == now.astimezone().date():
            return f"learned today at {local:%H:%M}"
        return f"learned on {local.day} {local:%b %Y} at {local:%H:%M}"


def read_personal_info(model_folder: Path, name: str = "") -> PersonalInfo:
    """The held-out metrics (``metrics.json``) and the install note of a personal model."""
    model_folder = Path(model_folder)

    def load(file: str) -> dict:
        try:
            value = json.loads((model_folder / file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    metrics = load("metrics.json").get("metrics") or {}
    note = load(INFO_FILE)
    metadata = load("critique_model.json")
    training = (metadata.get("extra") or {}).get("training") or {}

    def number(value, kind=float):
        return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else None

    learned = note.get("learned_at") or training.get("finished_at")
    try:
        learned_at = dt.datetime.fromisoformat(learned) if learned else None
    except (TypeError, ValueError):
        learned_at = None
    if learned_at is not None and learned_at.tzinfo is None:
        learned_at = learned_at.replace(tzinfo=dt.UTC)
    ratings_used = number(metrics.get("ratings_used"), int) or number(training.get("samples"),
                                                                       int)
    return PersonalInfo(name=name or metadata.get("name", model_folder.name),
                        ratings_used=ratings_used, held_out=number(metrics.get("n"), int),
                        srcc=number(metrics.get("srcc")), srcc_low=number(metrics.get("srcc_low")),
                        srcc_high=number(metrics.get("srcc_high")), learned_at=learned_at,
                        folder=note.get("folder"))
