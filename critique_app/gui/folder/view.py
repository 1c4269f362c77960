"""Score a whole folder: progress, a sortable results table, CSV export and XMP ratings.

The GUI twin of ``critique score FOLDER``: the same core calls
(:func:`~critique_app.core.folder_scoring.folder.score_folder`, then
:func:`~critique_app.core.folder_scoring.folder.write_star_ratings`), run through the
:class:`~critique_app.gui.bridge.Bridge` so the UI never waits on a photo. The table's
model lives in :mod:`critique_app.gui.folder.table_model`.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.util.errors import CritiqueError
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.folder.photo_count import count_photos
from critique_app.gui.folder.table_model import (
    ERROR_TEXT,
    PHOTO_COLUMN,
    FolderFilterProxy,
    FolderResultsModel,
)


class FolderView(QWidget):
    """Score a folder and browse its results. ``set_folder`` first, then ``score()``."""

    openPhoto = Signal(Path)  # a row was double-clicked
    runningChanged = Signal(bool)  # scoring or writing ratings started / ended
    scoreProgress = Signal(int, int)  # (done, total) while scoring
    scoringFinished = Signal(object)  # the core FolderScoringResult (also a cancelled one)

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.jobs = 2  # decoding threads, like the CLI's default
        self.folder: Path | None = None
        self.recursive = False
        self.last_result = None  # the last FolderScoringResult, None before a run ends
        self._task: Task | None = None
        self._photo_count = 0
        self._started = 0.0
        self._first_done: int | None = None

        self.model = FolderResultsModel(self)
        self.proxy = FolderFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.folder_label = QLabel("Choose a folder to score.")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score_button = QPushButton("Score folder")
        self.score_button.setDefault(True)
        self.score_button.clicked.connect(self.score)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.score_button)
        top.addWidget(self.cancel_button)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress_label = QLabel()
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)

        self.info_label = QLabel()  # the no-score-model hint, run errors
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info_label.hide()

        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0.0, 10.0)
        self.min_score.setSingleStep(0.5)
        self.min_score.setDecimals(1)
        self.min_score.setSpecialValueText("off")
        self.min_score.setMinimumWidth(self.fontMetrics().horizontalAdvance("10.0") + 48)
        self.min_score.setToolTip("hide photos scoring below this (off: show all)")
        self.min_score.valueChanged.connect(self._filters_changed)
        self.status_filter = QComboBox()
        for text, value in (("All", "all"), ("OK", "ok"), ("Errors", "error")):
            self.status_filter.addItem(text, value)
        self.status_filter.currentIndexChanged.connect(self._filters_changed)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("write every loaded row as CSV (or JSON)")
        self.export_button.clicked.connect(self.export_csv)
        self.xmp_button = QPushButton("Write XMP ratings")
        self.xmp_button.setToolTip(
            "star ratings from each score's percentile within this folder, in .xmp sidecars "
            "(Lightroom, darktable, digiKam); ratings you set yourself are kept")
        self.xmp_button.clicked.connect(self.write_xmp)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Minimum score"))
        tools.addWidget(self.min_score)
        tools.addSpacing(12)
        tools.addWidget(QLabel("Show"))
        tools.addWidget(self.status_filter)
        tools.addStretch(1)
        tools.addWidget(self.export_button)
        tools.addWidget(self.xmp_button)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(PHOTO_COLUMN, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        widths = [200, 60, 52, 76, 78, 64, 68, 60]
        for column, width in enumerate(widths):
            header.resizeSection(column, width)
        self.table.doubleClicked.connect(self._double_clicked)

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(progress_row)
        layout.addWidget(self.info_label)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)

    # -- public -------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._task is not None

    def rows(self) -> list[dict]:
        """The loaded result rows (all of them, whatever the filters)."""
        return self.model.rows()

    def set_folder(self, folder: Path, recursive: bool = False) -> None:
        """The folder to score; a different folder cancels a run and clears the table."""
        folder = Path(folder)
        if (folder, recursive) != (self.folder, self.recursive):
            self._stop(keep_partial=False)
            self.model.set_rows([])
            self.last_result = None
            self.summary_label.clear()
            self._show_info("")
            self._reset_progress()
        self.folder, self.recursive = folder, recursive
        self._photo_count, line = count_photos(folder, recursive)
        self.folder_label.setText(line)
        self.folder_label.setToolTip(str(folder))
        self._update_buttons()

    def score(self) -> None:
        """Score the folder off the UI thread (cached photos are not recomputed)."""
        if self.folder is None or self.is_running:
            return
        folder, recursive, jobs = self.folder, self.recursive, self.jobs
        outcome: dict = {}  # what the worker got, read back if the run is cancelled

        def work(task: Task):
            from critique_app.core.folder_scoring.folder import score_folder

            outcome["result"] = score_folder(folder, recursive=recursive, jobs=jobs,
                                             cancel=task.cancel_event, progress=task.report)
            return outcome

        self._show_info("")
        self.summary_label.clear()
        self._reset_progress()
        self.progress.setFormat("starting…")
        self._started, self._first_done = time.monotonic(), None
        task = self.bridge.call("score folder", work, on_progress=self._scoring_progress,
                                on_done=self._scoring_done, on_error=self._failed)
        task.finished.connect(lambda: self._scoring_ended(task, outcome))
        self._set_task(task)

    def cancel(self) -> None:
        """Stop the run; photos already scored stay in the cache (and in the table)."""
        self._stop(keep_partial=True)

    def export_csv(self) -> Path | None:
        """Ask where, then write all loaded rows (.csv, or .json by extension)."""
        from critique_app.core.folder_scoring.output import write_results

        if not self.rows():
            return None
        target = self.choose_export_path()
        if target is None:
            return None
        target = Path(target)
        if target.suffix.lower() not in (".csv", ".json"):
            target = target.with_name(target.name + ".csv")
        try:
            write_results(self.rows(), target)
        except (CritiqueError, OSError) as error:
            self._show_info(f"not exported: {error}", error=True)
            return None
        self.summary_label.setText(f"{len(self.rows())} rows written to {target}")
        return target

    def choose_export_path(self) -> Path | None:
        """The file dialog (tests replace this method)."""
        start = (self.folder or Path.home()) / "critique-results.csv"
        name, _ = QFileDialog.getSaveFileName(self, "Export results", str(start),
                                              "CSV (*.csv);;JSON (*.json)")
        return Path(name) if name else None

    def write_xmp(self) -> None:
        """Stars from each score's percentile into the photos' XMP sidecars, off the UI
        thread; ratings the photographer set are kept (as the CLI does by default)."""
        from critique_app.core.folder_scoring.folder import rows_to_rate, write_star_ratings

        rows = [dict(row) for row in rows_to_rate(self.rows())]
        if not rows or self.is_running:
            return

        def work(task: Task):
            return write_star_ratings(rows, cancel=task.cancel_event, progress=task.report)

        self._show_info("")
        self._reset_progress()
        self.progress.setRange(0, len(rows))
        self._started, self._first_done = time.monotonic(), 0
        task = self.bridge.call("write XMP ratings", work, on_progress=self._xmp_progress,
                                on_done=self._xmp_done, on_error=self._failed)
        task.finished.connect(lambda: self._xmp_ended(task))
        self._set_task(task)

    # -- scoring callbacks (UI thread) ----------------------------------------------------

    def _scoring_progress(self, done: int, total: int, counts: dict) -> None:
        if self._first_done is None:  # cached photos arrive at once; time only the rest
            self._first_done, self._started = done, time.monotonic()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        parts = [f"{name} {value}" for name, value in counts.items()]
        eta = self._eta(done, total)
        self.progress_label.setText(" · ".join(parts + ([eta] if eta else [])))
        self.scoreProgress.emit(done, total)

    def _scoring_done(self, outcome: dict) -> None:
        self._show_result(outcome["result"])

    def _scoring_ended(self, task: Task, outcome: dict) -> None:
        if task is not self._task:
            return  # replaced or discarded (a new folder)
        self._set_task(None)
        if task.cancelled:
            if "result" in outcome:
                self._show_result(outcome["result"])
            else:
                self.summary_label.setText("cancelled before any photo was scored")
                self._reset_progress()

    def _show_result(self, result) -> None:
        rows = [row for row in result.rows if row is not None]
        self.last_result = result
        self.model.set_rows(rows)
        total = len(result.rows)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(len(rows))
        self.progress.setFormat(f"{len(rows)}/{total}")
        self.progress_label.setText("")
        summary = f"cached {result.cached}, computed {result.computed}, failed {result.failed}"
        if result.cancelled:
            summary += (f" — cancelled after {len(rows)} of {total}; finished photos are kept "
                        "in the cache, Score folder goes on from there")
        self.summary_label.setText(summary)
        if result.scores_missing:
            self._show_info(f"Scores left empty: {result.scores_missing}. "
                            "The measurements are shown.")
        self._update_buttons()
        self.scoringFinished.emit(result)

    # -- XMP callbacks -------------------------------------------------------------------

    def _xmp_progress(self, done: int, total: int) -> None:
        self.progress.setValue(done)
        self.progress.setFormat(f"ratings {done}/{total}")
        self.progress_label.setText(self._eta(done, total))

    def _xmp_done(self, report) -> None:
        self.progress_label.setText("")
        self.summary_label.setText(
            f"XMP ratings: written {report.written}, kept your own ratings "
            f"{report.kept}, skipped {len(report.failed)}")
        self.summary_label.setToolTip("\n".join(report.problems[:30]))

    def _xmp_ended(self, task: Task) -> None:
        if task is not self._task:
            return
        self._set_task(None)
        if task.cancelled:
            self.summary_label.setText("writing XMP ratings cancelled; sidecars already "
                                       "written are kept")

    # -- shared --------------------------------------------------------------------------

    def _failed(self, message: str) -> None:
        self._show_info(message, error=True)
        self.progress_label.setText("")

    def _stop(self, *, keep_partial: bool) -> None:
        task = self._task
        if task is None:
            return
        task.cancel()
        if not keep_partial:
            self._set_task(None)  # its end is ignored, and nothing it did is shown

    def _set_task(self, task: Task | None) -> None:
        self._task = task
        self._update_buttons()
        self.runningChanged.emit(task is not None)

    def _update_buttons(self) -> None:
        idle = self._task is None
        rows = self.model.rows()
        self.score_button.setEnabled(idle and self.folder is not None and self._photo_count > 0)
        self.cancel_button.setEnabled(not idle)
        self.export_button.setEnabled(idle and bool(rows))
        self.xmp_button.setEnabled(idle and any(row.get("score_mean") is not None
                                                for row in rows))

    def _reset_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress_label.setText("")

    def _eta(self, done: int, total: int) -> str:
        measured = done - (self._first_done or 0)
        if measured <= 0 or done >= total:
            return ""
        seconds = (time.monotonic() - self._started) / measured * (total - done)
        if seconds < 60:
            return f"about {max(1, round(seconds))} s left"
        return f"about {round(seconds / 60)} min left"

    def _show_info(self, text: str, *, error: bool = False) -> None:
        self.info_label.setText(text)
        self.info_label.setStyleSheet(f"color: {ERROR_TEXT.name()};" if error else "")
        self.info_label.setVisible(bool(text))

    def _filters_changed(self) -> None:
        self.proxy.set_minimum_score(self.min_score.value())
        self.proxy.set_status(self.status_filter.currentData())

    def _double_clicked(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if source.isValid():
            self.openPhoto.emit(Path(self.model.row_at(source.row())["path"]))
