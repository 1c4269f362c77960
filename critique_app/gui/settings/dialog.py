"""The preferences window: device, models folder, persona, models, auto-critique.

It edits a copy: the :class:`Settings` it is given is never changed, so Cancel
changes nothing; after OK, :meth:`SettingsDialog.result_settings` is the new one.
"""

from __future__ import annotations

import dataclasses
import functools

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.app.settings import Settings, default_models_dir
from critique_app.core.critic.personas import BUILTIN_PERSONAS, all_personas
from critique_app.core.util.errors import CritiqueError

RULES_ONLY = "\0rules-only"  # the critic combo's item for use_language_model=False
BEST = "\0best"  # the combo items' data for "Best installed" (None in Settings)
CRITIC_TASKS = ("critic", "text-lm")  # the order find_language_model prefers


@functools.cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (imports torch on first use; False without it)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # no torch, or a broken CUDA install: the GPU is not usable either way
        return False


class SettingsDialog(QDialog):
    """``SettingsDialog(settings, store)``; after OK, ``result_settings()`` is the new Settings."""

    def __init__(self, settings: Settings, store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings

        self.device = QComboBox()
        for text, value in (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda")):
            self.device.addItem(text, value)
        if not self.cuda_available():
            item = self.device.model()
            if isinstance(item, QStandardItemModel):
                cuda = item.item(2)
                cuda.setEnabled(False)
                cuda.setToolTip("No CUDA GPU is available to PyTorch on this computer")
            self.device.setToolTip("Where models run. No CUDA GPU is available on this "
                                   "computer, so Auto means the CPU.")
        else:
            self.device.setToolTip("Where models run; Auto uses the GPU when there is one")
        self._select(self.device, settings.device)

        self.models_dir = QLineEdit(settings.models_dir or "")
        self.models_dir.setPlaceholderText(str(default_models_dir()))
        self.models_dir.setToolTip("Where downloaded and imported models are kept; empty for "
                                   "the default. Models already installed are not moved.")
        self.models_dir.setClearButtonEnabled(True)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.models_dir, 1)
        folder_row.addWidget(self.browse_button)

        self.persona = QComboBox()
        try:
            personas = all_personas()
        except CritiqueError:  # an unreadable personas.json: the built-in ones still work
            personas = dict(BUILTIN_PERSONAS)
        for persona in personas.values():
            self.persona.addItem(persona.name, persona.name)
            self.persona.setItemData(self.persona.count() - 1, persona.description,
                                     Qt.ItemDataRole.ToolTipRole)
        if not self._select(self.persona, settings.default_persona):
            self._select(self.persona, "critic")
        self.persona.setToolTip("Who speaks in the critique")

        critics = self._installed(store, CRITIC_TASKS)
        best = critics[0] if critics else "none installed: rules only"
        self.critic = QComboBox()
        self.critic.addItem(f"Best installed ({best})", BEST)
        for name in critics:
            self.critic.addItem(name, name)
        self.critic.addItem("Rules only (no language model)", RULES_ONLY)
        self.critic.setToolTip("The language model that writes the critique; rules only writes "
                               "every section from the labels, measurements and EXIF alone")
        if not settings.use_language_model:
            self._select(self.critic, RULES_ONLY)
        else:
            self._select_model(self.critic, settings.critic_model)

        scorers = self._installed(store, ("score",))
        self.scorer = QComboBox()
        self.scorer.addItem("Best installed" if scorers else "Best installed (none installed)",
                            BEST)
        for name in scorers:
            self.scorer.addItem(name, name)
        self.scorer.setToolTip("The trained model that scores photos")
        self._select_model(self.scorer, settings.scorer_model)

        self.auto_critique = QCheckBox("Critique automatically when a photo opens")
        self.auto_critique.setChecked(settings.auto_critique)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Device:", self.device)
        form.addRow("Models folder:", folder_row)
        form.addRow("Default persona:", self.persona)
        form.addRow("Critic:", self.critic)
        form.addRow("Scorer:", self.scorer)
        form.addRow("", self.auto_critique)
        note = QLabel("Models already installed are not moved: a new models folder starts "
                      "empty until models are pulled or imported there.")
        note.setWordWrap(True)
        note.setEnabled(False)  # the palette's quiet colour
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(max(560, self.sizeHint().width()), self.sizeHint().height())

    # -- overridable for tests ----------------------------------------------------------
    def cuda_available(self) -> bool:
        return cuda_available()

    def choose_models_folder(self, start: str) -> str | None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", start)
        return folder or None

    # -- result ---------------------------------------------------------------------------
    def result_settings(self) -> Settings:
        """A new Settings from the fields (the one given is left as it was)."""
        critic = self.critic.currentData()
        return dataclasses.replace(
            self._original,
            device=self.device.currentData(),
            models_dir=self.models_dir.text().strip() or None,
            default_persona=self.persona.currentData(),
            use_language_model=critic != RULES_ONLY,
            critic_model=None if critic in (RULES_ONLY, BEST) else critic,
            scorer_model=None if self.scorer.currentData() == BEST else self.scorer.currentData(),
            auto_critique=self.auto_critique.isChecked(),
            recent=list(self._original.recent),
            warning=None,
        )

    @classmethod
    def edit(cls, settings: Settings, store, parent: QWidget | None = None) -> Settings | None:
        """Show the dialog modally: the new Settings after OK, None after Cancel."""
        dialog = cls(settings, store, parent)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.result_settings() if accepted else None

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _installed(store, tasks: tuple[str, ...]) -> list[str]:
        if store is None:
            return []
        try:
            return [name for task in tasks for name in store.installed_for_task(task)]
        except (CritiqueError, OSError):
            return []

    @staticmethod
    def _select(combo: QComboBox, value) -> bool:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)
        return index >= 0

    def _select_model(self, combo: QComboBox, name: str | None) -> None:
        """Select ``name``; one that is no longer installed stays, marked, so OK keeps it."""
        if not self._select(combo, name or BEST):
            combo.insertItem(1, f"{name} (not installed)", name)
            combo.setCurrentIndex(1)

    def _browse(self) -> None:
        start = self.models_dir.text().strip() or self.models_dir.placeholderText()
        folder = self.choose_models_folder(start)
        if folder:
            self.models_dir.setText(folder)
