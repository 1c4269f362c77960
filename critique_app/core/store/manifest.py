"""The manifest: every model the app knows, where it comes from, what it is.

``models/manifest.json`` is committed with the code (and bundled in the wheel);
the weights themselves are fetched on request into the per-user models folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from critique_app.core.util.errors import ModelError

TASKS = ("backbone", "score", "depth", "saliency", "critic", "critic-adapter", "text-lm",
         "text-embedding", "faces")
SOURCE_KINDS = ("pypi", "huggingface", "local", "url", "parts")
PART_KINDS = ("huggingface", "url")  # what a part of a "parts" model may come from
COMMIT = re.compile(r"[0-9a-f]{40}")  # a full git commit id: the only revision that cannot move
PART_FOLDER = re.compile(r"[a-z0-9][a-z0-9_-]*")
PREDICTS = ("distribution", "mean")


@dataclass(frozen=True)
class Part:
    """One part of a model made of parts: its folder inside the model's folder, and
    where it comes from (a Hugging Face repo, or one file at a URL)."""

    folder: str
    source: Source


@dataclass(frozen=True)
class Source:
    kind: str  # "pypi", "huggingface", "local", "url" or "parts"
    package: str | None = None  # pypi
    version: str | None = None  # pypi
    wheel_sha256: str | None = None  # pypi
    # pypi, for platform-specific wheels: fetch this one tag (e.g. "3.11" and
    # "manylinux_2_17_x86_64") on every OS and Python, so the wheel's hash is always the same
    wheel_python: str | None = None
    wheel_platform: str | None = None
    repo: str | None = None  # huggingface
    revision: str = "main"  # huggingface
    patterns: tuple[str, ...] = ()  # huggingface: which repo files to fetch
    path: str | None = None  # local
    url: str | None = None  # url: one file, checked against the entry's sha256 and size
    parts: tuple[Part, ...] = ()  # parts: each fetched into its own folder

    @property
    def pinned(self) -> bool:
        """Fetches the same bytes every time: a Hugging Face source pinned to one commit
        (a branch or tag can move), a URL with a commit id in its path, or parts that
        all are. (A URL file is checked against its SHA-256 either way.)"""
        if self.kind == "huggingface":
            return bool(COMMIT.fullmatch(self.revision))
        if self.kind == "url":
            return bool(self.url and any(COMMIT.fullmatch(p) for p in self.url.split("/")))
        if self.kind == "parts":
            return bool(self.parts) and all(part.source.pinned for part in self.parts)
        return False

    def describe(self) -> str:
        if self.kind == "pypi":
            return f"PyPI {self.package}=={self.version}"
        if self.kind == "huggingface":
            pin = "" if self.pinned else " (unpinned)"
            return f"Hugging Face {self.repo}@{self.revision}{pin}"
        if self.kind == "url":
            return f"URL {self.url}"
        if self.kind == "parts":
            return "; ".join(f"{part.folder}: {part.source.describe()}" for part in self.parts)
        return f"local folder {self.path}" if self.path else "local folder"


@dataclass(frozen=True)
class ModelFile:
    path: str  # inside the model's folder
    member: str | None = None  # path inside the wheel (pypi sources)
    sha256: str | None = None  # expected hash, where known
    size: int | None = None
    sha256_prefix: str | None = None  # where only the start of the hash is published


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
    measured: tuple[dict, ...] = ()  # measured critique / scoring times (benchmarks/)
    extra: dict = field(default_factory=dict)  # e.g. a score model's training record
    # What the model's card shows (core/store/card.py): predicts ("distribution" | "mean"),
    # scale, srcc, srcc_by, input, code_licence, weights_licence, caution, title.
    card: dict = field(default_factory=dict)
    licence_acceptance: str | None = None  # text the user must accept before a pull

    @property
    def title(self) -> str:
        """The name people know the model by (the card's title), else the store name."""
        return self.card.get("title") or self.name

    @property
    def download_bytes(self) -> int:
        """The bytes a pull fetches, from the sizes the manifest knows (small files whose
        size is not listed are left out, so this is a slight underestimate)."""
        return sum(f.size for f in self.files if f.size)

    def files_in(self, folder: str) -> tuple[ModelFile, ...]:
        """The entry's files inside one part's folder, with paths relative to it."""
        prefix = folder.rstrip("/") + "/"
        return tuple(ModelFile(**{**asdict(f), "path": f.path[len(prefix):]})
                     for f in self.files if f.path.startswith(prefix))

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
        source = source_from_dict(raw["source"])
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
            card=dict(raw.get("card", {})),
            licence_acceptance=raw.get("licence_acceptance"),
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
    if bool(source.wheel_python) != bool(source.wheel_platform):
        raise ModelError(f"{where}: PyPI model '{name}' pins a wheel with both wheel_python and "
                         "wheel_platform, or neither")
    if source.kind == "huggingface" and not source.repo:
        raise ModelError(f"{where}: Hugging Face model '{name}' needs a repo")
    if source.kind == "url":
        _check_url_files(source, files, f"{where}: URL model '{name}'")
    if source.kind == "parts":
        _check_parts(source, files, f"{where}: model '{name}' (made of parts)")
    predicts = entry.card.get("predicts")
    if predicts is not None and predicts not in PREDICTS:
        raise ModelError(f"{where}: model '{name}' has a card that predicts '{predicts}' "
                         f"(expected one of {', '.join(PREDICTS)})")
    return entry


def source_from_dict(raw: dict) -> Source:
    raw = dict(raw)
    raw["patterns"] = tuple(raw.get("patterns", ()))
    raw["parts"] = tuple(Part(folder=p["folder"], source=source_from_dict(p["source"]))
                         for p in raw.get("parts", ()))
    return Source(**raw)


def source_to_dict(source: Source) -> dict:
    """The manifest form of ``source`` (for install records), without unset fields."""
    raw = {"kind": source.kind}
    for key, value in asdict(source).items():
        if key in ("kind", "parts") or value in (None, (), []):
            continue
        if key == "revision" and source.kind != "huggingface":
            continue
        raw[key] = list(value) if isinstance(value, tuple) else value
    if source.parts:
        raw["parts"] = [{"folder": p.folder, "source": source_to_dict(p.source)}
                        for p in source.parts]
    return raw


def _check_url_files(source: Source, files: tuple[ModelFile, ...], what: str) -> None:
    """A URL source fetches exactly one file, whose hash and size the manifest gives."""
    if not source.url or not source.url.startswith(("https://", "http://")):
        raise ModelError(f"{what} needs an http(s) url")
    if len(files) != 1:
        raise ModelError(f"{what} needs exactly one file (its path, sha256 and size)")
    if not files[0].sha256 or files[0].size is None:
        raise ModelError(f"{what} needs the sha256 and size of its file: a file at a URL "
                         "is only installed when its hash is known")


def _check_parts(source: Source, files: tuple[ModelFile, ...], what: str) -> None:
    if not source.parts:
        raise ModelError(f"{what} lists no parts")
    folders = [part.folder for part in source.parts]
    if len(set(folders)) != len(folders):
        raise ModelError(f"{what} names a part folder twice")
    for part in source.parts:
        if not PART_FOLDER.fullmatch(part.folder):
            raise ModelError(f"{what} has a part folder '{part.folder}' that is not a plain "
                             "lower-case name")
        if part.source.kind not in PART_KINDS:
            raise ModelError(f"{what}: part '{part.folder}' comes from '{part.source.kind}'; "
                             f"a part comes from one of {', '.join(PART_KINDS)}")
        inside = tuple(f for f in files if f.path.startswith(part.folder + "/"))
        if part.source.kind == "huggingface" and not part.source.repo:
            raise ModelError(f"{what}: part '{part.folder}' needs a Hugging Face repo")
        if part.source.kind == "url":
            _check_url_files(part.source, inside, f"{what}: part '{part.folder}'")
    outside = [f.path for f in files if f.path.split("/")[0] not in folders]
    if outside:
        raise ModelError(f"{what} lists files outside its parts' folders: {', '.join(outside)}")
