"""Page 2: the data to learn from, checked by the trainer before anything runs.

"Validate" asks ``python -m train validate`` (through the bridge): how many rows
are usable, a preview of the first ones, and every bad row with its line number.
Next stays disabled until the data checked is the data chosen and has usable rows.
For self-supervised training the data is a folder of photos: they are counted.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from critique_app.core.finetuning import probes
from critique_app.core.library.finding import find_photos
from critique_app.gui.finetune.widgets import MessageLabel, note, plural

FORMATS = (("Detect automatically", None), ("AVA (AVA.txt)", "ava"),
           ("Impressions", "impressions"), ("ArtEmis", "artemis"), ("PCCD", "pccd"),
           ("Photo folder with XMP ratings", "xmp"), ("CSV", "csv"), ("JSON lines", "jsonl"))
HELP = {
    "score": "A table of rated photos: AVA.txt, a CSV or JSON-lines file with an image column "
             "and a score (1–10), stars (1–5) or a vote distribution, or a folder of photos "
             "rated with stars (XMP sidecars).",
    "personal": "Your own ratings: a folder whose photos you rated with stars, picks or "
                "rejects (the ratings you make in Critique are saved beside the photos as XMP), "
                "or a CSV of your scores.",
    "critic": "Critiques of photos: PCCD, Impressions, ArtEmis, or a CSV/JSON-lines file "
              "with an image column and description, impression, evaluation or suggestions "
              "columns.",
    "ssl": "A folder of your photos. No ratings are needed: the model learns by telling each "
           "photo from copies of it that were spoiled on purpose.",
}
NEEDS_KIND = {"score": "score", "personal": "score", "critic": "critique"}
MIN_ROWS = 2  # the trainer holds some out for evaluation


class DataPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your data")
        self.help = note()
        self.path = QLineEdit()
        self.path.setPlaceholderText("a dataset file or a folder of photos")
        self.path.setClearButtonEnabled(True)
        self.folder_button = QPushButton("Folder…")
        self.file_button = QPushButton("File…")
        self.folder_button.clicked.connect(self.choose_folder)
        self.file_button.clicked.connect(self.choose_file)
        self.open_folder_button = QPushButton()
        self.open_folder_button.clicked.connect(self.use_open_folder)
        self.format = QComboBox()
        for text, value in FORMATS:
            self.format.addItem(text, value)
        self.images = QLineEdit()
        self.images.setPlaceholderText("only if the photos are not beside the data file")
        self.images.setClearButtonEnabled(True)
        self.recursive = QCheckBox("Include photos in subfolders")
        self.validate_button = QPushButton("Validate")
        self.validate_button.setDefault(False)
        self.validate_button.setAutoDefault(False)
        self.validate_button.clicked.connect(self.validate)
        self.summary = MessageLabel()
        self.preview = QTableWidget(0, 0)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.verticalHeader().hide()
        self.preview.setAlternatingRowColors(True)
        self.preview.setWordWrap(False)
        self.preview.horizontalHeader().setStretchLastSection(True)
        self.errors_title = QLabel()
        self.errors = QListWidget()
        self.errors.setUniformItemSizes(True)  # a big dataset can have many bad rows

        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.folder_button)
        path_row.addWidget(self.file_button)
        path_widget = QWidget()
        path_widget.setLayout(path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form.addRow("Data:", path_widget)
        form.addRow("", self.open_folder_button)
        form.addRow("Format:", self.format)
        form.addRow("Photos folder:", self.images)
        form.addRow("", self.recursive)
        self.form = form
        check_row = QHBoxLayout()
        check_row.addWidget(self.validate_button)
        check_row.addWidget(self.summary, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.help)
        layout.addLayout(form)
        layout.addLayout(check_row)
        layout.addWidget(self.preview, 3)
        layout.addWidget(self.errors_title)
        layout.addWidget(self.errors, 2)
        layout.addStretch(0)

        for widget in (self.path, self.images):
            widget.textChanged.connect(self._changed)
        self.format.currentIndexChanged.connect(self._changed)
        self.recursive.toggled.connect(self._changed)
        self.report: dict | None = None
        self._checked_key: tuple | None = None
        self._usable = False
        self._busy = False
        self._task_shown: str | None = None
        self._clear_results()

    # --- setup per task -------------------------------------------------------------------
    def initializePage(self) -> None:
        wizard = self.wizard()
        task = wizard.task
        self.help.setText(HELP[task])
        ssl = task == "ssl"
        self.setSubTitle("Choose the folder of photos to learn from." if ssl else
                         "Choose the data, then Validate: every row is checked before "
                         "training.")
        for widget in (self.format, self.images):
            self.form.setRowVisible(widget, not ssl)
        self.form.setRowVisible(self.recursive, ssl)
        self.file_button.setVisible(not ssl)
        self.validate_button.setText("Count photos" if ssl else "Validate")
        folder = wizard.open_folder
        offer = folder is not None and task in ("personal", "ssl")
        self.form.setRowVisible(self.open_folder_button, offer)
        if offer:
            self.open_folder_button.setText(f"Use the open folder ({folder.name})")
            self.open_folder_button.setToolTip(str(folder))
        if self._task_shown is not None and self._task_shown != task:
            self._changed()  # a score dataset is no critic dataset: check again
        self._task_shown = task

    def isComplete(self) -> bool:
        return self._usable and not self._busy and self._checked_key == self._key()

    def contribute(self, plan) -> None:
        text = self.path.text().strip()
        plan.data = Path(text).expanduser() if text else None
        if plan.task == "ssl":
            if self.recursive.isChecked():
                plan.extra.append("--recursive")
            return
        plan.data_format = self.format.currentData()
        images = self.images.text().strip()
        if images:
            plan.extra += ["--images", str(Path(images).expanduser())]

    # --- choosing -------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the data folder",
                                                  self.path.text())
        if folder:
            self.path.setText(folder)
            self.validate()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the data file", self.path.text(),
            "Datasets (*.csv *.txt *.jsonl *.json *.tsv);;All files (*)")
        if path:
            self.path.setText(path)
            self.validate()

    def use_open_folder(self) -> None:
        folder = self.wizard().open_folder
        if folder is None:
            return
        self.path.setText(str(folder))
        if self.wizard().task != "ssl":
            self.set_format("xmp")  # the main window saves ratings as XMP sidecars
        self.validate()

    def set_format(self, value: str | None) -> None:
        self.format.setCurrentIndex(max(0, self.format.findData(value)))

    # --- validating -----------------------------------------------------------------------
    def _key(self) -> tuple:
        return (self.wizard().task if self.wizard() else None, self.path.text().strip(),
                self.format.currentData(), self.images.text().strip(),
                self.recursive.isChecked())

    def _changed(self) -> None:
        if self._checked_key is not None and self._checked_key != self._key():
            self._clear_results()
            self.summary.show_info("Validate again: the data changed.")
        self.completeChanged.emit()

    def validate(self) -> None:
        text = self.path.text().strip()
        if not text:
            self.summary.show_error("Choose a dataset file or folder first.")
            return
        task, key = self.wizard().task, self._key()
        path = Path(text).expanduser()
        data_format, images = self.format.currentData(), self.images.text().strip() or None
        recursive = self.recursive.isChecked()

        def work(_task):
            if task == "ssl":
                return count_photos(path, recursive)
            return probes.validate_data(path, data_format, Path(images) if images else None)

        self._clear_results()
        self._busy = True
        self.validate_button.setEnabled(False)
        self.summary.show_info("Checking every row…" if task != "ssl" else "Counting photos…")
        self.completeChanged.emit()
        self.wizard().call("validate data", work,
                           on_done=lambda report: self._validated(key, task, report),
                           on_error=lambda message: self._failed(key, message))

    def _validated(self, key: tuple, task: str, report: dict) -> None:
        self._done_checking()
        if key != self._key():
            return  # the choice changed while the check ran
        self.report = report
        self._checked_key = key
        counts = report.get("counts", {})
        if task == "ssl":
            found = counts.get("photos", 0)
            self._usable = found >= MIN_ROWS
            text = f"{plural(found, 'photo')} found."
            if not self._usable:
                self.summary.show_error(text + f" At least {MIN_ROWS} are needed.")
            else:
                self.summary.show_good(text)
        else:
            self._usable = self._show_counts(task, report)
        self._fill_preview(report.get("preview", []))
        self._fill_errors(report.get("errors", []))
        self.completeChanged.emit()

    def _show_counts(self, task: str, report: dict) -> bool:
        counts = report.get("counts", {})
        rows, bad = counts.get("rows", 0), counts.get("errors", len(report.get("errors", [])))
        kind, needed = report.get("kind"), NEEDS_KIND[task]
        described = {"score": "ratings", "critique": "critiques"}
        if kind and kind != needed:
            self.summary.show_error(
                f"This data holds {described.get(kind, kind)}, but this task needs "
                f"{described[needed]}. Choose other data or another task.")
            return False
        found = f"{plural(rows, 'usable row')}"
        if counts.get("images") is not None:
            found += f" with {plural(counts['images'], 'photo')}"
        fmt = f" ({report['format']} format)" if report.get("format") else ""
        problems = (f"; {plural(bad, 'row')} with problems will be left out (listed below)"
                    if bad else "; no problems")
        if rows < MIN_ROWS:
            self.summary.show_error(f"{found}{fmt}{problems}. At least {MIN_ROWS} usable rows "
                                    "are needed.")
            return False
        self.summary.show_good(f"{found}{fmt}{problems}.")
        return True

    def _failed(self, key: tuple, message: str) -> None:
        self._done_checking()
        if key != self._key():
            return
        self._checked_key, self._usable = key, False
        self.summary.show_error(message)
        self.completeChanged.emit()

    def _done_checking(self) -> None:
        self._busy = False
        self.validate_button.setEnabled(True)

    # --- showing --------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self.report, self._checked_key, self._usable = None, None, False
        self.summary.show_info("")
        self.preview.clear()
        self.preview.setRowCount(0)
        self.preview.setColumnCount(0)
        self.preview.hide()
        self.errors.clear()
        self.errors.hide()
        self.errors_title.hide()

    def _fill_preview(self, rows: list[dict]) -> None:
        columns: list[str] = []
        for row in rows:
            columns += [key for key in row if key not in columns]
        self.preview.setColumnCount(len(columns))
        self.preview.setRowCount(len(rows))
        self.preview.setHorizontalHeaderLabels([c.replace("_", " ") for c in columns])
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                value = row.get(column)
                text = "" if value is None else str(value)
                if column == "image":
                    text = Path(text).name  # the folder is the same for every row
                item = QTableWidgetItem(text)
                item.setToolTip(str(value) if value is not None else "")
                if isinstance(value, int | float):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.preview.setItem(r, c, item)
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        texts = [c for c in columns if c not in ("line", "image", "rating", "mean", "persona",
                                                  "emotion", "photo")]
        header.setStretchLastSection(bool(texts))  # long critique text: the last column
        if not texts and columns:  # ratings: the photo's name takes the room
            name = "image" if "image" in columns else columns[-1]
            header.setSectionResizeMode(columns.index(name), QHeaderView.ResizeMode.Stretch)
        height = header.sizeHint().height() + 2 * self.preview.frameWidth()
        height += sum(self.preview.rowHeight(r) for r in range(len(rows)))
        self.preview.setMaximumHeight(height + 2)
        self.preview.setVisible(bool(rows))

    def _fill_errors(self, errors: list[dict]) -> None:
        self.errors.clear()
        self.errors.addItems([f"line {e.get('line', '?')}: {e.get('message', '')}"
                              for e in errors])
        self.errors_title.setText(f"{plural(len(errors), 'problem')} (these rows are left out):")
        self.errors.setVisible(bool(errors))
        self.errors_title.setVisible(bool(errors))

    # --- for tests and screenshots --------------------------------------------------------
    def error_lines(self) -> list[str]:
        return [self.errors.item(i).text() for i in range(self.errors.count())]

    def preview_rows(self) -> list[list[str]]:
        table = self.preview
        return [[table.item(r, c).text() if table.item(r, c) else ""
                 for c in range(table.columnCount())] for r in range(table.rowCount())]

    @property
    def busy(self) -> bool:
        return self._busy


def count_photos(folder: Path, recursive: bool) -> dict:
    """The self-supervised task's check: the photos in a folder (blocking: a slow disk)."""
    photos = find_photos(folder, recursive=recursive)
    return {"kind": "photos", "counts": {"photos": len(photos)},
            "preview": [{"photo": p.name, "folder": str(p.parent)} for p in photos[:5]],
            "errors": []}
