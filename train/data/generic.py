"""Your own ratings or critiques as CSV or JSON Lines, and the file helpers all readers share.

One row per photo (or per photo and rater). ``image`` is a path, relative to the
file's folder (or to ``images=``) unless absolute. The other columns say what kind
of data it is:

* scores: ``score`` (1..10), ``stars`` (1..5), ``flag`` (pick / reject),
  ``distribution`` (ten numbers, a JSON list or separated by spaces or commas),
  ``p1``..``p10`` (probabilities) or ``votes1``..``votes10`` (vote counts);
  optional ``rater``. The first of these a row fills is used.
* critiques: any of ``description``, ``impression``, ``evaluation``, ``emotion``,
  ``suggestions`` (text); optional ``persona``, ``emotion_label`` (an ArtEmis
  category) and ``explanation`` (why that emotion; defaults to the ``emotion`` text).

Column names are matched ignoring case, spaces and hyphens. CSV needs a header
(line 1); line numbers are the file's own, so an editor's "go to line" finds the row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from critique_app.core.critic.sections import EMOTIONS
from train.data.records import SCORE_BINS, CritiqueRow, DataError, Dataset, RowError, ScoreRow
from train.data.score_targets import (
    distribution_from_flag,
    distribution_from_score,
    distribution_from_stars,
    distribution_from_votes,
)

SECTION_COLUMNS = ("description", "impression", "evaluation", "emotion", "suggestions")
P_COLUMNS = tuple(f"p{i}" for i in range(1, SCORE_BINS + 1))
VOTE_COLUMNS = tuple(f"votes{i}" for i in range(1, SCORE_BINS + 1))
SCORE_COLUMNS = ("score", "stars", "flag", "distribution", *P_COLUMNS, *VOTE_COLUMNS)
CRITIQUE_COLUMNS = (*SECTION_COLUMNS, "emotion_label", "explanation")


# --- shared file helpers --------------------------------------------------------------


def read_text(path: Path) -> str:
    """The whole file as text (UTF-8, a BOM allowed). DataError if missing, unreadable or empty."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    if not path.is_file():
        raise DataError("is a folder, not a file", path=path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise DataError(f"cannot read the file ({error.strerror})", path=path) from None
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text (byte {error.start}); save it as UTF-8",
                        path=path) from None
    if not text.strip():
        raise DataError("the file is empty", path=path)
    return text


def text_lines(text: str) -> list[str]:
    """Lines as an editor numbers them (``\\n``, ``\\r\\n`` or ``\\r``; nothing else)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def column_key(name: str) -> str:
    """``"Visual Arts-Experience "`` -> ``"visual_arts_experience"``."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def read_csv(path: Path, dataset: Dataset) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header (as :func:`column_key` names) and each record with its first line.

    Records with the wrong number of fields go to ``dataset.errors``; every record
    (good or bad) is counted in ``dataset.total_lines``. Blank lines are skipped.
    A record may span lines (quoted text with line breaks), so its number is the
    line it starts on.
    """
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header: list[str] = []
    try:
        while not any(field.strip() for field in header):  # blank lines before the header
            header = next(reader)
    except StopIteration:
        raise DataError("no header line with column names", path=path) from None
    except csv.Error as error:
        raise DataError(f"no readable header in line {reader.line_num} ({error})",
                        path=path) from None
    columns = [column_key(name) for name in header]
    records: list[tuple[int, dict[str, str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            dataset.total_lines += 1
            dataset.errors.append(RowError(start, f"unreadable CSV ({error}); reading stopped"))
            break
        line, start = start, reader.line_num + 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        dataset.total_lines += 1
        if len(fields) != len(columns):
            dataset.errors.append(RowError(line, f"expected {len(columns)} columns, found "
                                           f"{len(fields)} (text with a comma needs quotes)"))
            continue
        records.append((line, dict(zip(columns, fields, strict=True))))
    return columns, records


class ImageFinder:
    """Finds photos by relative path under a few candidate folders.

    Each folder is listed once (a stat per row is slow on network drives and
    AVA has 255,000 rows). Returned paths are absolute.
    """

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = [Path(os.path.abspath(folder)) for folder in folders]
        self._listings: dict[Path, set[str]] = {}

    def _names(self, folder: Path) -> set[str]:
        if folder not in self._listings:
            try:
                self._listings[folder] = {e.name for e in os.scandir(folder) if e.is_file()}
            except OSError:
                self._listings[folder] = set()
        return self._listings[folder]

    def find(self, relative: str, extensions: Sequence[str] = ("",)) -> Path | None:
        """The first ``<folder>/<relative><ext>`` that exists, or None."""
        parts = Path(relative)
        if parts.is_absolute() or ".." in parts.parts:
            return None
        for folder in self.folders:
            where = folder.joinpath(*parts.parts[:-1])
            names = self._names(where)
            for ext in extensions:
                if parts.name + ext in names:
                    return where / (parts.name + ext)
        return None


def resolve_image(value: str, base: Path) -> Path:
    """``value`` as an absolute path (relative to ``base``). ValueError if not a file."""
    value = value.strip()
    if not value:
        raise ValueError("no image given")
    path = Path(os.path.abspath(Path(base) / Path(value).expanduser()))
    if not path.is_file():
        raise ValueError(f"photo not found: {value}")
    return path


def text_value(record: Mapping[str, object], key: str) -> str:
    """A text field, stripped; "" when absent or empty."""
    value = record.get(key)
    return "" if value is None else str(value).strip()


def emotion_label(value: str) -> str:
    """An ArtEmis category, as :data:`EMOTIONS` spells it. ValueError if it is not one."""
    label = " ".join(value.strip().lower().replace("_", " ").split())
    if label not in EMOTIONS:
        raise ValueError(f"emotion {value!r} is not one of: {', '.join(EMOTIONS)}")
    return label


# --- rows -----------------------------------------------------------------------------


def infer_kind(columns: Iterable[str], kind: str | None, path: Path) -> str:
    """"score" or "critique", from the columns unless ``kind`` says. DataError if unclear."""
    columns = set(columns)
    if "image" not in columns:
        raise DataError("needs an 'image' column (the photo's path)", path=path)
    has_score = bool(columns & set(SCORE_COLUMNS))
    has_critique = bool(columns & set(CRITIQUE_COLUMNS))
    if kind is not None:
        if kind not in ("score", "critique"):
            raise DataError(f"kind must be 'score' or 'critique', not {kind!r}", path=path)
        if not (has_score if kind == "score" else has_critique):
            raise DataError(f"has no {kind} columns", path=path)
        return kind
    if has_score and has_critique:
        raise DataError("has both score and critique columns; choose one kind", path=path)
    if not (has_score or has_critique):
        raise DataError("has neither score columns (score, stars, distribution, ...) nor "
                        "critique columns (description, impression, ...)", path=path)
    return "score" if has_score else "critique"


def _numbers(value: object, what: str) -> list[float]:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        except ValueError:
            raise ValueError(f"{what} is not a list of numbers") from None
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list of numbers")
    try:
        numbers = [float(v) for v in value if not isinstance(v, bool)]
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a list of numbers") from None
    if len(numbers) != len(value):
        raise ValueError(f"{what} is not a list of numbers")
    if len(numbers) != SCORE_BINS:
        raise ValueError(f"{what} needs {SCORE_BINS} numbers, found {len(numbers)}")
    return numbers


def _number(value: object, what: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{what} is empty")
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a number")
    return number


def _normalised(values: list[float], what: str) -> tuple[float, ...]:
    if any(v < 0 for v in values):
        raise ValueError(f"{what} has a negative number")
    if not any(values):
        raise ValueError(f"{what} is all zeros")
    return distribution_from_votes(values)


def _filled(record: Mapping[str, object], key: str) -> bool:
    value = record.get(key)
    return value is not None and not (isinstance(value, str) and not value.strip())


def score_distribution(record: Mapping[str, object]) -> tuple[tuple[float, ...], str]:
    """The 10-bin distribution and a short rating text. ValueError if the row has none."""
    if _filled(record, "distribution"):
        values = _numbers(record["distribution"], "distribution")
        return _normalised(values, "distribution"), "distribution"
    if any(_filled(record, c) for c in P_COLUMNS):
        values = [_number(record.get(c), c) for c in P_COLUMNS]
        return _normalised(values, "p1..p10"), "distribution"
    if any(_filled(record, c) for c in VOTE_COLUMNS):
        values = [_number(record.get(c), c) for c in VOTE_COLUMNS]
        if not all(v == int(v) for v in values):
            raise ValueError("votes must be whole numbers")
        return _normalised(values, "votes1..votes10"), f"{int(sum(values))} votes"
    if _filled(record, "score"):
        score = _number(record["score"], "score")
        if not 1 <= score <= SCORE_BINS:
            raise ValueError(f"score {score:g} is outside 1-{SCORE_BINS}")
        return distribution_from_score(score), f"score {score:g}"
    if _filled(record, "stars"):
        stars = _number(record["stars"], "stars")
        if stars != int(stars) or not 1 <= stars <= 5:
            raise ValueError(f"stars must be a whole number from 1 to 5, not {record['stars']}")
        return distribution_from_stars(int(stars)), f"{int(stars)} star" + "s" * (stars > 1)
    if _filled(record, "flag"):
        flag = text_value(record, "flag").lower()
        if flag not in ("pick", "reject"):
            raise ValueError(f"flag must be 'pick' or 'reject', not {record['flag']!r}")
        return distribution_from_flag(flag), flag
    raise ValueError("no rating in this row (score, stars, flag, distribution, p1..p10 or "
                     "votes1..votes10)")


def score_row(line: int, record: Mapping[str, object], base: Path) -> ScoreRow:
    image = resolve_image(text_value(record, "image"), base)
    distribution, rating = score_distribution(record)
    return ScoreRow(image, distribution, line, rating, text_value(record, "rater") or None)


def critique_row(line: int, record: Mapping[str, object], base: Path) -> CritiqueRow:
    image = resolve_image(text_value(record, "image"), base)
    sections = {k: text_value(record, k) for k in SECTION_COLUMNS if text_value(record, k)}
    label = text_value(record, "emotion_label")
    emotion = emotion_label(label) if label else None
    explanation = text_value(record, "explanation")
    if not explanation and emotion:
        explanation = sections.get("emotion", "")
    if not sections and emotion is None:
        raise ValueError("no critique text in this row")
    return CritiqueRow(image, sections, line, text_value(record, "persona") or None, emotion,
                       explanation or None)


def _build(dataset: Dataset, records: Iterable[tuple[int, Mapping]], base: Path) -> Dataset:
    make = score_row if dataset.kind == "score" else critique_row
    for line, record in records:
        try:
            dataset.rows.append(make(line, record, base))
        except ValueError as error:
            dataset.errors.append(RowError(line, str(error)))
    dataset.errors.sort(key=lambda e: e.line)  # CSV shape errors came first
    return dataset


# --- readers --------------------------------------------------------------------------


def read_generic_csv(path: Path, *, images: Path | None = None,
                     kind: str | None = None) -> Dataset:
    """A CSV with a header; see the module docstring for its columns."""
    path = Path(path)
    dataset = Dataset(kind or "score", "csv", path)
    columns, records = read_csv(path, dataset)
    dataset.kind = infer_kind(columns, kind, path)
    return _build(dataset, records, Path(images) if images else path.parent)


def read_jsonl(path: Path, *, images: Path | None = None, kind: str | None = None) -> Dataset:
    """JSON Lines: one object per line with the same keys as the CSV columns."""
    path = Path(path)
    dataset = Dataset(kind or "score", "jsonl", path)
    records: list[tuple[int, dict]] = []
    for number, line in enumerate(text_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        dataset.total_lines += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            dataset.errors.append(RowError(number, f"not valid JSON ({error.msg})"))
            continue
        if not isinstance(value, dict):
            dataset.errors.append(RowError(number, "expected a JSON object {...}"))
            continue
        records.append((number, {column_key(str(k)): v for k, v in value.items()}))
    if not records and dataset.errors:
        dataset.kind = kind or "score"  # nothing to infer from; the errors say why
        return dataset
    dataset.kind = infer_kind({k for _, r in records for k in r}, kind, path)
    return _build(dataset, records, Path(images) if images else path.parent)
