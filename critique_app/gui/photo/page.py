"""The photo page: viewer with overlays, filmstrip, and the score / critique / measurement
panels; it runs one photo's work through the bridge and drops stale work on switching.

With no score model installed, the score panel offers the recommended pretrained scorer;
its Pull runs :meth:`ModelStore.pull` through the bridge (progress, Cancel, Retry), and
once installed the services load it and the open photo is scored."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from critique_app.core.critic.events import CritiqueEvent
from critique_app.core.library.ratings import Flag, PhotoRating
from critique_app.core.maps.overlay import overlay_rgba
from critique_app.core.photo.decoded import to_uint8
from critique_app.core.scoring.scorer import NO_SCORER_HINT
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.models.licence import ask_licence
from critique_app.gui.photo.critique_panel import CritiquePanel
from critique_app.gui.photo.filmstrip import Filmstrip
from critique_app.gui.photo.measurements_panel import MeasurementsPanel
from critique_app.gui.photo.overlay_controls import OverlayControls
from critique_app.gui.photo.personal_taste import PersonalTaste
from critique_app.gui.photo.score_panel import ScorePanel
from critique_app.gui.photo.viewer import PhotoViewer
from critique_app.gui.rating.controls import RatingBar, RatingsController, badge

log = logging.getLogger("critique.gui")
OFFER_HINT = ("pull the pretrained one recommended below, or train your own with the bundled "
              "trainer (train/) and add it in Tools ▸ Models ▸ Import…")
PLACEHOLDER = "Open a photo or a folder: File ▸ Open, or drop it here"


def scorer_titles(scorers) -> dict[str, str]:
    """Which model scores each modality: its title, else its store name."""
    return {modality: scorer.title or scorer.info.name
            for modality, scorer in scorers.by_modality.items()}


def scorer_offer(services):
    """The pretrained scorer to offer when no photo score model is installed (worker
    thread: finding the machine imports torch), or None when there is none to pull."""
    from critique_app.core.store.recommend import detect_machine, recommend_scorer

    try:
        store = services.store()
        recommendation = recommend_scorer(list(store.manifest.values()), detect_machine())
    except Exception:  # the offer is extra: a fault in it must not stop the photo opening
        log.exception("no score model to offer")
        return None
    if recommendation is None or store.path(recommendation.entry.name) is not None:
        return None  # installed yet unusable: the panel's message says why
    return recommendation


class PhotoPage(QWidget):
    status = Signal(str)  # one line for the status bar
    photoOpened = Signal(Path)
    milestone = Signal(str, float)  # ("first pixels" | "overlays" | ..., seconds since open)
    modelsChanged = Signal()  # a model was pulled from the score panel's offer
    settingsEdited = Signal()  # the page changed a setting (the personal model): save them

    def __init__(self, bridge: Bridge, thumbnail_bridge: Bridge, services,
                 parent: QWidget | None = None, *, rating_bridge: Bridge | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.services = bridge, services
        # Ratings are read and written in order on one thread of their own.
        self.ratings = RatingsController(rating_bridge or Bridge(threads=1, parent=self), self)
        self.path: Path | None = None
        self.analysis = None
        self.scores: dict = {}
        self.score_models: dict[str, str] = {}  # modality -> the model that scores it
        self._photo_task: Task | None = None
        self._pull_task: Task | None = None
        self._critique_task: Task | None = None
        self._opened_at = 0.0

        self.viewer = PhotoViewer()
        self.viewer.clear(PLACEHOLDER)
        self.overlays = OverlayControls()
        self.filmstrip = Filmstrip(thumbnail_bridge)
        self.filmstrip.hide()
        self.rating_bar = RatingBar()
        self.score_panel = ScorePanel()
        self.measurements = MeasurementsPanel()
        self.critique = CritiquePanel()
        self.critique.set_persona(services.settings.default_persona)
        # Learn my taste: the trainer as its own process, the import through the bridge.
        self.personal = PersonalTaste(bridge, services, self.ratings, self.score_panel.personal,
                                      self)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.overlays)
        left_layout.addWidget(self.viewer, 1)
        left_layout.addWidget(self.rating_bar)
        left_layout.addWidget(self.filmstrip)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.critique, "Critique")
        self.tabs.addTab(self.measurements, "Measurements")
        right = self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.score_panel)
        right.addWidget(self.tabs)
        right.setStretchFactor(1, 1)
        self._fit_score_panel(has_scores=True)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([760, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.overlays.overlayChanged.connect(self._show_overlay)
        self.overlays.opacityChanged.connect(self.viewer.set_overlay_opacity)
        self.filmstrip.photoSelected.connect(self.open_photo)
        self.rating_bar.starsClicked.connect(self.rate_stars)
        self.rating_bar.flagClicked.connect(self.rate_flag)
        self.ratings.ratingChanged.connect(self._rating_changed)
        self.ratings.ratingsChanged.connect(
            lambda _folder, _rated: self.rating_bar.set_count(self.ratings.count_text()))
        self.ratings.status.connect(self.status)
        self.critique.stopRequested.connect(self.stop_critique)
        self.critique.regenerateRequested.connect(self.start_critique)
        self.critique.personaChanged.connect(lambda _: self.start_critique())
        self.critique.suggestionSelected.connect(self.viewer.highlight)
        self.score_panel.offer.pullRequested.connect(self.pull_scorer)
        self.score_panel.offer.cancelRequested.connect(self.cancel_pull)
        self.score_panel.offer.changed.connect(self._offer_changed)
        self.score_panel.personal.changed.connect(self._offer_changed)
        self.personal.learned.connect(self._personal_learned)
        self.personal.status.connect(self.status)

    def settings_changed(self) -> None:
        """New settings: the default persona is selected and the open photo is opened
        again, so its scores and critique come from the newly chosen models."""
        self.critique.reload_personas()
        self.critique.set_persona(self.services.settings.default_persona)
        self.reopen()

    def reopen(self) -> None:
        """Open the open photo again: its scores come from the models installed now."""
        if self.path is not None:
            path, self.path = self.path, None
            self.open_photo(path)

    # --- folder and photo ----------------------------------------------------------
    def show_folder(self, photos: list[Path], folder: Path | None = None) -> None:
        self.filmstrip.set_photos(photos)
        self.filmstrip.setVisible(bool(photos))
        folder = folder if folder is not None else (photos[0].parent if photos else None)
        self.ratings.set_folder(folder, photos)
        self.personal.set_folder(folder)
        self.rating_bar.set_count(self.ratings.count_text() if folder is not None else "")
        if photos:
            self.filmstrip.select(photos[0])  # select() does not emit photoSelected
            self.open_photo(photos[0])

    def open_photo(self, path: Path) -> None:
        path = Path(path)
        self.filmstrip.select(path)
        if path == self.path and self._photo_task and self._photo_task.running:
            return
        self._cancel_photo_work()
        self.path, self.analysis, self.scores = path, None, {}
        self._opened_at = time.perf_counter()
        self.viewer.highlight(None)
        self.overlays.set_maps(None)
        self.measurements.clear()
        self.score_panel.clear()
        self.score_panel.personal.clear_score()
        self.score_panel.set_busy("Scoring…")
        self.critique.begin()
        self.rating_bar.set_rating(self.ratings.rating(path), problem=self.ratings.problem(path))
        self.ratings.ensure(path)
        self.status.emit(f"opening {path.name}…")
        self.photoOpened.emit(path)
        self._photo_task = self.bridge.stream(
            f"open {path.name}", lambda task: self._photo_steps(path, task.cancel_event),
            on_item=self._photo_step, on_error=self._photo_failed)

    def _photo_steps(self, path: Path, cancel):
        """The core's steps for one photo (worker thread), plus which models score it and,
        when none scores the photo, the pretrained scorer to offer."""
        scorers = self.services.scorers()
        yield "scorers", scorer_titles(scorers)
        for step in self.services.open_photo_steps(path, cancel):
            yield step
            if step[0] == "scores" and "photo" not in step[1] and scorers.photo is None:
                yield "offer", scorer_offer(self.services)

    def show_percentile(self) -> None:
        """Show the open photo's percentile in its folder, once folder scoring gave one."""
        if self.scores and self.path is not None:
            self.score_panel.show_scores(self.scores, self.services.percentile_of(self.path),
                                         self.score_models)

    def _photo_step(self, step: tuple[str, object]) -> None:
        kind, value = step
        elapsed = time.perf_counter() - self._opened_at
        if kind == "scorers":
            self.score_models = value
        elif kind == "photo":
            self.viewer.show_photo(to_uint8(value.pixels), value.original_size)
            self.milestone.emit("first pixels", elapsed)
        elif kind == "analysis":
            self.analysis = value
            self.overlays.set_maps(value.maps)
            self._show_overlay(self.overlays.current())
            self.measurements.show_analysis(value.measurements, value.photo.describe())
            self.milestone.emit("overlays", elapsed)
            self.status.emit(f"{self.path.name}: analysed in {elapsed:.2f} s")
        elif kind == "scores":  # first the photo's own, then again with depth's
            self.scores = value
            if value:
                self.score_panel.show_scores(value, self.services.percentile_of(self.path),
                                             self.score_models)
            else:
                self.score_panel.show_missing(self.services.scorer_missing())
            self._fit_score_panel(has_scores=bool(value))
        elif kind == "scene":
            self.measurements.show_scene(value)
        elif kind == "personal":
            self.score_panel.personal.show_score(value)
            self._fit_score_panel(has_scores=bool(self.scores))
        elif kind == "offer":
            if value is not None:
                if self.services.scorer_missing() == NO_SCORER_HINT:  # the offer says how
                    self.score_panel.show_missing(OFFER_HINT)
                self.score_panel.show_offer(value)
                self._fit_score_panel(has_scores=bool(self.scores))
        elif kind == "depth":
            # A new Analysis, never a change to the old one: a critique started earlier
            # may be reading that one on its thread.
            self.analysis = value
            self.overlays.set_maps(value.maps)
            self._show_overlay(self.overlays.current())
            self.milestone.emit("depth", elapsed)
        elif kind == "ready":  # maps (depth too) and every score known: the prompt cites them
            self.analysis = value
            if self.services.settings.auto_critique:
                self.start_critique()
        elif kind == "full":
            self.viewer.upgrade_pixels(value)
            self.milestone.emit("full quality", elapsed)

    def _offer_changed(self) -> None:
        panel = self.score_panel
        if panel.offer.isVisibleTo(panel) or panel.personal.isVisibleTo(panel):
            self._fit_score_panel(has_scores=bool(self.scores))

    def _personal_learned(self, name: str) -> None:
        """A personal model was learned: save the settings and score the open photo."""
        self.settingsEdited.emit()
        analysis = self.analysis
        if analysis is None:
            return
        path = self.path
        self.bridge.call("personal score", lambda task: self.services.personal_score(analysis),
                         on_done=lambda value: self._personal_rescored(path, value),
                         on_error=lambda message: self.score_panel.personal.set_status(
                             message, error=True))

    def _personal_rescored(self, path, value) -> None:
        if value is not None and path == self.path:
            self.score_panel.personal.show_score(value)
            self._fit_score_panel(has_scores=bool(self.scores))

    def _fit_score_panel(self, *, has_scores: bool) -> None:
        """Room for the histogram when there is one; else only what the panel shows."""
        total = max(sum(self.right_splitter.sizes()), 830)
        panel = self.score_panel
        if has_scores and not panel.plot.isHidden():
            top = 230
            if not panel.personal.isHidden():
                panel.personal.layout().activate()
                top += panel.personal.sizeHint().height() + 4
        else:
            panel.layout().activate()
            needed = panel.heightForWidth(panel.width()) if panel.hasHeightForWidth() else -1
            top = max(needed, panel.minimumSizeHint().height(), 60) + 6
        self.right_splitter.setSizes([top, total - top])

    def _photo_failed(self, message: str) -> None:
        self.viewer.clear(message)
        self.score_panel.clear()
        self.critique.show_error(message)
        self.status.emit(message)

    def _show_overlay(self, name: str) -> None:
        result = self.analysis.maps.get(name) if self.analysis else None
        if result is None or not result.available:
            self.viewer.set_overlay(None)
            return
        self.viewer.set_overlay(overlay_rgba(result.map, name))

    # --- the newcomer's pull -------------------------------------------------------------
    def pull_scorer(self, name: str) -> None:
        """Pull the offered score model (worker thread, progress, Cancel); once installed,
        the services load it and the open photo is scored."""
        if self._pull_task is not None and self._pull_task.running:
            return
        store = self.services.store()
        entry = store.entry(name)
        accept = False
        if entry.licence_acceptance:
            if not self.accept_licence(entry):
                self.score_panel.offer.set_idle("not pulled: the licence was not accepted")
                return
            accept = True
        offer = self.score_panel.offer
        offer.set_pulling()
        self._fit_score_panel(has_scores=bool(self.scores))
        self.status.emit(f"pulling {name}…")

        def work(task: Task):
            def report(line: str) -> None:
                task.report(None, None, line)

            def progress(done: int, total: int) -> None:
                task.report(done, total, None)

            return store.pull(name, report, show_progress=False, accept_licence=accept,
                              cancel=task.cancel_event, progress=progress)

        task = self.bridge.call(f"pull {name}", work, on_progress=offer.set_progress,
                                on_done=lambda path: self._pulled(name, path),
                                on_error=self._pull_failed)
        task.finished.connect(lambda: self._pull_ended(task, name))
        self._pull_task = task

    def cancel_pull(self) -> None:
        task = self._pull_task
        if task is not None and task.running:
            task.cancel()
            self.score_panel.offer.set_cancelling()

    def accept_licence(self, entry) -> bool:
        """Ask before pulling a model whose licence must be accepted (e.g. non-commercial)."""
        return ask_licence(self, entry)

    def _pulled(self, name: str, path) -> None:
        self.score_panel.offer.set_idle()
        self.score_panel.offer.hide()
        self.status.emit(f"installed {name} in {path}")
        self.services.models_changed()
        self.modelsChanged.emit()
        self.reopen()  # score the open photo with it

    def _pull_failed(self, message: str) -> None:
        self.score_panel.offer.set_failed(message)
        self.status.emit(message)

    def _pull_ended(self, task: Task, name: str) -> None:
        if task is self._pull_task:
            self._pull_task = None
        if not task.cancelled:
            return
        installed = self.services.store().path(name)
        if installed is not None:  # Cancel came after the last byte: it is installed
            self._pulled(name, installed)
            return
        self.score_panel.offer.set_idle("pull cancelled: nothing was installed")
        self.status.emit(f"{task.name} cancelled")

    @property
    def pulling(self) -> bool:
        return self._pull_task is not None

    # --- rating --------------------------------------------------------------------
    def rate_stars(self, stars: int) -> None:
        """Give the open photo 1-5 stars, or clear them (0); saved in its XMP sidecar."""
        if self.path is None:
            self.status.emit("open a photo to rate it")
        else:
            self.ratings.rate_stars(self.path, stars)
            self.personal.rated(self.path)

    def rate_flag(self, flag: Flag) -> None:
        """Pick ("pick") or reject ("reject") the open photo, or clear either (None)."""
        if self.path is None:
            self.status.emit("open a photo to rate it")
        else:
            self.ratings.rate_flag(self.path, flag)
            self.personal.rated(self.path)

    def _rating_changed(self, path: Path, rating: PhotoRating | None) -> None:
        problem = self.ratings.problem(path)
        if path == self.path:
            self.rating_bar.set_rating(rating, problem=problem)
        self.filmstrip.set_badge(path, *badge(rating, problem))

    # --- critique ------------------------------------------------------------------
    def start_critique(self) -> None:
        if self.analysis is None:
            return
        self.stop_critique(silent=True)
        self.critique.begin()
        self.critique.set_running(True)
        # The critique's own snapshot: later results replace self.analysis and
        # self.scores with new objects and never change these.
        analysis, scores = self.analysis, dict(self.scores)
        request = self.services.critique_request(self.critique.persona())
        self._critique_task = self.bridge.stream(
            "critique",
            lambda task: self.services.stream_critique(analysis, request, task.cancel_event,
                                                       scores=scores),
            on_item=self._critique_event, on_error=self._critique_failed,
            on_done=lambda _: self.critique.set_running(False))

    def _critique_event(self, event: CritiqueEvent) -> None:
        self.critique.handle_event(event)
        if event.kind == "score":
            self.score_panel.show_vlm_rating(event.data)

    def _critique_failed(self, message: str) -> None:
        self.critique.show_error(message)
        self.critique.set_running(False)

    def stop_critique(self, silent: bool = False) -> None:
        task = self._critique_task
        if task is not None and task.running:
            task.cancel()
            if not silent:
                self.critique.handle_event(CritiqueEvent("cancelled"))
        self.critique.set_running(False)

    def _cancel_photo_work(self) -> None:
        for task in (self._photo_task, self._critique_task):
            if task is not None:
                task.cancel()
        self.critique.set_running(False)

