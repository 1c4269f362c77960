"""Page 3: the model to start from, and the hardware it will train on.

The starting points come from the model store (nothing is downloaded here; a
missing one says how to get it with Models…). The hardware is what the trainer
itself detects, and the memory estimate is the trainer's, against the card's
memory (or an RTX 2080 Ti's 11 GiB when there is no GPU).
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from critique_app.core.finetuning import probes
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.finetune.widgets import GiB, MessageLabel, gib, note

LITE0_STORE = "efficientnet-lite0-imagenet"
CRITIC_DEFAULT = "smolvlm-256m-instruct"  # the trainer's default critic VLM
PROFILES = (("Automatic", "auto", "the trainer picks the GPU or the CPU"),
            ("RTX 2080 Ti (11 GB, fp16)", "2080ti",
             "fp16, gradient checkpointing, memory capped at 11 GiB"),
            ("Another NVIDIA GPU", "cuda", "fp16 (bf16 on newer cards)"),
            ("CPU only", "cpu", "slow; fine for small runs"))
REFERENCE_GIB = 11.0  # an RTX 2080 Ti: what estimates are held against without a GPU
OTHER = ("other", None)
FROZEN = ("frozen", "lite0")  # personal without --base (Learn my taste)


class ModelPage(QWizardPage):
    # (the estimate in words, whether it fits): also shown under the settings page's
    # batch size, which asks for a new estimate when it changes
    memoryEstimated = Signal(str, bool)

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Starting model and hardware")
        self.setSubTitle("Training adjusts an existing model to your data.")
        self.base = QComboBox()
        self.base.setMinimumContentsLength(40)
        self.base.currentIndexChanged.connect(self._base_changed)
        self.other = QLineEdit()
        self.other.setPlaceholderText("a timm architecture name, e.g. efficientnet_b0 "
                                      "(random start, nothing is downloaded)")
        self.other.textChanged.connect(self._base_changed)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.clicked.connect(self.choose_folder)
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("Open the model store to pull or import models")
        self.models_button.clicked.connect(self.show_models)
        self.base_note = MessageLabel()

        row = QHBoxLayout()
        row.addWidget(self.base, 1)
        row.addWidget(self.folder_button)
        row.addWidget(self.models_button)
        start = QGroupBox("Start from")
        start_layout = QVBoxLayout(start)
        start_layout.addLayout(row)
        start_layout.addWidget(self.other)
        start_layout.addWidget(self.base_note)

        self.hardware_label = MessageLabel()
        self.profile = QComboBox()
        for text, value, tip in PROFILES:
            self.profile.addItem(text, value)
            self.profile.setItemData(self.profile.count() - 1, tip, 3)  # ToolTipRole
        self.profile.currentIndexChanged.connect(self.schedule_estimate)
        self.memory = MessageLabel()
        hardware = QGroupBox("Hardware")
        form = QFormLayout()
        form.addRow("Found:", self.hardware_label)
        form.addRow("Train on:", self.profile)
        form.addRow("Memory:", self.memory)
        self.memory_note = note()
        about = note("The estimate is the trainer's own: weights, gradients, optimizer state "
                     "and activations, measured without running the model. It is checked "
                     "again when training starts, with your batch size.")
        hardware_layout = QVBoxLayout(hardware)  # wrapped notes below the form keep their size
        hardware_layout.addLayout(form)
        hardware_layout.addWidget(self.memory_note)
        hardware_layout.addWidget(about)

        layout = QVBoxLayout(self)
        layout.addWidget(start)
        layout.addWidget(hardware)
        layout.addStretch(1)

        self._estimate_timer = QTimer(self, singleShot=True, interval=250)
        self._estimate_timer.timeout.connect(self.estimate)
        self._estimate_generation = 0
        self.estimate_result: list[dict] | None = None
        self.last_estimate: tuple[str, bool] = ("", True)  # (in words, fits)
        self._connected = False
        self._task_shown: str | None = None

    # --- setup ----------------------------------------------------------------------------
    def initializePage(self) -> None:
        wizard = self.wizard()
        if not self._connected:
            wizard.hardwareDetected.connect(self._hardware_known)
            self._connected = True
        if self._task_shown != wizard.task:
            self._task_shown = wizard.task
            self.refresh_choices()
        self._show_hardware()
        self.schedule_estimate()

    def refresh_choices(self) -> None:
        task = self.wizard().task
        previous = self.base.currentData()
        self.base.blockSignals(True)
        self.base.clear()
        try:
            store = ModelStore()
            self._add_choices(task, store)
        except CritiqueError as error:
            self.base_note.show_error(str(error))
        self.base.blockSignals(False)
        index = self.base.findData(previous) if previous is not None else -1
        # The first (recommended) choice, even when it is missing: the page then says how
        # to get it, rather than quietly starting from something else.
        if index < 0 and task == "personal" and self.base.count() and not self._enabled(0):
            # Learn my taste needs the ImageNet backbone: without it, an installed scorer
            index = next((i for i in range(self.base.count()) if self._enabled(i)), -1)
        self.base.setCurrentIndex(max(index, 0))
        self.folder_button.setVisible(task in ("personal", "critic"))
        self.folder_button.setToolTip({"personal": "A score model folder written by the trainer",
                                       "critic": "A vision-language model folder (transformers)"
                                       }.get(task, ""))
        self._base_changed()

    def _add_choices(self, task: str, store: ModelStore) -> None:
        if task in ("score", "ssl"):
            lite0 = store.path(LITE0_STORE) is not None
            self._add("EfficientNet-Lite0 with ImageNet weights (recommended)",
                      ("backbone", "lite0"), enabled=lite0)
            if task == "score":
                for name in store.installed_for_task("backbone"):
                    if name != LITE0_STORE:
                        self._add(f"My self-supervised backbone “{name}”",
                                  ("init", str(store.require(name))))
                for name in store.installed_for_task("score"):
                    self._add(f"Continue training the score model “{name}”",
                              ("init", str(store.require(name))))
            self._add("Another architecture, from a random start…", OTHER)
        elif task == "personal":
            # The photo page's "Learn my taste": the same command and the same install.
            self._add("No starting model: learn from the ImageNet backbone's features "
                      "(recommended, seconds)", FROZEN, enabled=store.path(LITE0_STORE) is not None)
            for name in store.installed_for_task("score"):
                self._add(f"Score model “{name}”", ("base", name))
        elif task == "critic":
            for name in store.installed_for_task("critic"):
                self._add(f"{name}", ("base", name))

    def _add(self, text: str, data, *, enabled: bool = True) -> None:
        self.base.addItem(text if enabled else f"{text} — not installed", data)
        if not enabled:
            model = self.base.model()
            if isinstance(model, QStandardItemModel):
                model.item(self.base.count() - 1).setEnabled(False)

    def _enabled(self, index: int) -> bool:
        model = self.base.model()
        return not isinstance(model, QStandardItemModel) or model.item(index).isEnabled()

    # --- the starting model ---------------------------------------------------------------
    def choice(self) -> tuple[str, str | None] | None:
        index = self.base.currentIndex()
        if index < 0 or not self._enabled(index):
            return None
        return self.base.currentData()

    def set_other_architecture(self, name: str) -> None:
        """Train a timm architecture from random weights (tests and experiments)."""
        self.base.setCurrentIndex(self.base.findData(OTHER))
        self.other.setText(name)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        data = ("base", str(folder))
        index = self.base.findData(data)
        if index < 0:
            self.base.addItem(f"Folder: {folder}", data)
            index = self.base.count() - 1
        self.base.setCurrentIndex(index)

    def show_models(self) -> None:
        from critique_app.gui.models.dialog import ModelsDialog

        dialog = ModelsDialog(self.wizard().bridge, parent=self)
        dialog.modelsChanged.connect(self.wizard().modelsChanged)
        dialog.exec()
        self.refresh_choices()

    def _base_changed(self) -> None:
        task = self.wizard().task if self.wizard() else "score"
        choice = self.choice()
        self.other.setVisible(choice == OTHER)
        if self.base.count() == 0 or (choice is None and not self._enabled(
                max(0, self.base.currentIndex()))):
            self.base_note.show_error(self._missing_text(task), rich=True)
        elif choice == OTHER:
            self.base_note.show_info("Starts from random weights: it needs much more data "
                                     "than starting from a trained model.")
        elif choice and choice[0] == "init":
            self.base_note.show_info("Starts from this model's weights.")
        elif choice == FROZEN:
            self.base_note.show_info("A small model on the frozen features of EfficientNet-"
                                     "Lite0 learns your ratings in seconds, like Learn my taste "
                                     "on the photo page; it scores beside the general model, "
                                     "as the personal model, under the folder's name. The next "
                                     "page's settings do not apply to it.")
        else:
            self.base_note.show_info(_about(task))
        self.completeChanged.emit()
        self.schedule_estimate()

    @staticmethod
    def _missing_text(task: str) -> str:
        if task in ("score", "ssl"):
            return ("The ImageNet backbone is not installed: pull "
                    f"<b>{LITE0_STORE}</b> in Models… (about 19 MB), or train another "
                    "architecture from a random start.")
        if task == "personal":
            return ("No score model is installed, nor the ImageNet backbone to learn from: "
                    f"pull <b>{LITE0_STORE}</b> in Models… (about 19 MB), train a score model "
                    "first (the Score model task), or choose a score model folder.")
        return (f"No critic model is installed: pull <b>{CRITIC_DEFAULT}</b> in Models…, or "
                "choose a vision-language model folder.")

    def isComplete(self) -> bool:
        choice = self.choice()
        if choice is None:
            return False
        return choice != OTHER or bool(self.other.text().strip())

    def contribute(self, plan) -> None:
        choice = self.choice()
        if choice == OTHER:
            plan.base = self.other.text().strip()
        elif choice is not None:
            kind, value = choice
            if kind == "init":
                plan.init = Path(value)
            elif kind != "frozen":
                plan.base = value
        plan.profile = self.profile.currentData()

    # --- hardware -------------------------------------------------------------------------
    def _hardware_known(self, _hardware) -> None:
        self._show_hardware()
        self.schedule_estimate()

    def _show_hardware(self) -> None:
        wizard = self.wizard()
        hardware, gpu = wizard.hardware, (wizard.hardware or {}).get("gpu")
        if wizard.hardware_error:
            self.hardware_label.show_error(f"The hardware could not be checked: "
                                           f"{wizard.hardware_error}")
        elif hardware is None:
            self.hardware_label.show_info("Looking for a GPU…")
        elif gpu:
            total = gpu.get("total_memory_bytes") or gpu.get("total_memory")
            self.hardware_label.show_info(
                f"<b>{html.escape(str(gpu.get('name', 'GPU')))}</b> · compute capability "
                f"{html.escape(str(gpu.get('compute_capability', '?')))} · {gib(total)}",
                rich=True)
        else:
            self.hardware_label.show_info("No GPU: CPU training (slow, fine for small runs).")
        has_gpu = bool(gpu)
        model = self.profile.model()
        if isinstance(model, QStandardItemModel) and hardware is not None:
            for row, (_, value, tip) in enumerate(PROFILES):
                item = model.item(row)
                usable = has_gpu or value in ("auto", "cpu")
                item.setEnabled(usable)
                item.setToolTip(tip if usable else "No CUDA GPU was found on this computer")
            if not has_gpu and self.profile.currentData() in ("2080ti", "cuda"):
                self.profile.setCurrentIndex(0)

    def _limit_gib(self) -> tuple[float, str]:
        """The memory to hold the estimate against, and what it is."""
        gpu = (self.wizard().hardware or {}).get("gpu")
        if gpu and self.profile.currentData() != "cpu":
            total = (gpu.get("total_memory_bytes") or 0) / GiB
            if self.profile.currentData() == "2080ti":
                return min(total or REFERENCE_GIB, REFERENCE_GIB), "the 2080 Ti profile's cap"
            return total, str(gpu.get("name", "the GPU"))
        return REFERENCE_GIB, "an RTX 2080 Ti"

    # --- memory estimate ------------------------------------------------------------------
    def schedule_estimate(self) -> None:
        if self.wizard() is None or (self.wizard().hardware is None and \
                not self.wizard().hardware_error):
            self.memory.show_info("waiting for the hardware check…")
            return
        self.memory.show_info("estimating…")
        self.memory_note.setText("")
        self._estimate_timer.start()

    def estimate(self) -> None:
        wizard = self.wizard()
        task, choice = wizard.task, self.choice()
        if choice is None or (choice == OTHER and not self.other.text().strip()):
            self.memory.show_info("")
            return
        if choice == FROZEN:
            self.memory.show_info("little memory: the backbone only reads each photo once, "
                                  "CPU or GPU")
            return
        base = None
        if choice == OTHER:
            base = self.other.text().strip()
        elif choice[0] in ("backbone", "base"):
            base = choice[1]
        if task == "critic" and base:
            base = _hub_id(base)
        limit, against = self._limit_gib()
        try:
            plan = wizard.build_plan()
        except (CritiqueError, ValueError):
            plan = None
        input_size = plan.input_size if plan is not None and task != "critic" else None
        batch_size = plan.batch_size if plan is not None else None
        self._estimate_generation += 1
        generation = self._estimate_generation

        def work(_task):
            return probes.estimate_memory(task, base=base, input_size=input_size,
                                          batch_size=batch_size, limit_gb=round(limit, 2))

        wizard.call("estimate memory", work,
                    on_done=lambda rows: self._estimated(generation, rows, limit, against),
                    on_error=lambda message: self._estimate_failed(generation, message))

    def _estimated(self, generation: int, rows: list[dict], limit: float, against: str) -> None:
        if generation != self._estimate_generation:
            return
        self.estimate_result = rows
        if not rows:
            self.memory.show_info("no estimate for this model")
            return
        of = f"of {limit:.0f} GiB" if limit >= 10 else f"of {limit:.1f} GiB"
        no_gpu = not (self.wizard().hardware or {}).get("gpu")
        where = " (if trained on one)" if no_gpu else ""
        if len(rows) == 1:
            row = rows[0]
            text = f"≈ {row['total_gib']:.1f} GiB {of} on {against}{where}"
            detail = f"at batch size {row.get('batch_size')}"
            if row.get("input_size"):
                detail += f", {row['input_size']} px"
            fits = bool(row.get("fits"))
        else:
            text = " · ".join(f"batch {r['batch_size']}: {r['total_gib']:.1f} GiB" for r in rows)
            fitting = [r["batch_size"] for r in rows if r.get("fits")]
            fits = bool(fitting)
            text += f" ({of} on {against}{where})"
            detail = f"fits up to batch size {max(fitting)}" if fitting else ""
        self.last_estimate = (f"{text} — {'fits' if fits else 'does not fit'}", fits)
        self.memoryEstimated.emit(*self.last_estimate)
        if fits:
            self.memory.show_good(f"{text} — fits")
            self.memory_note.setText(detail.capitalize() + "." if detail else "")
        else:
            self.memory.show_error(f"{text} — does not fit")
            self.memory_note.setText(
                (detail.capitalize() + ". " if detail else "") +
                "Lower the batch size or turn on gradient checkpointing (next page, Advanced), "
                "or choose a smaller model." +
                (" With the 2080 Ti profile a score run halves its batch until it fits."
                 if self.wizard().task != "critic" else ""))

    def _estimate_failed(self, generation: int, message: str) -> None:
        if generation != self._estimate_generation:
            return
        self.estimate_result = None
        self.memory.show_info(f"no estimate ({message})")


def _about(task: str) -> str:
    return {
        "score": "Only the last layers are trained at first (fast, little data needed).",
        "ssl": "The backbone learns what your photos look like, without ratings.",
        "personal": "Your ratings adjust this model's head to your taste; its held-out "
                    "accuracy is shown beside the new model's.",
        "critic": "A small LoRA adapter is trained; the model itself is not changed.",
    }[task]


def _hub_id(name: str) -> str:
    """The memory table knows VLMs by their Hugging Face id: map a store name onto it."""
    if Path(name).is_dir():
        return name
    try:
        source = ModelStore().entry(name).source
    except CritiqueError:
        return name
    return getattr(source, "repo", None) or name
