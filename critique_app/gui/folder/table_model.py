"""The folder's results as a Qt table: one row per photo, sortable by raw values, filterable.

:class:`FolderResultsModel` holds the core's row dicts (see
:mod:`critique_app.core.folder_scoring.columns`); :class:`FolderFilterProxy` sorts them
numerically (empty cells last) and filters by a minimum score and by status. The view
(:mod:`critique_app.gui.folder.view`) only shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from critique_app.core.folder_scoring.columns import COLUMNS
from critique_app.core.library.ratings import PhotoRating
from critique_app.gui.rating.controls import rating_tip

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw value (number, text or None) to sort by
ERROR_TINT = QColor(214, 69, 65, 46)
ERROR_TEXT = QColor(190, 45, 40)
AnyIndex = QModelIndex | QPersistentModelIndex


def _number(value, digits: int, suffix: str = "", signed: bool = False) -> str:
    if value is None:
        return "—"
    if round(value, digits) == 0:
        value, signed = 0.0, False  # "0.0", not "-0.0" or "+0.0"
    return f"{value:{'+' if signed else ''}.{digits}f}{suffix}"


def _sharpness(row: dict):
    subject = row.get("subject_sharpness")
    return subject if subject is not None else row.get("sharpness")


def _sharpness_tip(row: dict) -> str:
    parts = [f"{name} {row[key]:.2f}" for name, key in
             (("subject", "subject_sharpness"), ("global", "sharpness"),
              ("background", "background_sharpness")) if row.get(key) is not None]
    return "sharpness (0-1, 1 = crisp): " + ", ".join(parts) if parts else ""


def _status_text(row: dict) -> str:
    return "ok" if row.get("status") == "ok" else f"error: {row.get('error') or 'unknown'}"


@dataclass(frozen=True)
class _Column:
    title: str
    value: Callable[[dict], object]  # the sort value
    text: Callable[[dict], str]
    tip: str  # header tooltip
    numeric: bool = True


_COLUMNS = [
    _Column("photo", lambda r: Path(r["path"]).name.lower(), lambda r: Path(r["path"]).name,
            "the photo file", numeric=False),
    _Column("score", lambda r: r.get("score_mean"), lambda r: _number(r.get("score_mean"), 2),
            COLUMNS["score_mean"]),
    _Column("±", lambda r: r.get("score_std"), lambda r: _number(r.get("score_std"), 2),
            COLUMNS["score_std"]),
    _Column("percentile", lambda r: r.get("score_percentile"),
            lambda r: _number(r.get("score_percentile"), 0), COLUMNS["score_percentile"]),
    _Column("sharpness", _sharpness, lambda r: _number(_sharpness(r), 2),
            "sharpness of the subject (of the whole frame when no subject was found), 0-1"),
    _Column("blown", lambda r: r.get("highlights_clipped_pct"),
            lambda r: _number(r.get("highlights_clipped_pct"), 1, " %"),
            COLUMNS["highlights_clipped_pct"]),
    _Column("crushed", lambda r: r.get("shadows_clipped_pct"),
            lambda r: _number(r.get("shadows_clipped_pct"), 1, " %"),
            COLUMNS["shadows_clipped_pct"]),
    _Column("tilt", lambda r: r.get("tilt_deg"),
            lambda r: _number(r.get("tilt_deg"), 1, "°", signed=True), COLUMNS["tilt_deg"]),
    # The photographer's rating (from the ratings controller, not the scoring rows).
    _Column("rating", lambda r: _rating_value(r.get("_rating")),
            lambda r: r["_rating"].badge() if r.get("_rating") else ("?" if r.get("_rating_problem")
                                                                     else ""),
            "your rating: stars, ⚑ picked, ✕ rejected; its tooltip says where it was read "
            "(a sidecar, the photo's own XMP, or set in Critique)", numeric=False),
    _Column("status", lambda r: r.get("status"), _status_text, COLUMNS["status"],
            numeric=False),
]
PHOTO_COLUMN, SCORE_COLUMN, STD_COLUMN, PERCENTILE_COLUMN, SHARPNESS_COLUMN = range(5)
RATING_COLUMN = len(_COLUMNS) - 2
STATUS_COLUMN = len(_COLUMNS) - 1


def _rating_value(rating: PhotoRating | None) -> float | None:
    """Sorts rejects first, then stars, a pick half a star up; unrated last."""
    if rating is None or not rating.rated:
        return None
    return -1.0 if rating.rejected else rating.stars + (0.5 if rating.picked else 0.0)


class FolderResultsModel(QAbstractTableModel):
    """The rows of a folder's results (the core's row dicts), one per photo."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[dict] = []
        self._ratings: dict[str, tuple[PhotoRating | None, str | None]] = {}

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = [self._with_rating(dict(row)) for row in rows]
        self.endResetModel()

    def set_rating(self, path: Path, rating: PhotoRating | None, problem: str | None = None,
                   ) -> None:
        """Show ``path``'s rating (None: unreadable, ``problem`` says why) in its row."""
        key = str(path)
        self._ratings[key] = (rating, problem)
        for number, row in enumerate(self._rows):
            if row.get("path") == key:
                self._with_rating(row)
                index = self.index(number, RATING_COLUMN)
                self.dataChanged.emit(index, index)

    def _with_rating(self, row: dict) -> dict:
        rating, problem = self._ratings.get(str(row.get("path")), (None, None))
        row["_rating"], row["_rating_problem"] = rating, problem
        return row

    def rows(self) -> list[dict]:
        return [{k: v for k, v in row.items() if not k.startswith("_rating")} for row in self._rows]

    def row_at(self, row: int) -> dict:
        return self._rows[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        column = _COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = _COLUMNS[index.column()]
        failed = row.get("status") != "ok"
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == SORT_ROLE:
            return column.value(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, index.column(), failed)
        if role == Qt.ItemDataRole.BackgroundRole and failed:
            return QBrush(ERROR_TINT)
        if role == Qt.ItemDataRole.ForegroundRole and failed and index.column() == STATUS_COLUMN:
            return QBrush(ERROR_TEXT)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _tooltip(row: dict, column: int, failed: bool) -> str | None:
        if column == RATING_COLUMN:
            return rating_tip(row.get("_rating"), row.get("_rating_problem")) or None
        if failed:
            return f"{row['path']}\n{row.get('error') or 'could not be read'}"
        if column == PHOTO_COLUMN:
            return row["path"]
        if column == SHARPNESS_COLUMN:
            return _sharpness_tip(row) or None
        if column in (SCORE_COLUMN, STD_COLUMN) and row.get("score_mean") is not None:
            text = f"predicted mean score {row['score_mean']:.2f}"
            if row.get("score_std") is None:  # a model that predicts the mean alone
                return f"{text} (mean only: the model predicts no distribution)"
            return f"{text} ± {row['score_std']:.2f}"
        return None


class FolderFilterProxy(QSortFilterProxyModel):
    """Sorts by the raw values (numbers numerically, empty cells last in either order) and
    filters by a minimum score and by status."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._minimum = 0.0
        self._status = "all"

    def set_minimum_score(self, minimum: float) -> None:
        self.beginFilterChange()
        self._minimum = minimum
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str) -> None:
        """``"all"``, ``"ok"`` or ``"error"``."""
        self.beginFilterChange()
        self._status = status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        row = self.sourceModel().row_at(source_row)
        if self._status != "all" and (row.get("status") == "ok") != (self._status == "ok"):
            return False
        if self._minimum > 0:
            score = row.get("score_mean")
            return score is not None and score >= self._minimum
        return True

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            # Qt flips the comparison for descending order; flip back so None stays last.
            ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
            return (a is not None and b is None) == ascending
        if a == b:  # stable and deterministic: fall back to the file name
            a, b = (i.siblingAtColumn(PHOTO_COLUMN).data(SORT_ROLE) for i in (left, right))
        return a < b
