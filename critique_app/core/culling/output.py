"""Writing a cull's rows as CSV or JSON, atomically (a crash never leaves half a file)."""

from __future__ import annotations

from pathlib import Path

from critique_app.core.culling.columns import COLUMNS
from critique_app.core.folder_scoring.output import write_results


def write_cull_results(rows: list[dict], target: Path) -> Path:
    """``rows`` (:func:`~critique_app.core.culling.cull.cull_rows`) to ``target``: .csv or .json."""
    return write_results(rows, target, columns=COLUMNS, what="a cull")
