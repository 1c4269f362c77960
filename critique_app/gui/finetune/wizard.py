"""Tools ▸ Fine-tune…: train a model on your own photos without a terminal.

Six pages, each in its own file: what to train, on which data, from which model
on which hardware, with which settings, the run itself, and its results. The
pages only gather choices; :meth:`FineTuneWizard.build_plan` turns them into a
:class:`~critique_app.core.finetuning.plan.FineTuningPlan`, and the run page starts
the trainer (``python -m train``) as a separate process, so a crash or an
out-of-memory in training never takes the app down. Questions for the trainer
(is this dataset valid, which GPU is there, how much memory will it take) run
through the app's one :class:`~critique_app.gui.bridge.Bridge`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from critique_app.core.app.settings import Settings
from critique_app.core.finetuning import probes
from critique_app.core.finetuning.plan import FineTuningPlan
from critique_app.core.finetuning.runs import RunInfo
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.finetune.pages import DATA, MODEL, RESULTS, RUN, SETTINGS, TASK


class FineTuneWizard(QWizard):
    """``FineTuneWizard(bridge, settings, open_folder=..., apply_settings=...)``.

    ``open_folder``: the folder open in the main window (offered as data: its XMP
    ratings). ``apply_settings(new)``: how new settings take effect once a trained
    model is installed (the main window's :meth:`apply_settings`); without it the
    settings file is written directly.
    """

    hardwareDetected = Signal(object)  # the trainer's hardware dict, or None when unknown
    modelsChanged = Signal()  # a model was pulled, imported or installed from here

    def __init__(self, bridge: Bridge, settings: Settings, *, open_folder: Path | None = None,
                 apply_settings: Callable[[Settings], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from critique_app.gui.finetune.data_page import DataPage
        from critique_app.gui.finetune.model_page import ModelPage
        from critique_app.gui.finetune.results_page import ResultsPage
        from critique_app.gui.finetune.run_page import RunPage
        from critique_app.gui.finetune.settings_page import SettingsPage
        from critique_app.gui.finetune.task_page import TaskPage

        self.bridge, self.settings = bridge, settings
        self.open_folder = Path(open_folder) if open_folder else None
        self.apply_settings = apply_settings
        self.hardware: dict | None = None
        self.hardware_error: str | None = None
        self.run_dir: Path | None = None  # the run on the run and results pages
        self.model_dir: Path | None = None  # the finished run's model folder
        self.chosen_run: RunInfo | None = None  # an earlier run picked on the task page
        self.chosen_action: str | None = None  # "resume" or "results"
        self._tasks: set[Task] = set()

        self.setWindowTitle("Fine-tune a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.task_page = TaskPage()
        self.data_page = DataPage()
        self.model_page = ModelPage()
        self.settings_page = SettingsPage()
        self.run_page = RunPage()
        self.results_page = ResultsPage()
        for page_id, page in ((TASK, self.task_page), (DATA, self.data_page),
                              (MODEL, self.model_page), (SETTINGS, self.settings_page),
                              (RUN, self.run_page), (RESULTS, self.results_page)):
            self.setPage(page_id, page)
        self.setStartId(TASK)
        self.currentIdChanged.connect(self._page_changed)
        self.resize(880, 700)
        self.detect_hardware()

    # --- what the pages share -------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.task_page.task()

    def build_plan(self) -> FineTuningPlan:
        """The photographer's choices so far, as the trainer's options."""
        plan = FineTuningPlan(self.task)
        for page in (self.data_page, self.model_page, self.settings_page):
            page.contribute(plan)
        return plan

    def call(self, name: str, work, **callbacks) -> Task:
        """Run ``work(task)`` through the bridge; cancelled when the wizard closes."""
        task = self.bridge.call(name, work, **callbacks)
        self._tasks.add(task)
        task.finished.connect(lambda: self._tasks.discard(task))
        return task

    def detect_hardware(self) -> None:
        def found(hardware) -> None:
            self.hardware, self.hardware_error = hardware, None
            self.hardwareDetected.emit(hardware)

        def failed(message: str) -> None:
            self.hardware, self.hardware_error = None, message
            self.hardwareDetected.emit(None)

        self.call("detect hardware", lambda task: probes.detect_hardware(), on_done=found,
                  on_error=failed)

    def _page_changed(self, page_id: int) -> None:
        if page_id == TASK:  # back at the start: a new choice
            self.chosen_run = self.chosen_action = None
        if page_id != RUN:
            self.set_back_allowed(True)

    def set_back_allowed(self, allowed: bool) -> None:
        """The run page hides Back while the trainer runs."""
        buttons = [QWizard.WizardButton.Stretch]
        if allowed:
            buttons.append(QWizard.WizardButton.BackButton)
        buttons += [QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton,
                    QWizard.WizardButton.FinishButton, QWizard.WizardButton.CancelButton]
        self.setButtonLayout(buttons)

    # --- closing --------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.run_page.running

    def shutdown(self) -> None:
        """Stop the trainer (it keeps a checkpoint) and drop pending questions; blocks
        until the trainer process is gone, so none outlives the wizard or the app."""
        self.run_page.stop_and_wait()
        for task in list(self._tasks):
            task.cancel()

    def reject(self) -> None:  # Close, Escape and the window's close button
        self.shutdown()
        super().reject()

    def accept(self) -> None:
        self.shutdown()
        super().accept()
