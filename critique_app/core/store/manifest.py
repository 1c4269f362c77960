"""The manifest: every model the app knows, where it comes from, what it is.

``models/manifest.json`` is committed with the code (and bundled in the wheel);
the weights themselves are fetched on request into the per-user models folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.util.errors import ModelError

TASKS = ("backbone", "score", "depth", "saliency", "critic", "critic-adapter", "text-lm",
         "text-embedding")
SOURCE_KINDS = ("pypi", "huggingface", "local")
COMMIT = re.compile(r"[0-9a-f]{40}")  # a full git commit id: the only revision that cannot move


@dataclass(frozen=True)
class Source:
    kind: str  # "pypi", "huggingface" or "local"
    package: str | None = None  # pypi
    version: str | None = None  # pypi
    wheel_sha256: str | None = None  # pypi
    repo: str | None = None  # huggingface
    revision: str = "main"  # huggingface
    patterns: tuple[str, ...] = ()  # huggingface: which repo files to fetch
    path: str | None = None  # local

    @property
    def pinned(self) -> bool:
        """A Hugging Face source pinned to one commit (a branch or tag can move)."""
        return self.kind == "huggingface" and bool(COMMIT.fullmatch(self.revision))

    def describe(self) -> str:
        if self.kind == "pypi":
            return f"PyPI {self.package}=={self.version}"
        if self.kind == "huggingface":
            pin = "" if self.pinned else " (unpinned)"
            return f"Hugging Face {self.repo}@{self.revision}{pin}"
        return f"local folder {self.path}" if self.path else "local folder"


@dataclass(frozen=True)
class ModelFile:
    path: str  # inside the model's folder
    member: str | None = None  # path inside the wheel (pypi sources)
    sha256: str | None = None  # expected hash, where known
    size: int | None = None


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    architecture: str
    source: Source
    files: tuple[ModelFile, ...]
    licence: str
    trained_on: str
    description: str = ""
    homepage: str | None = None
    params: int | None = None  # parameter count, where known
    fp16_gb: float | None = None  # critics: weights in fp16, GB (what a GPU must hold)
    provenance: str = ""  # where the pin and the hashes come from, or why there are none
    measured: tuple[dict, ...] = ()  # critics: measured critique times (benchmarks/)
    extra: dict = field(default_factory=dict)  # e.g. a score model's training record

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "task": self.task,
            "architecture": self.architecture,
            "description": self.description,
            "source": self.source.describe(),
            "licence": self.licence,
            "trained_on": self.trained_on,
            "homepage": self.homepage,
        }


def default_manifest_path() -> Path:
    """``models/manifest.json``: bundled in the wheel, or the source tree."""
    package_root = Path(__file__).resolve().parents[2]
    bundled = package_root / "_models" / "manifest.json"
    return bundled if bundled.is_file() else package_root.parent / "models" / "manifest.json"


def load_manifest(path: Path | None = None) -> dict[str, ModelEntry]:
    path = path or default_manifest_path()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"the model manifest {path} could not be read: {error}") from None
    if data.get("format") != 1:
        raise ModelError(f"the model manifest {path} has an unknown format {data.get('format')!r}")
    entries: dict[str, ModelEntry] = {}
    for raw in data.get("models", []):
        entry = entry_from_dict(raw, where=str(path))
        if entry.name in entries:
            raise ModelError(f"the model manifest {path} names '{entry.name}' twice")
        entries[entry.name] = entry
    return entries


def entry_from_dict(raw: dict, *, where: str) -> ModelEntry:
    """One manifest entry, checked: a malformed entry names itself and what is wrong."""
    name = raw.get("name") or "?"
    try:
        source_raw = dict(raw["source"])
        source_raw["patterns"] = tuple(source_raw.get("patterns", ()))
        source = Source(**source_raw)
        files = tuple(ModelFile(**f) for f in raw.get("files", []))
        entry = ModelEntry(
            name=raw["name"],
            task=raw["task"],
            architecture=raw["architecture"],
            source=source,
            files=files,
            licence=raw["licence"],
            trained_on=raw["trained_on"],
            description=raw.get("description", ""),
            homepage=raw.get("homepage"),
            params=raw.get("params"),
            fp16_gb=raw.get("fp16_gb"),
            provenance=raw.get("provenance", ""),
            measured=tuple(dict(m) for m in raw.get("measured", ())),
            extra=dict(raw.get("extra", {})),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{where}: model entry '{name}' is malformed ({error})") from None
    if entry.task not in TASKS:
        raise ModelError(f"{where}: model '{name}' has an unknown task '{entry.task}'")
    if source.kind not in SOURCE_KINDS:
        raise ModelError(f"{where}: model '{name}' has an unknown source kind '{source.kind}'")
    if source.kind == "pypi" and not (source.package and source.version and files
                                      and all(f.member for f in files)):
        raise ModelError(f"{where}: PyPI model '{name}' needs package, version and file members")
    if source.kind == "huggingface" and not source.repo:
        raise ModelError(f"{where}: Hugging Face model '{name}' needs a repo")
    return entry
