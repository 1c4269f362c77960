"""Every dataset format by name, guessing the format from the path, and the validation report.

``load_dataset(path)`` is the one entry point the CLI and the training wizard use:
it works out the format (or takes the one named), reads the data with that
format's reader and returns a :class:`Dataset` holding the good rows and every
bad one. ``describe_validation`` turns it into the few lines a photographer reads
before training starts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from train.data.artemis import COLUMNS as ARTEMIS_COLUMNS
from train.data.artemis import read_artemis
from train.data.ava import FIELDS as AVA_FIELDS
from train.data.ava import read_ava
from train.data.generic import column_key, read_generic_csv, read_jsonl
from train.data.impressions import SECTION_ALIASES, read_impressions
from train.data.pccd import read_pccd
from train.data.records import DataError, Dataset
from train.data.xmp_ratings import read_xmp_folder


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    kind: str | None  # what it holds; None: either, decided by the columns
    read: Callable[..., Dataset]  # read(path, *, images=None, kind=None)
    unit: str = "line"  # what a RowError's number counts


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("ava", "AVA vote counts (AVA.txt)", "score", read_ava),
    Format("xmp", "star ratings and pick/reject flags in XMP sidecars", "score",
           read_xmp_folder, unit="photo"),
    Format("impressions", "Impressions critiques (CSV)", "critique", read_impressions),
    Format("artemis", "ArtEmis emotions (CSV)", "critique", read_artemis),
    Format("pccd", "PCCD critiques (JSON)", "critique", read_pccd, unit="entry"),
    Format("csv", "your own CSV", None, read_generic_csv),
    Format("jsonl", "your own JSON Lines", None, read_jsonl),
)}

_IMPRESSIONS_COLUMNS = {column for aliases in SECTION_ALIASES.values() for column in aliases[:1]}


def _head(path: Path, chars: int = 65536) -> str:
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as file:
            return file.read(chars)
    except OSError as error:
        raise DataError(f"cannot read the file ({error.strerror})", path=path) from None


def _csv_format(head: str) -> str:
    rows = csv.reader(io.StringIO(head, newline=""))
    try:
        header = next((row for row in rows if any(field.strip() for field in row)), [])
    except csv.Error:
        header = []
    columns = {column_key(name) for name in header}
    if set(ARTEMIS_COLUMNS) <= columns:
        return "artemis"
    if columns & _IMPRESSIONS_COLUMNS:
        return "impressions"
    return "csv"


def _looks_like_ava(head: str) -> bool:
    line = next((line for line in head.splitlines() if line.strip()), "")
    fields = line.split()
    return len(fields) == AVA_FIELDS and all(field.lstrip("-").isdigit() for field in fields)


def detect_format(path: Path) -> tuple[str, Path]:
    """(format name, the path to read): a folder holding ``AVA.txt`` reads that file."""
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", path=path)
    if path.is_dir():
        ava = next((p for p in sorted(path.iterdir()) if p.name.lower() == "ava.txt"), None)
        return ("ava", ava) if ava and ava.is_file() else ("xmp", path)
    head = _head(path)
    if not head.strip():
        raise DataError("the file is empty", path=path)
    suffix = path.suffix.lower()
    if path.name.lower() == "ava.txt" or (suffix in (".txt", "") and _looks_like_ava(head)):
        return "ava", path
    if suffix == ".jsonl":
        return "jsonl", path
    if suffix == ".json":
        return "pccd", path
    if suffix == ".csv":
        return _csv_format(head), path
    raise DataError(f"cannot tell the dataset format from this file; name one of: "
                    f"{', '.join(FORMATS)}", path=path)


def load_dataset(path: Path, format: str | None = None, *, images: Path | None = None,
                 kind: str | None = None) -> Dataset:
    """Read ``path`` in ``format`` (guessed when None). DataError if it cannot be read at all;
    bad rows are in ``Dataset.errors``."""
    if format is None:
        format, path = detect_format(path)
    elif format not in FORMATS:
        raise DataError(f"unknown dataset format {format!r}; known: {', '.join(FORMATS)}")
    elif not Path(path).exists():
        raise DataError("file or folder not found", path=path)
    if kind is not None and kind not in ("score", "critique"):
        raise DataError(f"kind must be 'score' or 'critique', not {kind!r}")
    return FORMATS[format].read(Path(path), images=Path(images) if images else None, kind=kind)


# --- the report -----------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("ry") else noun + "s"
    return f"{count} {noun if count == 1 else plural}"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _preview_line(row: dict, unit: str) -> str:
    where = f"{unit} {row['line']}" if row["line"] else ""
    name = Path(row["image"]).name
    if "mean" in row:
        details = f"{row['rating']}, mean {row['mean']:.2f}"
    else:
        extra = {k: v for k, v in row.items() if k not in ("line", "image") and v}
        details = "; ".join(f"{k}: {_short(v, 50)}" for k, v in list(extra.items())[:2])
    return "  " + "  ".join(part for part in (where, name, details) if part)


def describe_validation(dataset: Dataset, max_errors: int = 50) -> str:
    """A short report: what was read, counts, the first 5 rows and every error (capped)."""
    spec = FORMATS.get(dataset.format)
    unit = spec.unit if spec else "line"
    counts = dataset.counts()
    title = spec.title if spec else dataset.format
    lines = [f"{dataset.source}: {title}, {dataset.kind} data",
             f"{_n(counts['rows'], 'good row')} ({_n(counts['images'], 'image')}) of "
             f"{_n(counts['seen'], unit)} read; {_n(counts['errors'], 'error')}"
             + (f"; {_n(dataset.unrated, 'photo')} unrated (skipped)" if dataset.unrated else "")]
    for label, prefix in (("Personas", "persona:"), ("Emotions", "emotion:")):
        found = [f"{k[len(prefix):]} {v}" for k, v in counts.items() if k.startswith(prefix)]
        if found:
            lines.append(f"{label}: {', '.join(found)}")
    if dataset.rows:
        lines.append("First rows:")
        lines += [_preview_line(row, unit) for row in dataset.preview(5)]
    if dataset.errors:
        lines.append("Errors:")
        for error in dataset.errors[:max_errors]:
            where = f"{dataset.source.name} {unit} {error.line}: " if error.line else ""
            lines.append(f"  {where}{error.message}")
        if len(dataset.errors) > max_errors:
            lines.append(f"  … and {len(dataset.errors) - max_errors} more")
    elif not dataset.rows:
        lines.append("No usable rows.")
    return "\n".join(lines)

