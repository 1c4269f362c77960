"""Page 6: how good the new model is, and installing it.

The metrics are measured on the held-out photos, beside the starting model's
when the trainer measured those too. A few held-out examples show what the
model does (rated vs predicted scores, or critiques it wrote). "Install" copies
the model into the store (asking for another name when the name is taken) and
makes it the one the app uses, so the open photo is scored with it at once.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices, QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWizardPage,
)

from critique_app.core.app.settings import Settings, save_settings
from critique_app.core.finetuning.personal import (
    install_personal,
    learned_folder_of_run,
    personal_model_name,
)
from critique_app.core.finetuning.runs import read_results
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.finetune.widgets import ERROR_COLOUR, GOOD_COLOUR, MessageLabel, gib, note

THUMB = 72
EXAMPLES_SHOWN = 8
METRICS = {  # name, lower is better
    "srcc": ("Rank correlation with the ratings (SRCC)", False),
    "plcc": ("Linear correlation (PLCC)", False),
    "emd": ("Distribution error (EMD)", True),
    "accuracy": ("Good/bad agreement (at 5)", False),
    "loss": ("Loss", True),
    "perplexity": ("Perplexity", True),
    "bleu_1": ("BLEU-1", False), "bleu_2": ("BLEU-2", False), "bleu_3": ("BLEU-3", False),
    "bleu_4": ("BLEU-4", False), "meteor": ("METEOR", False), "rouge_l": ("ROUGE-L", False),
    "cider": ("CIDEr-D", False), "emotion_accuracy": ("Emotion accuracy", False),
}
COUNTS = ("n", "examples", "unreadable")


class ResultsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Results")
        self.setSubTitle("Measured on the photos held out from training.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics = QTableWidget(0, 3)
        self.metrics.setHorizontalHeaderLabels(["Measure", "New model", "Starting model"])
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.metrics.verticalHeader().hide()
        self.metrics.setAlternatingRowColors(True)
        self.metrics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.metrics.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics_note = note()
        self.examples_title = QLabel("<b>Examples from the held-out photos</b>")
        self.score_examples = QTableWidget(0, 3)
        self.score_examples.setHorizontalHeaderLabels(["Photo", "Rated", "Predicted"])
        self.score_examples.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.score_examples.verticalHeader().hide()
        self.score_examples.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.score_examples.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.score_examples.setIconSize(QSize(THUMB, THUMB))
        self.score_examples.verticalHeader().setDefaultSectionSize(THUMB + 6)
        header = self.score_examples.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.critiques = QTextBrowser()
        self.critiques.setOpenLinks(False)
        self.examples = QStackedWidget()
        self.examples.addWidget(self.score_examples)
        self.examples.addWidget(self.critiques)

        self.install_button = QPushButton("Install")
        self.install_button.setToolTip("Copy the model into the model store and use it")
        self.install_button.clicked.connect(self.install)
        self.folder_button = QPushButton("Show folder")
        self.folder_button.setToolTip("The model folder, with its model card (README.md)")
        self.folder_button.clicked.connect(self._show_folder)
        self.install_message = MessageLabel()
        install_row = QHBoxLayout()
        install_row.addWidget(self.install_button)
        install_row.addWidget(self.folder_button)
        install_row.addWidget(self.install_message, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.metrics)
        layout.addWidget(self.metrics_note)
        layout.addWidget(self.examples_title)
        layout.addWidget(self.examples, 1)
        layout.addLayout(install_row)

        self.model_dir: Path | None = None
        self.personal_folder: Path | None = None
        self.results: dict = {}
        self.installed_name: str | None = None
        self._busy = False

    # --- entering -------------------------------------------------------------------------
    def initializePage(self) -> None:
        wizard = self.wizard()
        if wizard.chosen_action == "results" and wizard.chosen_run is not None:
            model_dir = wizard.chosen_run.model_dir
        else:
            model_dir = wizard.model_dir
        self.show_results(model_dir)

    def show_results(self, model_dir: Path | None) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        # A Learn-my-taste run (personal without a starting model) installs as the photo
        # page's does: the folder's personal model, scored beside the general one.
        self.personal_folder = learned_folder_of_run(self.model_dir.parent) \
            if self.model_dir else None
        self.installed_name = None
        self.install_message.show_info("")
        self.results = read_results(self.model_dir) if self.model_dir else {}
        results = self.results
        if not results.get("task"):
            self.summary.setText("No model was written by this run.")
            self.install_button.setEnabled(False)
            return
        self.install_button.setEnabled(True)
        trained_on = _trained_on(results.get("trained_on", ""))
        self.summary.setText(f"<b>{html.escape(results['name'])}</b> "
                             f"({html.escape(_task_name(results['task']))})."
                             + (f" {html.escape(trained_on)}." if trained_on else ""))
        self._fill_metrics(results.get("metrics", {}), results.get("baseline_metrics", {}))
        peak = results.get("peak_gpu_memory_bytes")
        notes = []
        n = results.get("metrics", {}).get("n")
        if n:
            notes.append(f"Measured on {n} held-out photos.")
        if peak:
            notes.append(f"Peak GPU memory during training: {gib(peak)}.")
        if results.get("task") == "score":
            notes.append("Higher correlations and agreement are better; a lower error is "
                         "better.")
            if not results.get("baseline_metrics"):
                notes.append("The model it started from had no trained score head, so there "
                             "is no earlier score to compare with.")
        self.metrics_note.setText(" ".join(notes))
        self._fill_examples(results.get("task", ""), results.get("examples", []))
        self.install_button.setText("Install as my taste" if self.personal_folder else
                                    "Install and use" if results["task"] in
                                    ("score", "critic-adapter") else "Install")

    # --- metrics --------------------------------------------------------------------------
    def _fill_metrics(self, metrics: dict, baseline: dict) -> None:
        keys = [k for k in METRICS if k in metrics]
        keys += [k for k in metrics if k not in METRICS and k not in COUNTS
                 and isinstance(metrics[k], int | float)]
        self.metrics.setRowCount(len(keys))
        self.metrics.setColumnHidden(2, not baseline)
        for row, key in enumerate(keys):
            name, lower_better = METRICS.get(key, (key.replace("_", " "), False))
            value, before = metrics.get(key), baseline.get(key)
            cells = [QTableWidgetItem(name), _number(value), _number(before)]
            if isinstance(value, int | float) and isinstance(before, int | float) \
                    and value != before:
                better = (value < before) == lower_better
                cells[1].setForeground(QBrush(QColor(GOOD_COLOUR if better else ERROR_COLOUR)))
            for column, cell in enumerate(cells):
                self.metrics.setItem(row, column, cell)
        height = self.metrics.horizontalHeader().height() + 4
        height += sum(self.metrics.rowHeight(r) for r in range(len(keys)))
        self.metrics.setFixedHeight(max(height, 60))

    def metric_rows(self) -> dict[str, list[str]]:
        table = self.metrics
        return {table.item(r, 0).text(): [table.item(r, c).text() for c in (1, 2)]
                for r in range(table.rowCount())}

    # --- examples -------------------------------------------------------------------------
    def _fill_examples(self, task: str, examples: list[dict]) -> None:
        examples = examples[:EXAMPLES_SHOWN]
        self.examples_title.setVisible(bool(examples))
        self.examples.setVisible(bool(examples))
        if task == "critic-adapter":
            self.examples.setCurrentWidget(self.critiques)
            self.critiques.setHtml(_critiques_html(examples))
            return
        self.examples.setCurrentWidget(self.score_examples)
        table = self.score_examples
        table.setRowCount(len(examples))
        for row, example in enumerate(examples):
            image = Path(str(example.get("image", "")))
            photo = QTableWidgetItem(image.name)
            photo.setToolTip(str(image))
            cells = [photo, _number(example.get("rated"), 1), _number(example.get("predicted"), 1)]
            for column, cell in enumerate(cells):
                table.setItem(row, column, cell)
        paths = [Path(str(e.get("image", ""))) for e in examples]
        if paths:
            self.wizard().call("example thumbnails", lambda task: _thumbnails(paths),
                               on_done=self._set_thumbnails)

    def _set_thumbnails(self, images: list) -> None:
        for row, image in enumerate(images):
            item = self.score_examples.item(row, 0)
            if item is not None and image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))

    def example_rows(self) -> list[list[str]]:
        table = self.score_examples
        return [[table.item(r, c).text() for c in range(3)] for r in range(table.rowCount())]

    # --- installing -----------------------------------------------------------------------
    def ask_name(self, suggested: str, taken: str) -> str | None:
        """Another name when ``taken`` is already installed (overridable in tests)."""
        name, ok = QInputDialog.getText(
            self, "Install the model", f"A model named “{taken}” is already installed. "
            "Install this one as:", text=suggested)
        return name.strip() if ok and name.strip() else None

    def install(self) -> None:
        if self.model_dir is None or self._busy:
            return
        folder = self.personal_folder
        try:
            store = ModelStore()
            name = personal_model_name(folder, store) if folder else \
                self._free_name(store, self.results.get("name") or self.model_dir.parent.name)
        except CritiqueError as error:
            self.install_message.show_error(str(error))
            return
        if name is None:
            self.install_message.show_info("Not installed.")
            return
        model_dir = self.model_dir
        self._busy = True
        self.install_button.setEnabled(False)
        self.install_message.show_info(f"Installing {name}…")

        def work(task):
            if folder is not None:  # the same import as the photo page's Learn my taste
                return install_personal(model_dir, folder, name, store=store)
            return store.import_dir(model_dir, name=name, report=lambda line: None)

        self.wizard().call(f"install {name}", work, on_done=lambda path: self._installed(name),
                           on_error=self._install_failed)

    def _free_name(self, store: ModelStore, name: str) -> str | None:
        while name in store.manifest or store.path(name) is not None:
            taken, suffix = name, 2
            while f"{taken}-{suffix}" in store.manifest or store.path(f"{taken}-{suffix}"):
                suffix += 1
            name = self.ask_name(f"{taken}-{suffix}", taken)
            if name is None:
                return None
            store.folder(name)  # raises for a name that cannot be a folder
        return name

    def _install_failed(self, message: str) -> None:
        self._busy = False
        self.install_button.setEnabled(True)
        self.install_message.show_error(message)

    def _installed(self, name: str) -> None:
        self._busy = False
        self.installed_name = name
        self.wizard().modelsChanged.emit()
        try:
            text = self._activate(name)
        except CritiqueError as error:
            text = f"Installed as {name}, but it could not be made active: {error}"
        self.install_message.show_good(text)

    def _activate(self, name: str) -> str:
        """Make the installed model the one the app uses; returns what happened, in words."""
        wizard = self.wizard()
        task = self.results.get("task")
        new = dataclasses.replace(wizard.settings)
        if self.personal_folder is not None:
            new.personal_model = name
            text = (f"Installed as “{name}”: your taste now scores beside the general model "
                    "on the photo page.")
        elif task == "score":
            new.scorer_model = name
            text = f"Installed as “{name}”: Critique now scores photos with it."
        elif task == "critic-adapter":
            extra = self.results.get("extra", {})
            new.default_persona = extra.get("persona") or new.default_persona
            new.use_language_model = True
            new.critic_model = _critic_for(extra, wizard.settings.critic_model)
            text = (f"Installed as “{name}”: the critique now speaks as the "
                    f"“{new.default_persona}” persona with this adapter.")
        else:
            return (f"Installed as “{name}”. Choose it as the starting point of a Score "
                    "model run.")
        self._apply(new)
        return text

    def _apply(self, new: Settings) -> None:
        wizard = self.wizard()
        if wizard.apply_settings is not None:
            wizard.apply_settings(new)  # the main window saves and re-scores the open photo
        else:
            save_settings(new)
            wizard.settings.__dict__.update(new.__dict__)

    def _show_folder(self) -> None:
        if self.model_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.model_dir)))


def _critic_for(extra: dict, current: str | None) -> str | None:
    """The critic model setting under which the app finds the adapter (its base model)."""
    from critique_app.core.critic.loading import find_language_model

    store = ModelStore()
    base = extra.get("base")
    try:
        in_use = find_language_model(store, current)
    except CritiqueError:
        in_use = None
    if base is None or (in_use is not None and in_use[0] == base):
        return current
    if store.path(base) is not None:
        return base
    if extra.get("base_path") and Path(extra["base_path"]).is_dir():
        return extra["base_path"]
    raise CritiqueError(f"its base model “{base}” is not installed: pull it in Models…")


def _trained_on(text: str) -> str:
    """The model's record of its data, as a sentence, without the metrics it may carry
    (the table shows them): "Trained on ratings.csv (csv) (42 photos)"."""
    text = re.sub(r"; [^()]*\)$", ")", text.strip())
    if not text:
        return ""
    return text[:1].upper() + text[1:] if text.lower().startswith("trained on") else \
        f"Trained on {text}"


def _task_name(task: str) -> str:
    return {"score": "a score model", "critic-adapter": "a critic adapter",
            "backbone": "a backbone for score training"}.get(task, task)


def _number(value, digits: int = 3) -> QTableWidgetItem:
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
    else:
        text = "" if value is None else str(value)
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _thumbnails(paths: list[Path]) -> list:
    """Small previews of the example photos (on a worker thread: QImage is thread-safe)."""
    images = []
    for path in paths:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        images.append(None if image.isNull() else image)
    return images


def _critiques_html(examples: list[dict]) -> str:
    parts = []
    for example in examples:
        name = html.escape(Path(str(example.get("image", ""))).name)
        emotion = example.get("emotion") or {}
        feeling = ""
        if isinstance(emotion, dict) and emotion.get("category"):
            feeling = f" · evokes {html.escape(str(emotion['category']))}"
        critique = html.escape(str(example.get("critique", ""))).replace("\n", "<br>")
        reference = example.get("reference") or {}
        said = "".join(f"<br><i>{html.escape(k)}:</i> {html.escape(str(v))}"
                       for k, v in reference.items() if v)
        parts.append(f"<p><b>{name}</b>{feeling}<br>{critique}"
                     + (f"<br><span style='color: gray'>The dataset says:{said}</span>"
                        if said else "") + "</p>")
    return "<hr>".join(parts)
