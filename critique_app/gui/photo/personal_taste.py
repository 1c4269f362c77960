"""Learn my taste: the score panel's personal score, and the one click that learns it.

:class:`PersonalBox` (in the score panel) shows "Your taste: 6.4 (learned from 54
ratings, held-out SRCC 0.83 [0.66–0.95])", when it was learned, and a "Learn my taste"
button that stays disabled, saying how many more photos to rate, until the open folder
holds :data:`MIN_RATINGS` of the photographer's own ratings.

:class:`PersonalTaste` runs the trainer, ``python -m train personal`` without a base
(:func:`~critique_app.core.finetuning.personal.personal_argv`, the command the wizard's
Personal taste task runs too), as its own process through :class:`TrainerProcess`:
progress bar, Cancel, never the UI thread. A finished run is imported through the bridge
(:func:`install_personal`, the folder's stable name, replacing the last one) and made the
personal model in the settings. After every ``Settings.personal_retrain_every`` new
ratings of the folder it learned from it learns again in the background; a newer request
replaces a running one, and a failure is one line in the box, never a dialog.
"""

from __future__ import annotations

import html
import logging
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.finetuning.personal import (
    MIN_RATINGS,
    install_personal,
    next_run_dir,
    personal_argv,
    personal_model_name,
    read_personal_info,
    usable_rating,
)
from critique_app.core.finetuning.plan import train_command
from critique_app.core.finetuning.protocol import parse_event
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.finetune.process import TrainerProcess

log = logging.getLogger("critique.gui")
ERROR_COLOUR = "#c62828"
LEARN_TIP = ("Learn how you rate from your own star ratings, picks and rejects in this "
             "folder: a small model on top of the installed EfficientNet-Lite0's features, "
             "trained in its own process in seconds. Its score shows beside the general one.")


def taste_text(mean: float) -> str:
    """The personal score on the 1-10 scale: a ridge head can predict past either end for a
    photo unlike the rated ones, shown as "10+" or "1−" (the value is in the tooltip)."""
    if mean > 10:
        return "10+"
    if mean < 1:
        return "1−"
    return f"{mean:.1f}"


def more_text(usable: int) -> str:
    more = MIN_RATINGS - usable
    return f"rate {more} more photo{'s' if more != 1 else ''} to learn your taste"


class PersonalBox(QFrame):
    """The personal score and the Learn my taste controls (no work happens here)."""

    learnRequested = Signal()
    cancelRequested = Signal()
    changed = Signal()  # its height may have changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.score = QLabel(self)
        font = QFont(self.score.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.score.setFont(font)
        self.score.setWordWrap(True)
        self.score.setTextFormat(Qt.TextFormat.RichText)
        self.score.setToolTip("Your personal model's score: how it predicts you would rate "
                              "this photo, learned from your own ratings")
        self.learned = _small(self)
        self.button = QPushButton("Learn my taste", self)
        self.button.setToolTip(LEARN_TIP)
        self.button.clicked.connect(self.learnRequested)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setToolTip("Stop learning; nothing is installed")
        self.cancel.clicked.connect(self.cancelRequested)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.status = _small(self)
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.score)
        layout.addWidget(self.learned)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._offer = False  # a folder is open: the button is shown
        self.set_idle()
        self.clear_score()

    # --- the score --------------------------------------------------------------------
    def show_score(self, personal) -> None:
        """A :class:`~critique_app.core.app.services.PersonalScore` of the open photo."""
        info = personal.info
        tip = []
        if personal.score is None:
            self.score.setText("<b>Your taste:</b> " + html.escape(personal.problem or "no score"))
        else:
            mean = personal.score.mean
            detail = info.summary() if info is not None else ""
            self.score.setText(f"<b>Your taste: {taste_text(mean)}</b>"
                               + (f" ({html.escape(detail)})" if detail else ""))
            if not 1 <= mean <= 10:
                tip.append(f"its model says {mean:.1f}, past the 1-10 scale: this photo is "
                           "unlike the ones you rated")
        if info is not None:
            tip.insert(0, f"Your personal model “{info.name}”")
            if info.folder:
                tip.append(f"learned from your ratings in {info.folder}")
            if info.held_out:
                tip.append(f"measured on {info.held_out} ratings held out from learning "
                           "(SRCC: how well it orders them as you did; 95% interval)")
        self.score.setToolTip("; ".join(tip) or "Your personal model's score")
        self.score.show()
        self.learned.setText(info.learned_text() if info is not None else "")
        self.learned.setVisible(bool(self.learned.text()))
        self._update_visibility()

    def clear_score(self) -> None:
        self.score.hide()
        self.learned.hide()
        self._update_visibility()

    def score_text(self) -> str:
        return self.score.text() if self.score.isVisibleTo(self) else ""

    # --- the controls -------------------------------------------------------------------
    def set_learned_here(self, learned: bool) -> None:
        """The personal model in use learned from this folder: the button learns again."""
        self.button.setText("Learn again" if learned else "Learn my taste")
        self.button.setToolTip(("Learn again from this folder's ratings now (it also does "
                                "so by itself after new ratings). " if learned else "")
                               + LEARN_TIP)

    def set_offer(self, shown: bool) -> None:
        self._offer = shown
        self._update_visibility()

    def set_count(self, usable: int) -> None:
        """How many usable ratings the open folder holds (shown when nothing runs)."""
        if self.running:
            return
        enough = usable >= MIN_RATINGS
        self.button.setEnabled(enough)
        if not enough:
            self.set_status(more_text(usable), kind="count")
        elif self.status.property("kind") == "count":
            self.set_status("")

    @property
    def running(self) -> bool:
        return not self.cancel.isHidden()

    def set_running(self, text: str, background: bool = False) -> None:
        self.button.hide()
        self.progress.show()
        self.progress.setValue(0)
        self.cancel.show()
        self.cancel.setEnabled(True)
        self.set_status(text)
        self._update_visibility()

    def set_progress(self, fraction: float | None, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)  # busy
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))
        self.set_status(text)

    def set_idle(self, message: str = "", error: bool = False) -> None:
        self.button.show()
        self.progress.hide()
        self.cancel.hide()
        self.set_status(message, error=error)
        self._update_visibility()

    def set_status(self, text: str, error: bool = False, kind: str = "") -> None:
        self.status.setProperty("kind", "error" if error else kind)
        self.status.setStyleSheet(f"color: {ERROR_COLOUR}" if error else "")
        self.status.setText(text)
        self.status.setToolTip(text if error else "")
        self.status.setVisible(bool(text))
        self.changed.emit()

    def status_text(self) -> str:
        return self.status.text() if not self.status.isHidden() else ""

    def _update_visibility(self) -> None:
        offer = self._offer or not self.cancel.isHidden()
        self.button.setVisible(self._offer and self.cancel.isHidden())
        self.setVisible(offer or not self.score.isHidden())
        self.changed.emit()


def _small(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class PersonalTaste(QObject):
    """Runs "Learn my taste" for the open folder and keeps the personal model current.

    ``learned(name)``: a new personal model was installed and set in the settings (the
    page re-scores the open photo with it and the main window saves the settings)."""

    learned = Signal(str)
    status = Signal(str)  # one line for the status bar

    def __init__(self, bridge, services, ratings, box: PersonalBox,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.services, self.ratings, self.box = bridge, services, ratings, box
        self.process = TrainerProcess(self)
        self.process.stdoutLine.connect(self._stdout)
        self.process.ended.connect(self._ended)
        self.folder: Path | None = None
        self.run_folder: Path | None = None  # the folder the run under way learns from
        self.run_dir: Path | None = None
        self.name: str | None = None
        self.background = False  # the run was started by new ratings, not a click
        self.cancelled = False
        self.pending: bool | None = None  # a newer request: background or not
        self.changed: set[Path] = set()  # photos rated since the last learning began
        self.last_error: str | None = None
        self.installs = 0
        self._result: dict | None = None
        self._error: str | None = None
        self._photos = 0
        self._phase = ""
        self._install_task = None
        box.learnRequested.connect(lambda: self.learn(background=False))
        box.cancelRequested.connect(self.cancel)
        ratings.ratingsChanged.connect(lambda _folder, _rated: self._count_changed())
        ratings.ratingChanged.connect(lambda _path, _rating: self._schedule_count())
        self._count_timer = QTimer(self, singleShot=True, interval=150)
        self._count_timer.timeout.connect(self._count_changed)

    # --- the folder and its ratings -------------------------------------------------------
    def set_folder(self, folder: Path | None) -> None:
        if folder != self.folder:
            self.changed.clear()
        self.folder = Path(folder) if folder is not None else None
        self.box.set_offer(self.folder is not None)
        self._count_changed()

    def usable_count(self) -> int:
        return sum(1 for photo in self.ratings.photos if usable_rating(self.ratings.rating(photo)))

    def _schedule_count(self) -> None:
        self._count_timer.start()  # a folder's read emits once per photo: count once

    def _count_changed(self) -> None:
        if self.folder is not None:
            self.box.set_count(self.usable_count())
            self.box.set_learned_here(self._learned_here())

    def rated(self, photo: Path) -> None:
        """The photographer rated ``photo`` (called by the page): after enough new ratings
        of the folder the personal model learned from, it learns again."""
        if self.folder is None or Path(photo).parent != self.folder:
            return
        self.changed.add(Path(photo))
        QTimer.singleShot(0, self._maybe_retrain)  # after the rating shows in the controller

    def _maybe_retrain(self) -> None:
        every = max(1, int(self.services.settings.personal_retrain_every or 10))
        if len(self.changed) < every or not self._learned_here():
            return
        if self.usable_count() < MIN_RATINGS:
            return
        self.learn(background=True)

    def _learned_here(self) -> bool:
        """Whether the personal model in use learned from the open folder."""
        name = self.services.settings.personal_model
        if not name or self.folder is None:
            return False
        try:
            installed = self.services.store().path(name)
        except CritiqueError:
            return False
        if installed is None:
            return False
        return read_personal_info(installed, name).folder == str(self.folder.resolve())

    # --- running ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process.running or self._install_task is not None

    def learn(self, *, background: bool = False) -> None:
        """Learn the open folder's taste; a run under way is stopped and this one follows
        (it learns from the folder open when it starts)."""
        if self.folder is None:
            return
        if self.running:  # training (stopped now) or installing: this request follows
            self.pending = background if self.pending is None else (self.pending and
                                                                    background)
            if self.process.running:
                self.process.stop()
                self.box.set_progress(None, "a newer request: starting again…")
            return
        folder = self.folder
        try:
            self.name = personal_model_name(folder, self.services.store())
            self.run_dir = next_run_dir(folder)
        except CritiqueError as error:
            self._fail(str(error))
            return
        self.changed.clear()
        self.run_folder = folder
        self.background, self.cancelled, self.pending = background, False, None
        self._result = self._error = None
        self._photos, self._phase = 0, ""
        self.last_error = None
        command = train_command(personal_argv(folder, self.run_dir, self.name))
        log.info("learning your taste: %s", " ".join(command))
        self.box.set_running("learning your taste again from new ratings…" if background
                             else "learning your taste…", background)
        self.box.set_progress(None, "starting the trainer…")
        self.status.emit("learning your taste from this folder's ratings…")
        self.process.start(command)

    def cancel(self) -> None:
        if self.process.running:
            self.cancelled = True
            self.pending = None
            self.box.cancel.setEnabled(False)
            self.box.set_progress(None, "cancelling…")
            self.process.stop()

    def shutdown(self) -> None:
        """Stop the trainer and wait, so no trainer outlives the app (closing)."""
        self.cancelled = True
        self.pending = None
        self.process.stop_and_wait()

    def _stdout(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            return
        kind = event.get("event")
        if kind == "start":
            task = str(event.get("task") or "")
            self._phase = "features" if task.startswith("embed") else "fit"
            config = event.get("config") or {}
            self._photos = int(config.get("photos") or 0) if self._phase == "features" \
                else self._photos
            if self._phase == "fit":
                self.box.set_progress(0.92, "fitting your taste…")
            else:
                self.box.set_progress(0.0, f"reading your {self._photos} rated photos…")
        elif kind == "step" and self._phase == "features":
            done = int(event.get("photos_done") or 0)
            total = self._photos or 1
            step, steps = event.get("step") or 0, event.get("total_steps") or 1
            fraction = done / total if done else step / steps
            self.box.set_progress(0.9 * fraction,
                                  f"reading your rated photos: {done} of {self._photos}"
                                  if done else "reading your rated photos…")
        elif kind == "log" and "ONNX export" in str(event.get("message", "")):
            self.box.set_progress(0.98, "checking the model…")
        elif kind == "error":
            self._error = str(event.get("message") or "learning failed")
        elif kind == "done":
            self._result = event.get("result") or {}

    def _ended(self, exit_code: int, how: str) -> None:
        run_dir, name, folder = self.run_dir, self.name, self.run_folder
        if self.pending is not None:  # a newer request replaced this run
            background, self.pending = self.pending, None
            _remove(run_dir)
            self.box.set_idle()
            self.learn(background=background)
            return
        if self.cancelled:
            _remove(run_dir)
            self.box.set_idle("cancelled: nothing was installed")
            self.status.emit("learning your taste was cancelled: nothing was installed")
            self._count_changed()
            return
        result = self._result or {}
        model_dir = result.get("model_dir")
        if exit_code != 0 or not model_dir or result.get("stopped_early"):
            message = self._error or _last_line(self.process.stderr_tail) or \
                f"the trainer stopped ({how}, exit code {exit_code})"
            self._fail(message)
            return
        self.box.set_progress(None, "installing…")
        ratings = self.usable_count() if folder == self.folder else None
        services = self.services

        def work(task):
            return install_personal(Path(model_dir), folder, name, store=services.store(),
                                    ratings=ratings)

        self._install_task = self.bridge.call(
            f"install {name}", work, on_done=lambda _path: self._installed(name),
            on_error=self._fail)
        self._install_task.finished.connect(self._install_ended)

    def _install_ended(self) -> None:
        self._install_task = None
        if self.pending is not None:
            background, self.pending = self.pending, None
            self.learn(background=background)

    def _installed(self, name: str) -> None:
        self.installs += 1
        self.services.settings.personal_model = name
        self.services.models_changed()
        self.box.set_idle()
        self._count_changed()
        self.status.emit(f"your taste was learned: {name} scores beside the general model")
        self.learned.emit(name)

    def _fail(self, message: str) -> None:
        message = _last_line(str(message).splitlines()[:1]) or "learning failed"
        self.last_error = message
        self.box.set_idle(f"not learned: {message}", error=True)
        self.status.emit(f"your taste was not learned: {message}")
        self.box.button.setEnabled(self.folder is not None
                                   and self.usable_count() >= MIN_RATINGS)


def _last_line(lines) -> str:
    lines = [str(line).strip() for line in lines if str(line).strip()]
    if not lines:
        return ""
    line = lines[-1]
    return line[len("error: "):] if line.startswith("error: ") else line


def _remove(run_dir: Path | None) -> None:
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
