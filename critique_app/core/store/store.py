"""The per-user model store: what is installed, pulling, importing, verifying.

Layout: ``<models>/<name>/`` holds a model's files plus ``critique_install.json``
(where it came from, the commit a Hub model was fetched at, when, and the SHA-256
of every file as installed), so ``verify`` can tell a damaged or edited model from
a good one. A record that cannot be read is a visible state ("damaged install
record"), not a silent "not installed". Installs are
staged in a hidden sibling folder and moved into place in one rename, so an
interrupted pull never leaves a half-installed model behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from critique_app.core.store import sources
from critique_app.core.store.hashing import sha256_file
from critique_app.core.store.manifest import (
    ModelEntry,
    Source,
    entry_from_dict,
    load_manifest,
    source_to_dict,
)
from critique_app.core.util.errors import ModelError, check_cancelled
from critique_app.core.util.paths import models_dir

RECORD = "critique_install.json"
LOCAL_METADATA = "critique_model.json"  # written by train/ beside the weights


@dataclass
class ModelStatus:
    entry: ModelEntry
    installed: bool
    path: Path | None
    size_bytes: int = 0
    source_used: str | None = None
    revision: str | None = None  # the commit a Hub model was installed from
    damaged: str | None = None  # why its install record cannot be read


class DamagedRecord(ModelError):
    """A model folder whose install record is missing parts or is not readable JSON."""


ACCEPT_FLAG = "--accept-licence"


class LicenceNotAccepted(ModelError):
    """A model whose licence must be accepted before it is pulled, pulled without that.

    ``licence_text`` is what to show the user; ``command`` the exact command that
    accepts it."""

    def __init__(self, entry: ModelEntry) -> None:
        self.licence_text = entry.licence_acceptance or entry.licence
        self.command = f"critique models pull {entry.name} {ACCEPT_FLAG}"
        super().__init__(f"'{entry.name}' is offered under {entry.licence}, which you must "
                         f"accept before it is pulled; nothing was downloaded. To accept it, "
                         f"run: {self.command}")


@dataclass
class Verification:
    name: str
    ok: bool
    problems: list[str]


class ModelStore:
    def __init__(self, root: Path | None = None, manifest: dict[str, ModelEntry] | None = None):
        self.root = Path(root) if root else models_dir()
        self.manifest = load_manifest() if manifest is None else manifest

    # -- what is there -------------------------------------------------------
    def folder(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ModelError(f"'{name}' is not a valid model name")
        return self.root / name

    def record(self, name: str) -> dict | None:
        """The install record; None when not installed. Raises :class:`DamagedRecord`
        when the folder has a record that cannot be read."""
        path = self.folder(name) / RECORD
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            why = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DamagedRecord(f"damaged install record: {why}", path=path) from None
        files = record.get("files") if isinstance(record, dict) else None
        if not isinstance(files, dict) or not all(
                isinstance(f, dict) and {"sha256", "size"} <= set(f) for f in files.values()):
            raise DamagedRecord("damaged install record: it does not list the installed files "
                                "with their hashes", path=path)
        return record

    def damage(self, name: str) -> str | None:
        """Why ``name``'s install record cannot be read, or None when it can (or is absent)."""
        try:
            self.record(name)
        except DamagedRecord as error:
            return f"{error.args[0]} ({self.folder(name) / RECORD})"
        return None

    def _record_or_none(self, name: str) -> dict | None:
        try:
            return self.record(name)
        except DamagedRecord:
            return None

    def entry(self, name: str) -> ModelEntry:
        """The manifest entry, or the entry an imported model was installed with."""
        if name in self.manifest:
            return self.manifest[name]
        record = self._record_or_none(name)
        if record and "entry" in record:
            return entry_from_dict(record["entry"], where=str(self.folder(name)))
        known = ", ".join(sorted(self.manifest)) or "none"
        raise ModelError(f"no model named '{name}' (known: {known})")

    def path(self, name: str) -> Path | None:
        """The installed folder of ``name``, or None when it is not installed (or its
        install record is damaged: such a model is not used)."""
        return self.folder(name) if self._record_or_none(name) is not None else None

    def require(self, name: str) -> Path:
        path = self.path(name)
        if path is None:
            damage = self.damage(name)
            if damage:
                again = f"run: critique models pull {name}" if name in self.manifest else \
                    "import it again"
                raise ModelError(f"the model '{name}' has a {damage}; {again}")
            self.entry(name)  # an unknown name says so first
            raise ModelError(f"the model '{name}' is not installed; run: critique models pull "
                             f"{name}")
        return path

    def installed_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / RECORD).is_file())

    def installed_for_task(self, task: str) -> list[str]:
        return [n for n in self.installed_names() if self._task_of(n) == task]

    def _task_of(self, name: str) -> str | None:
        try:
            return self.entry(name).task
        except ModelError:
            return None

    def statuses(self) -> list[ModelStatus]:
        names = list(self.manifest) + [n for n in self.installed_names() if n not in self.manifest]
        result = []
        for name in names:
            damage = self.damage(name)
            try:
                entry = self.entry(name)
            except ModelError:
                if not damage:
                    continue
                entry = _unknown_entry(name)  # an imported model whose record is unreadable
            record = None if damage else self.record(name)
            size = sum(f["size"] for f in record["files"].values()) if record else 0
            result.append(ModelStatus(entry, record is not None,
                                      self.folder(name) if record else None, size,
                                      record.get("source") if record else None,
                                      record.get("revision") if record else None, damage))
        return result

    # -- changing it -----------------------------------------------------------
    def pull(self, name: str, report: Callable[[str], None] = print, *,
             show_progress: bool = True, accept_licence: bool = False, cancel=None,
             progress: Callable[[int, int], None] | None = None) -> Path:
        """Fetch ``name`` from its source, check every file, install it in one rename.

        A model whose manifest entry has ``licence_acceptance`` is refused with
        :class:`LicenceNotAccepted` unless ``accept_licence``. ``cancel`` (a
        threading.Event) is checked between chunks and raises :class:`Cancelled`;
        ``progress(done_bytes, total_bytes)`` follows the download. Whatever goes
        wrong, nothing is installed and a model already installed stays as it was.
        """
        entry = self.entry(name)
        if entry.licence_acceptance and not accept_licence:
            raise LicenceNotAccepted(entry)
        check_cancelled(cancel)
        staging = self._staging(name)
        try:
            facts = sources.fetch(entry, staging, report, show_progress=show_progress,
                                  cancel=cancel, progress=progress)
            check_cancelled(cancel)
            if entry.licence_acceptance:
                facts["licence_accepted"] = {"licence": entry.licence,
                                             "text": entry.licence_acceptance,
                                             "at": _now()}
            return self._install(entry, staging, entry.source.describe(), facts)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def import_dir(self, folder: Path, name: str | None = None,
                   report: Callable[[str], None] = print) -> Path:
        """Copy a model folder (e.g. one train/ wrote) into the store."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError(f"{folder} is not a folder")
        metadata_path = folder / LOCAL_METADATA
        if not metadata_path.is_file():
            raise ModelError(f"{folder} has no {LOCAL_METADATA}: it does not look like a model "
                             "folder written by Critique's trainer")
        try:
            metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{metadata_path} could not be read: {error}") from None
        raw = dict(metadata)
        raw["name"] = name or raw.get("name")
        raw["source"] = {"kind": "local", "path": str(folder.resolve())}
        raw["files"] = [{"path": str(p.relative_to(folder))} for p in _files_in(folder)]
        entry = entry_from_dict(raw, where=str(metadata_path))
        if entry.name in self.manifest:
            raise ModelError(f"'{entry.name}' is a name from the manifest; import under another "
                             "name with --name")
        staging = self._staging(entry.name)
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            (staging / RECORD).unlink(missing_ok=True)
            report(f"importing {entry.name} ({entry.task}) from {folder}")
            return self._install(entry, staging, entry.source.describe(), {}, keep_entry=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove(self, name: str) -> Path:
        path = self.path(name)
        if path is None and self.damage(name):
            path = self.folder(name)  # a damaged install can still be removed
        if path is None:
            self.entry(name)
            raise ModelError(f"the model '{name}' is not installed")
        trash = self.root / f".removing-{name}"
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(path, trash)  # one rename: the model is gone at once, even if rmtree stops
        shutil.rmtree(trash, ignore_errors=True)
        return path

    def verify(self, name: str | None = None) -> list[Verification]:
        names = [name] if name else self.installed_names()
        return [self._verify_one(model) for model in names]

    def _verify_one(self, name: str) -> Verification:
        damage = self.damage(name)
        if damage:
            return Verification(name, False, [damage])
        record = self.record(name)
        if record is None:
            self.entry(name)
            return Verification(name, False, ["not installed"])
        folder = self.folder(name)
        entry = self.entry(name)
        problems = []
        expected = {f.path: f for f in entry.files}
        for rel, facts in record["files"].items():
            path = folder / rel
            if not path.is_file():
                problems.append(f"{rel} is missing")
                continue
            digest = sha256_file(path)
            if digest != facts["sha256"]:
                problems.append(f"{rel} has changed since it was installed")
            elif rel in expected and not _matches(expected[rel], digest):
                problems.append(f"{rel} does not match the manifest's hash")
        for rel in sorted(set(expected) - set(record["files"])):
            problems.append(f"{rel} is not installed (the manifest lists it)")
        problems += _moved_pins(entry.source, record)
        for part in entry.source.parts:
            problems += _moved_pins(part.source, record.get("parts", {}).get(part.folder, {}),
                                    f"{part.folder}: ")
        return Verification(name, not problems, problems)

    # -- internals ---------------------------------------------------------------
    def _staging(self, name: str) -> Path:
        staging = self.root / f".partial-{self.folder(name).name}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def _install(self, entry: ModelEntry, staging: Path, source: str, facts: dict, *,
                 keep_entry: bool = False) -> Path:
        """Hash every fetched file, check them against the manifest, then move the folder
        into place in one rename. A mismatch raises before anything is installed."""
        for file in entry.files:
            if not (staging / file.path).is_file():
                raise ModelError(f"'{entry.name}' is incomplete: {file.path} was not fetched; "
                                 "nothing was installed")
        expected = {f.path: f for f in entry.files}
        files = {}
        for path in _files_in(staging):
            rel = path.relative_to(staging).as_posix()
            digest, size = sha256_file(path), path.stat().st_size
            want = expected.get(rel)
            wrong_size = want is not None and want.size is not None and size != want.size
            if want is not None and (wrong_size or not _matches(want, digest)):
                what = "hash" if want.sha256 or want.sha256_prefix else "size"
                sizes = f"{size} bytes, expected {want.size}" if wrong_size else f"{size} bytes"
                raise ModelError(f"{rel} of '{entry.name}' does not match the manifest's {what} "
                                 f"(got sha256 {digest[:12]}…, {sizes}); nothing was "
                                 "installed")
            files[rel] = {"sha256": digest, "size": size}
        record = {
            "name": entry.name,
            "source": source,
            **facts,
            "installed_at": _now(),
            "files": files,
        }
        if keep_entry:
            record["entry"] = _entry_to_raw(entry)
        (staging / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        target = self.folder(entry.name)
        old = self.root / f".replacing-{entry.name}"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
        return target


def _unknown_entry(name: str) -> ModelEntry:
    return ModelEntry(name=name, task="unknown", architecture="unknown", source=Source("local"),
                      files=(), licence="unknown", trained_on="unknown (install record damaged)")


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RECORD)


def _entry_to_raw(entry: ModelEntry) -> dict:
    raw = asdict(entry)
    raw["source"] = source_to_dict(entry.source)
    raw["measured"] = list(entry.measured)
    return raw


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _matches(file, digest: str) -> bool:
    """``digest`` agrees with what the manifest knows of ``file``'s hash (all or its start)."""
    if file.sha256 and digest != file.sha256:
        return False
    return not (file.sha256_prefix and not digest.startswith(file.sha256_prefix.lower()))


def _moved_pins(source: Source, facts: dict, where: str = "") -> list[str]:
    """A Hub source installed from another commit than the manifest now pins."""
    revision = facts.get("revision")
    if source.kind == "huggingface" and source.pinned and revision and \
            revision != source.revision:
        return [f"{where}installed from commit {revision[:12]}, the manifest now pins "
                f"{source.revision[:12]}"]
    return []
