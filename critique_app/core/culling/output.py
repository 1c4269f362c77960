"""Writing a cull's rows as CSV or JSON, atomically (a crash never leaves half a file)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from critique_app.core.culling.columns import COLUMNS
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically


def write_cull_results(rows: list[dict], target: Path) -> Path:
    """``rows`` (:func:`~critique_app.core.culling.cull.cull_rows`) to ``target``: .csv or .json."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in COLUMNS})
        text = buffer.getvalue()
    elif suffix == ".json":
        text = json.dumps([{c: row.get(c) for c in COLUMNS} for row in rows], indent=1,
                          ensure_ascii=False) + "\n"
    else:
        raise CritiqueError(f"{target}: a cull can be written as .csv or .json")
    return write_text_atomically(target, text)
