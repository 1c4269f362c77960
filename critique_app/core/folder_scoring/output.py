"""Writing a folder's results as CSV or JSON, atomically (a crash never leaves half a file)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from critique_app.core.folder_scoring.columns import COLUMNS
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically


def write_results(rows: list[dict], target: Path, *, columns=COLUMNS,
                  what: str = "results") -> Path:
    """``rows`` to ``target`` (.csv or .json) with ``columns`` in order; ``what`` names
    them in the error for another suffix."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        text = _csv(rows, columns)
    elif suffix == ".json":
        text = json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=1,
                          ensure_ascii=False) + "\n"
    else:
        raise CritiqueError(f"{target}: {what} can be written as .csv or .json")
    return write_text_atomically(target, text)


def _csv(rows: list[dict], columns) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return buffer.getvalue()
