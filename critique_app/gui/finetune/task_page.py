"""Page 1: what to train (score, personal taste, critic, self-supervised), or an
earlier run to resume or to look at again."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWizardPage,
)

from critique_app.core.finetuning.plan import TASKS
from critique_app.core.finetuning.runs import RunInfo, list_runs
from critique_app.gui.finetune.pages import DATA, RESULTS, RUN
from critique_app.gui.finetune.widgets import note


def describe_run(run: RunInfo) -> str:
    """One line for the runs list, e.g. "score-20250102-0930 · stopped at step 40 of 120"."""
    progress = run.progress
    if run.finished:
        state = "finished"
    elif progress.total_steps:
        state = f"stopped at step {progress.step} of {progress.total_steps}"
    else:
        state = "stopped"
    title = TASKS.get(run.task, (run.task,))[0]
    return f"{run.folder.name} · {title} · {state}"


class TaskPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("What would you like to train?")
        self.setSubTitle("Training runs on this computer, in the background; you can keep "
                         "using Critique meanwhile.")
        self.buttons = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        layout = QVBoxLayout(self)
        for index, (task, (title, needs, makes)) in enumerate(TASKS.items()):
            radio = QRadioButton(title)
            font = radio.font()
            font.setBold(True)
            radio.setFont(font)
            self.buttons.addButton(radio, index)
            self.radios[task] = radio
            about = note(f"Needs {needs}. Makes {makes}.")
            about.setContentsMargins(24, 0, 0, 6)
            layout.addWidget(radio)
            layout.addWidget(about)
        self.radios["score"].setChecked(True)

        earlier = QGroupBox("Or continue an earlier run")
        self.runs = QComboBox()
        self.runs.setMinimumContentsLength(30)
        self.runs.currentIndexChanged.connect(self._run_selected)
        self.open_button = QPushButton("Resume")
        self.open_button.clicked.connect(self.open_selected_run)
        self.runs_note = note()
        row = QHBoxLayout()
        row.addWidget(self.runs, 1)
        row.addWidget(self.open_button)
        box = QVBoxLayout(earlier)
        box.addLayout(row)
        box.addWidget(self.runs_note)
        layout.addSpacing(8)
        layout.addWidget(earlier)
        layout.addStretch(1)
        self.earlier_box = earlier
        self._runs: list[RunInfo] = []

    # --- state ----------------------------------------------------------------------------
    def task(self) -> str:
        for task, radio in self.radios.items():
            if radio.isChecked():
                return task
        return "score"

    def set_task(self, task: str) -> None:
        self.radios[task].setChecked(True)

    def initializePage(self) -> None:
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """Runs that can be resumed (stopped with a checkpoint) or whose results can be
        shown (finished), newest first."""
        self._runs = [run for run in list_runs() if run.resumable or run.finished]
        self.runs.clear()
        for run in self._runs:
            self.runs.addItem(describe_run(run), str(run.folder))
        self.earlier_box.setVisible(bool(self._runs))
        self._run_selected()

    def selected_run(self) -> RunInfo | None:
        index = self.runs.currentIndex()
        return self._runs[index] if 0 <= index < len(self._runs) else None

    def select_run(self, folder) -> None:
        index = self.runs.findData(str(folder))
        if index >= 0:
            self.runs.setCurrentIndex(index)

    def _run_selected(self) -> None:
        run = self.selected_run()
        self.open_button.setEnabled(run is not None)
        if run is None:
            self.runs_note.setText("")
            return
        self.open_button.setText("Show results" if run.finished else "Resume")
        where = html.escape(str(run.folder))
        self.runs_note.setText(
            f"Its results and model are in {where}." if run.finished else
            f"It continues from its last checkpoint with the settings it was started with "
            f"(in {where}).")

    # --- navigation -----------------------------------------------------------------------
    def open_selected_run(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        wizard = self.wizard()
        wizard.chosen_run = run
        wizard.chosen_action = "results" if run.finished else "resume"
        wizard.next()

    def nextId(self) -> int:
        wizard = self.wizard()
        if wizard is not None and wizard.chosen_action == "resume":
            return RUN
        if wizard is not None and wizard.chosen_action == "results":
            return RESULTS
        return DATA
