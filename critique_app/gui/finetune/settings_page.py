"""Page 4: how long and how hard to train. Sane defaults; the rest folds out.

Everything left at its default is left to the trainer, which chooses per task
and per GPU (the learning rate, the batch size that fits, the layers to train).
The command that will run is shown at the bottom, for the curious.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDoubleValidator, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from critique_app.core.critic.personas import all_personas
from critique_app.core.finetuning.plan import train_command
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.finetune.widgets import MessageLabel, note

DEFAULT_EPOCHS = {"score": 10, "personal": 10, "critic": 3, "ssl": 5}
FREEZE = (("The trainer's default for this task", None), ("Only the new head", "backbone"),
          ("The head and the last 2 blocks", "last:2"),
          ("The head and the last 4 blocks", "last:4"), ("Everything", "none"))
CHECKPOINTING = (("Default (on for the 2080 Ti profile)", None), ("On: less memory, slower", True),
                 ("Off", False))
PRECISION = (("Automatic (fp16 on a GPU, fp32 on the CPU)", "auto"), ("fp32", "fp32"),
             ("fp16", "fp16"), ("bf16 (compute capability 8.0 and newer)", "bf16"))


class SettingsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Training settings")
        self.setSubTitle("The defaults suit most runs. Training can be stopped at any time and "
                         "resumed later.")
        self.setButtonText(QWizard.WizardButton.NextButton, "Start training")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=10)
        self.epochs.setToolTip("How many times training goes through all the photos")
        self.batch_size = QSpinBox(minimum=0, maximum=4096, value=0)
        self.batch_size.setSpecialValueText("auto (what fits the hardware)")
        self.batch_size.setToolTip("Photos per step; auto lets the trainer choose")
        for spin in (self.epochs, self.batch_size):
            spin.setMinimumWidth(240)
            spin.setMaximumWidth(240)
        self.memory = MessageLabel()  # the starting-model page's estimate, for this batch
        basic = QFormLayout()
        basic.addRow("Epochs:", self.epochs)
        basic.addRow("Batch size:", self.batch_size)
        basic.addRow("Memory:", self.memory)

        self.toggle = QToolButton()
        self.toggle.setText("Advanced settings")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.show_advanced)

        self.accumulate = QSpinBox(minimum=1, maximum=256, value=1)
        self.accumulate.setToolTip("Batches per optimizer step: a bigger step in the same memory")
        self.lr = QLineEdit()
        self.lr.setPlaceholderText("the task's default")
        validator = QDoubleValidator(0.0, 10.0, 10)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.lr.setValidator(validator)
        self.val_percent = QSpinBox(minimum=5, maximum=50, value=10, suffix=" %")
        self.val_percent.setToolTip("Share of the photos kept aside to measure the model")
        self.freeze = _combo(FREEZE)
        self.freeze.setToolTip("Which layers learn; the rest keep what they know")
        self.input_size = QSpinBox(minimum=0, maximum=1024, value=0, singleStep=32)
        self.input_size.setSpecialValueText("default (224 px)")
        self.checkpointing = _combo(CHECKPOINTING)
        self.precision = _combo(PRECISION)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("Fixes the split and the order: the same seed gives the same run")
        self.name = QLineEdit()
        self.name.setPlaceholderText("named after the run")
        self.persona = QComboBox()
        self.persona.addItem("None: learn from every critique", None)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("more trainer options, e.g. --lora-rank 8")
        for field in (self.accumulate, self.val_percent, self.input_size, self.seed, self.lr):
            field.setMaximumWidth(240)
        for field in (self.freeze, self.checkpointing, self.precision, self.persona):
            field.setMaximumWidth(420)
        self.advanced = QWidget()
        form = QFormLayout(self.advanced)
        form.setContentsMargins(18, 0, 0, 0)
        form.addRow("Accumulation:", self.accumulate)
        form.addRow("Learning rate:", self.lr)
        form.addRow("Held out:", self.val_percent)
        form.addRow("Layers trained:", self.freeze)
        form.addRow("Input size:", self.input_size)
        form.addRow("Gradient checkpointing:", self.checkpointing)
        form.addRow("Precision:", self.precision)
        form.addRow("Seed:", self.seed)
        form.addRow("Model name:", self.name)
        form.addRow("Persona:", self.persona)
        form.addRow("Extra arguments:", self.extra)
        self.advanced_form = form
        self.advanced.hide()

        self.problem = MessageLabel()
        self.command_title = note("The trainer will run:")
        self.command = QLabel()
        self.command.setWordWrap(True)
        self.command.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.command.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        layout = QVBoxLayout(self)
        layout.addLayout(basic)
        layout.addWidget(self.toggle)
        layout.addWidget(self.advanced)
        layout.addStretch(1)
        layout.addWidget(self.problem)
        layout.addWidget(self.command_title)
        layout.addWidget(self.command)

        for spin in (self.epochs, self.batch_size, self.accumulate, self.val_percent,
                     self.input_size, self.seed):
            spin.valueChanged.connect(self._changed)
        for edit in (self.lr, self.name, self.extra):
            edit.textChanged.connect(self._changed)
        for combo in (self.freeze, self.checkpointing, self.precision, self.persona):
            combo.currentIndexChanged.connect(self._changed)
        self._task_shown: str | None = None
        self._listening = False
        for spin in (self.batch_size, self.input_size):
            spin.valueChanged.connect(self._estimate_again)

    # --- setup ----------------------------------------------------------------------------
    def initializePage(self) -> None:
        if not self._listening:
            self.wizard().model_page.memoryEstimated.connect(self._show_memory)
            self._listening = True
        self._show_memory(*self.wizard().model_page.last_estimate)
        task = self.wizard().task
        if task != self._task_shown:
            self._task_shown = task
            self.epochs.setValue(DEFAULT_EPOCHS[task])
        self.advanced_form.setRowVisible(self.freeze, task != "critic")
        self.advanced_form.setRowVisible(self.input_size, task in ("score", "ssl"))
        self.advanced_form.setRowVisible(self.persona, task == "critic")
        if task == "critic":
            self._fill_personas()
        self._changed()

    def _fill_personas(self) -> None:
        current = self.persona.currentData()
        while self.persona.count() > 1:
            self.persona.removeItem(1)
        try:
            personas = all_personas()
        except CritiqueError:
            personas = {}
        for name, persona in personas.items():
            self.persona.addItem(name, name)
            self.persona.setItemData(self.persona.count() - 1, persona.description,
                                     Qt.ItemDataRole.ToolTipRole)
        self.persona.setCurrentIndex(max(0, self.persona.findData(current)))

    def _estimate_again(self) -> None:
        if self.wizard() is not None and self.isVisible():
            self.memory.show_info("estimating…")
            self.wizard().model_page.schedule_estimate()

    def _show_memory(self, text: str, fits: bool) -> None:
        if fits:
            self.memory.show_info(text)
        else:
            self.memory.show_error(text + ": lower the batch size or turn on gradient "
                                   "checkpointing (Advanced)")

    def show_advanced(self, shown: bool) -> None:
        self.toggle.setChecked(shown)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(shown)

    # --- the plan -------------------------------------------------------------------------
    def extra_arguments(self) -> list[str]:
        try:
            return shlex.split(self.extra.text(), posix=sys.platform != "win32")
        except ValueError as error:
            raise CritiqueError(f"extra arguments: {error}") from None

    def contribute(self, plan) -> None:
        plan.epochs = self.epochs.value()
        plan.batch_size = self.batch_size.value() or None
        plan.accumulate = self.accumulate.value()
        lr = self.lr.text().strip().replace(",", ".")
        try:
            plan.lr = float(lr) if lr else None
        except ValueError:
            plan.lr = None
        plan.val_fraction = self.val_percent.value() / 100
        if plan.task != "critic":
            plan.freeze = self.freeze.currentData()
        if plan.task in ("score", "ssl"):
            plan.input_size = self.input_size.value() or None
        plan.gradient_checkpointing = self.checkpointing.currentData()
        plan.precision = self.precision.currentData()
        plan.seed = self.seed.value()
        plan.name = self.name.text().strip() or None
        if plan.task == "critic":
            plan.persona = self.persona.currentData()
        with contextlib.suppress(CritiqueError):  # shown on the page; Next waits for a fix
            plan.extra += self.extra_arguments()

    def _changed(self) -> None:
        wizard = self.wizard()
        if wizard is None or self._task_shown is None:
            return
        try:
            self.extra_arguments()
            self.problem.show_info("")
        except CritiqueError as error:
            self.problem.show_error(str(error))
        argv = wizard.build_plan().argv(Path("<run folder>"))
        self.command.setText(" ".join(shlex.quote(a) for a in ["python", "-m", "train", *argv]))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.problem.error

    def command_line(self) -> list[str]:
        """The full command, as the run page starts it (with a real run folder)."""
        return train_command(self.wizard().build_plan().argv(Path("<run folder>")))


def _combo(items) -> QComboBox:
    combo = QComboBox()
    for text, value in items:
        combo.addItem(text, value)
    return combo
