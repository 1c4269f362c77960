"""The model store window: list, pull, verify, import and remove models, and the
selected model's card (what it predicts, its accuracy, licences, size, speed here).

Every store operation runs through the :class:`~critique_app.gui.bridge.Bridge`
(a pull can take minutes). One operation runs at a time; Cancel stops it: a pull
stops between downloaded chunks and installs nothing; other operations stop at
their next progress line, or finish in the background, and the list is refreshed
when they end either way. A model whose licence must be accepted (non-commercial
weights) is pulled only after the user accepts its licence text.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.scoring.speed import read_speed
from critique_app.core.store.card import card_lines
from critique_app.core.store.recommend import (
    Machine,
    detect_machine,
    recommend,
    recommend_scorer,
)
from critique_app.core.store.store import ModelStatus, ModelStore
from critique_app.core.util.errors import CritiqueError, check_cancelled
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.models.licence import ask_licence

COLUMNS = ("Name", "Task", "Installed", "Size", "Source", "Licence")
SOURCE_NAMES = {"pypi": "PyPI", "huggingface": "Hugging Face", "local": "local folder",
                "url": "URL"}
ERROR_COLOUR = "#c62828"
CANCEL_TIP = ("Stop this operation: a pull stops between downloaded chunks and installs "
              "nothing; an import or removal already under way finishes in the background, "
              "and the list updates when it does.")


def _size(n: int) -> str:
    if not n:
        return ""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{max(1, round(n / 1e3))} kB"


def _source_name(source) -> str:
    """Where a model comes from, in a word or two ("Hugging Face + URL" for parts)."""
    if source.kind == "parts":
        return " + ".join(dict.fromkeys(_source_name(part.source) for part in source.parts))
    return SOURCE_NAMES.get(source.kind, source.kind)


def _download_size(status: ModelStatus) -> int:
    return sum(f.size or 0 for f in status.entry.files)


class ModelsDialog(QDialog):
    """``ModelsDialog(bridge, store_factory=ModelStore, machine=None)``; emits
    ``modelsChanged`` after a pull, import or removal (and whenever a refresh finds the
    installed set changed). ``machine`` (default: detected) is what the critic
    recommendation is for."""

    modelsChanged = Signal()

    def __init__(self, bridge: Bridge, store_factory=ModelStore,
                 parent: QWidget | None = None, machine: Machine | None = None) -> None:
        super().__init__(parent)
        self.machine = machine
        self.setWindowTitle("Models")
        self.bridge = bridge
        self.store: ModelStore | None = None
        self.statuses: list[ModelStatus] = []
        self._task: Task | None = None
        self._task_model: str | None = None  # the model the running operation changes
        self._background: dict[Task, str | None] = {}  # cancelled but still running
        self._damaged: dict[str, list[str]] = {}  # from the last verify
        self._installed: set[str] | None = None

        self.store_label = QLabel()
        self.store_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.details = QLabel()  # the selected model's card
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setContentsMargins(4, 4, 4, 4)
        card_area = QScrollArea()
        card_area.setWidgetResizable(True)
        card_area.setFrameShape(QFrame.Shape.NoFrame)
        card_area.setWidget(self.details)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(card_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.recommendation = QLabel()
        self.recommendation.setWordWrap(True)
        self.recommendation.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)

        self.pull_button = QPushButton("Pull")
        self.pull_button.setToolTip("Download the selected model from its source and verify it")
        self.verify_button = QPushButton("Verify all")
        self.verify_button.setToolTip("Check installed files against the hashes recorded at "
                                      "install and in the manifest")
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Copy a model folder written by Critique's trainer into "
                                      "the store")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected model's files")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(CANCEL_TIP)
        self.pull_button.clicked.connect(self.pull_selected)
        self.verify_button.clicked.connect(self.verify)
        self.import_button.clicked.connect(self.import_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self._buttons = (self.pull_button, self.verify_button, self.import_button,
                         self.remove_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy until a pull reports its bytes
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(120)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        actions = QHBoxLayout()
        for button in self._buttons:
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(close)
        status = QHBoxLayout()
        status.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignVCenter)
        status.addWidget(self.message, 1)
        status.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.store_label)
        layout.addWidget(self.recommendation)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(status)
        layout.addLayout(actions)
        self.resize(820, 600)
        self.splitter.setSizes([260, 240])

        self._set_busy(None)
        try:
            self.store = store_factory()
        except CritiqueError as error:  # e.g. an unreadable manifest
            self._show_error(str(error))
            for button in self._buttons:
                button.setEnabled(False)
            return
        self.store_label.setText(f"Models (store: {self.store.root})")
        self._show_recommendation()
        self.refresh()

    def _show_recommendation(self) -> None:
        """One critic for this machine, with the time a critique takes at its size, and
        the pretrained photo scorer to start with (its card says the rest)."""
        if self.machine is None:
            self.machine = detect_machine()
        entries = list(self.store.manifest.values())
        advice = recommend(entries, self.machine)
        scorer = recommend_scorer(entries, self.machine)
        lines = []
        if advice is not None:
            lines.append(html.escape(advice.summary()).replace(
                html.escape(advice.entry.name), f"<b>{html.escape(advice.entry.name)}</b>", 1))
        if scorer is not None:
            entry = scorer.entry
            srcc = entry.card.get("srcc")
            facts = [f"{scorer.size_bytes / 1e9:.1f} GB download" if scorer.size_bytes else "",
                     f"SRCC {float(srcc):.3f} on AVA" if srcc is not None else "",
                     entry.card.get("weights_licence") or entry.licence]
            lines.append(f"Recommended photo scorer: <b>{html.escape(entry.name)}</b> "
                         f"({html.escape(entry.title)}) — "
                         + html.escape(", ".join(f for f in facts if f))
                         + f"; {html.escape(scorer.speed_text())}.")
        self.recommendation.setVisible(bool(lines))
        if lines:
            self.recommendation.setText("<br>".join(lines))
            self.recommendation.setToolTip(
                "Measured times come from the project's benchmarks on this kind of device; "
                "estimated ones are scaled from a reference run by parameter count (CPU) or "
                "from the weights' size and a typical GPU's memory speed.")

    # -- overridable for tests ----------------------------------------------------
    def choose_import_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        return Path(folder) if folder else None

    def confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Models", text)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_licence(self, entry) -> bool:
        """The licence text in a message box; pull only when the user accepts it."""
        return ask_licence(self, entry)

    # -- state ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None

    def selected_status(self) -> ModelStatus | None:
        rows = self.table.selectionModel().selectedRows()
        return self.statuses[rows[0].row()] if rows else None

    def select(self, name: str) -> None:
        for row, status in enumerate(self.statuses):
            if status.entry.name == name:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
                return
        self.table.clearSelection()

    def refresh(self, *, changed: bool = False) -> None:
        """Re-read the store; emit modelsChanged when ``changed`` or the installed set moved."""
        if self.store is None:
            return
        selected = self.selected_status()
        try:
            self.statuses = self.store.statuses()
        except CritiqueError as error:
            self._show_error(str(error))
            return
        installed = {s.entry.name for s in self.statuses if s.installed}
        self._damaged = {n: p for n, p in self._damaged.items() if n in installed}
        self.table.setRowCount(len(self.statuses))
        for row, status in enumerate(self.statuses):
            self._fill_row(row, status)
        if selected is not None:
            self.select(selected.entry.name)
        self._selection_changed()
        before, self._installed = self._installed, installed
        if changed or (before is not None and before != installed):
            self.modelsChanged.emit()

    def _fill_row(self, row: int, status: ModelStatus) -> None:
        entry = status.entry
        grey = QBrush(self.palette().color(QPalette.ColorGroup.Disabled,
                                           QPalette.ColorRole.Text))
        tip = "\n".join(t for t in (entry.description, f"Trained on: {entry.trained_on}") if t)
        installed = "yes" if status.installed else "no"
        if entry.name in self._damaged or status.damaged:
            installed = "damaged"
        size = _size(status.size_bytes)
        if not status.installed and _download_size(status):
            size = f"~{_size(_download_size(status))}"
        cells = (entry.name, entry.task, installed, size,
                 _source_name(entry.source), entry.licence)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            self.table.setItem(row, column, item)
        if entry.name in self._damaged or status.damaged:
            cell = self.table.item(row, 2)
            cell.setForeground(QBrush(QColor(ERROR_COLOUR)))
            cell.setToolTip(status.damaged or "; ".join(self._damaged[entry.name]))
        if not status.installed:
            self.table.item(row, 3).setForeground(grey)
            self.table.item(row, 3).setToolTip("download size")
        self.table.item(row, 4).setToolTip(entry.source.describe())

    def _selection_changed(self) -> None:
        status = self.selected_status()
        if status is None:
            self.details.setText("Select a model to pull or remove it.")
        else:
            lines = self.card_lines(status)  # its first line names the model
            if status.damaged:
                lines.append(f"{status.damaged} — pull it again")
            elif status.installed:
                where = f"Installed in {status.path}"
                if status.revision:
                    where += f", commit {status.revision[:12]}"
                lines.append(where)
            self.details.setText(f"<b>{html.escape(lines[0])}</b>"
                                 + "".join(f"<br>{html.escape(line)}" for line in lines[1:]))
        self._update_buttons()

    def card_lines(self, status: ModelStatus) -> list[str]:
        """The selected model's card, as ``critique models list --verbose`` prints it."""
        try:
            speed = read_speed(status.entry.name)
        except (CritiqueError, OSError, ValueError):  # unreadable speeds: not measured
            speed = None
        return card_lines(status.entry, status, speed)

    def details_text(self) -> str:
        return self.details.text()

    def _update_buttons(self) -> None:
        status = self.selected_status()
        idle = self._task is None and self.store is not None
        can_pull = status is not None and self._can_pull(status)
        self.pull_button.setEnabled(idle and can_pull)
        self.remove_button.setEnabled(idle and status is not None
                                      and (status.installed or bool(status.damaged)))
        self.verify_button.setText("Verify" if status is not None and status.installed
                                   else "Verify all")
        self.verify_button.setEnabled(idle)
        self.import_button.setEnabled(idle)

    def _set_busy(self, text: str | None) -> None:
        self.progress.setRange(0, 0)
        self.progress.setVisible(text is not None)
        self.cancel_button.setVisible(text is not None)
        if text is not None:
            self._show(text)
        self._update_buttons()

    def _show(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.message.setText(text)

    def message_text(self) -> str:
        return self.message.text()

    def showing_error(self) -> bool:
        return ERROR_COLOUR in self.message.styleSheet()

    # -- operations -------------------------------------------------------------------
    def pull_selected(self) -> None:
        status = self.selected_status()
        if status is None or not self._can_pull(status) or self._still_running(status.entry.name):
            return
        name, store = status.entry.name, self.store
        accept = False
        if status.entry.licence_acceptance:
            if not self.confirm_licence(status.entry):
                self._show(f"{name} not pulled: its licence was not accepted")
                return
            accept = True
        self._damaged.pop(name, None)

        def work(task: Task):
            return store.pull(name, report=self._reporter(task), show_progress=False,
                              accept_licence=accept, cancel=task.cancel_event,
                              progress=lambda done, total: task.report(None, done, total))

        self._run(f"pull {name}", work, f"pulling {name}…", name,
                  lambda path: self._finished(f"installed {name} in {path}", changed=True))

    def verify(self) -> None:
        status = self.selected_status()
        name = status.entry.name if status is not None and status.installed else None
        store = self.store
        self._run("verify models", lambda task: store.verify(name),
                  f"verifying {name or 'all installed models'}…", None, self._verified)

    def import_folder(self) -> None:
        folder = self.choose_import_folder()
        if folder is None:
            return
        store = self.store

        def work(task: Task):
            return store.import_dir(folder, report=self._reporter(task))

        self._run("import model", work, f"importing {folder}…", None,
                  lambda path: self._finished(f"imported into {path}", changed=True,
                                              select=Path(path).name))

    def remove_selected(self) -> None:
        status = self.selected_status()
        if status is None or not (status.installed or status.damaged) \
                or self._still_running(status.entry.name):
            return
        name, store = status.entry.name, self.store
        if not self.confirm(f"Remove the model '{name}' and delete its files "
                            f"({_size(status.size_bytes) or 'empty'})?"):
            return
        self._run(f"remove {name}", lambda task: store.remove(name), f"removing {name}…", name,
                  lambda path: self._finished(f"removed {name} ({path})", changed=True))

    def cancel(self) -> None:
        """Stop waiting: the result is ignored; work already under way ends in the background."""
        task = self._task
        if task is None:
            return
        task.cancel()
        if task.running:
            self._background[task] = self._task_model
        self._task = None
        self._set_busy(None)
        self._show(f"cancelled {task.name}")

    def reject(self) -> None:
        self.cancel()
        super().reject()

    # -- internals ----------------------------------------------------------------------
    @staticmethod
    def _reporter(task: Task):
        """The store's report callback: each line to the UI; a cancel stops at the next line."""
        def report(line: str) -> None:
            check_cancelled(task.cancel_event)
            task.report(line)
        return report

    def _can_pull(self, status: ModelStatus) -> bool:
        """Not installed, or damaged (a pull installs it again); local models are imported."""
        return (status.entry.source.kind != "local"
                and (not status.installed or status.entry.name in self._damaged
                     or bool(status.damaged)))

    def _still_running(self, name: str) -> bool:
        if name in self._background.values():
            self._show_error(f"an earlier operation on {name} is still finishing in the "
                             "background; try again when it ends")
            return True
        return False

    def _run(self, name: str, work, text: str, model: str | None, on_done) -> None:
        if self._task is not None or self.store is None:
            return
        task = self.bridge.call(name, work, on_done=on_done, on_error=self._failed,
                                on_progress=self._progress)
        task.finished.connect(self._task_ended)
        self._task, self._task_model = task, model
        self._set_busy(text)

    def _progress(self, line: str | None, done: int | None = None,
                  total: int | None = None) -> None:
        """A progress line from the store, or a pull's bytes so far (a real bar)."""
        if line is not None:
            self._show(str(line))
        if done is not None and total:
            scale = max(1, total // 1_000_000)  # the bar holds an int: count in MB
            self.progress.setRange(0, total // scale)
            self.progress.setValue(min(done, total) // scale)

    def _finished(self, text: str, *, changed: bool, select: str | None = None) -> None:
        self._show(text)
        self.refresh(changed=changed)
        if select:
            self.select(select)

    def _failed(self, message: str) -> None:
        self._show_error(message)
        self.refresh()

    def _verified(self, results) -> None:
        for result in results:
            if result.ok:
                self._damaged.pop(result.name, None)
            else:
                self._damaged[result.name] = result.problems
        damaged = [r for r in results if not r.ok]
        if not results:
            self._show("no models are installed")
        elif damaged:
            lines = [f"damaged {r.name}: {'; '.join(r.problems)}" for r in damaged]
            self._show_error("; ".join(lines) + " — pull them again")
        else:
            names = ", ".join(r.name for r in results)
            self._show(f"ok: {names}")
        self.refresh()

    def _task_ended(self) -> None:
        task = self.sender()
        if task is self._task:
            self._task = None
            self._set_busy(None)
        else:
            self._background.pop(task, None)
            self.refresh()  # a cancelled pull may have installed its model after all
