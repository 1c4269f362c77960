"""The main window: menus, toolbar, drag and drop, the photo, folder and cull pages."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
)

from critique_app import __version__
from critique_app.core.app.services import Services
from critique_app.core.app.settings import Settings, apply_models_dir, save_settings
from critique_app.core.library.finding import dialog_filter, find_photos
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.bridge import Bridge
from critique_app.gui.cull.view import CullView
from critique_app.gui.folder.view import FolderView
from critique_app.gui.photo.page import PhotoPage

log = logging.getLogger("critique.gui")
PHOTO_FILTER = dialog_filter()  # every extension the folder lister finds, and "All files"


# (menu text, shortcut, what it does): the keys that rate the open photo
RATE_KEYS = [
    *[(f"{'★' * n}{'☆' * (5 - n)}  {n} Star{'s' if n > 1 else ''}", str(n), ("stars", n))
      for n in range(1, 6)],
    ("☆☆☆☆☆  Clear Stars", "0", ("stars", 0)),
    None,
    ("⚑  Pick", "P", ("flag", "pick")),
    ("✕  Reject", "X", ("flag", "reject")),
    ("Unpick / Unreject", "U", ("flag", None)),
]


class MainWindow(QMainWindow):
    # (folder, photos in it rated): after its ratings are read, and after each saved
    # rating. How many of how many: rating_counts(); any folder: core.ratings.summarize_folder.
    ratingsChanged = Signal(object, int)

    def __init__(self, settings: Settings, *, settings_path: Path | None = None) -> None:
        super().__init__()
        self.settings, self.settings_path = settings, settings_path
        apply_models_dir(settings)
        self.services = Services(settings)
        self.bridge = Bridge(threads=3, parent=self)
        self.thumbnail_bridge = Bridge(threads=1, parent=self)
        self.rating_bridge = Bridge(threads=1, parent=self)  # sidecar reads and writes, in order
        self.folder: Path | None = None

        self.setWindowTitle("Critique")
        self.setAcceptDrops(True)
        self.resize(1320, 860)
        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))

        self.photo_page = PhotoPage(self.bridge, self.thumbnail_bridge, self.services,
                                    rating_bridge=self.rating_bridge)
        self.folder_view = FolderView(self.bridge)  # the Folder page
        # The Cull page rates through the photo page's ratings: one truth, writes in order.
        self.cull_view = CullView(self.bridge, self.thumbnail_bridge, self.photo_page.ratings)
        self.pages = QTabWidget()
        self.pages.addTab(self.photo_page, "Photo")
        self.pages.addTab(self.folder_view, "Folder")
        self.pages.addTab(self.cull_view, "Cull")
        self.setCentralWidget(self.pages)

        self.photo_page.status.connect(self.show_status)
        self.photo_page.settingsEdited.connect(self._save_settings)
        self.photo_page.photoOpened.connect(self._remember)
        self.photo_page.photoOpened.connect(lambda _path: self._enable_rating())
        self.photo_page.ratings.ratingsChanged.connect(self.ratingsChanged)
        self.photo_page.ratings.ratingChanged.connect(  # the Folder table's rating column
            lambda path, rating: self.folder_view.model.set_rating(
                path, rating, self.photo_page.ratings.problem(path)))
        self.pages.currentChanged.connect(lambda _index: self._enable_rating())
        # The folder view may have written ratings (Write XMP): show them.
        self.folder_view.runningChanged.connect(
            lambda running: None if running else self.photo_page.ratings.reload())
        self.folder_view.openPhoto.connect(self._open_from_folder_view)
        self.cull_view.openPhoto.connect(self._open_from_folder_view)
        self.folder_view.scoringFinished.connect(self._folder_scored)
        self._build_menus()
        self.show_status("Open a photo or a folder to begin")

    # --- actions ---------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        open_photo = self._action(file_menu, "&Open Photo…", self.choose_photo,
                                  QKeySequence.StandardKey.Open)
        open_folder = self._action(file_menu, "Open &Folder…", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._fill_recent()
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view = bar.addMenu("&View")
        fit = self._action(view, "&Fit to Window", self.photo_page.viewer.fit, "Ctrl+0")
        actual = self._action(view, "&Actual Size (100%)", self.photo_page.viewer.actual_size,
                              "Ctrl+1")
        self._action(view, "Zoom &In", lambda: self.photo_page.viewer.zoom_by(1.25),
                     QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom &Out", lambda: self.photo_page.viewer.zoom_by(0.8),
                     QKeySequence.StandardKey.ZoomOut)

        photo_menu = bar.addMenu("&Photo")
        rate = photo_menu.addMenu("&Rate")
        rate.setToolTipsVisible(True)
        self.rate_actions: list[QAction] = []
        for entry in RATE_KEYS:
            if entry is None:
                rate.addSeparator()
                continue
            text, key, (kind, value) = entry
            rate_it = self.photo_page.rate_stars if kind == "stars" else self.photo_page.rate_flag
            self.rate_actions.append(self._action(
                rate, text, lambda _=False, rate_it=rate_it, value=value: rate_it(value), key,
                "Saved in the photo's XMP sidecar (Lightroom, darktable and digiKam read it); "
                "the photo itself is not changed"))
        self._enable_rating()

        tools = bar.addMenu("&Tools")
        score = self._action(tools, "&Score Folder", self.score_folder, "Ctrl+B",
                             "Score every photo in the open folder")
        models = self._action(tools, "&Models…", self.show_models)
        fine_tune = self._action(tools, "&Fine-tune…", self.show_fine_tune,
                                 tip="Train a model on your own photos and ratings")
        self._action(tools, "S&ettings…", self.show_settings, QKeySequence.StandardKey.Preferences)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About Critique", self.show_about)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        for action in (open_photo, open_folder, None, fit, actual, None, score, models, fine_tune):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for item in self.settings.recent:
            action = self.recent_menu.addAction(item)
            action.triggered.connect(lambda _=False, p=item: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    # --- opening ---------------------------------------------------------------------
    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", str(self.folder or ""),
                                              PHOTO_FILTER)
        if path:
            self.open_path(Path(path))

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder", str(self.folder or ""))
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> None:
        """A photo opens on the photo page; a folder fills the filmstrip and the folder view."""
        path = Path(path)
        if path.is_dir():
            try:
                photos = find_photos(path)
            except CritiqueError as error:
                self.show_status(str(error))
                return
            self.folder = path
            self.services.folder_scores = {}
            self.folder_view.set_folder(path)
            self.cull_view.set_folder(path)
            self._remember(path)
            if not photos:
                self.show_status(f"no photos in {path}")
            self.photo_page.show_folder(photos, path)
            self.pages.setCurrentWidget(self.photo_page)
        elif path.exists():
            self.pages.setCurrentWidget(self.photo_page)
            self.photo_page.open_photo(path)
        else:
            self.show_status(f"{path} does not exist")

    def _open_from_folder_view(self, path: Path) -> None:
        self.pages.setCurrentWidget(self.photo_page)
        self.photo_page.filmstrip.select(path)
        self.photo_page.open_photo(path)

    def _folder_scored(self, result) -> None:
        """Percentiles within the folder, for the photo page's score panel."""
        self.services.folder_scores = {
            Path(row["path"]).resolve(): row["score_percentile"] for row in result.rows
            if row is not None and row.get("score_percentile") is not None}
        self.photo_page.show_percentile()

    def _enable_rating(self) -> None:
        """The rating keys work on the photo page with a photo open; elsewhere digits and
        letters keep their usual meaning (e.g. jumping to a row of the folder table)."""
        enabled = (self.pages.currentWidget() is self.photo_page
                   and self.photo_page.path is not None)
        for action in self.rate_actions:
            action.setEnabled(enabled)

    def rating_counts(self) -> tuple[int, int]:
        """(rated photos, photos) in the open folder, as far as their sidecars were read."""
        return self.photo_page.ratings.counts()

    def _remember(self, path: Path) -> None:
        self.settings.add_recent(str(path))
        self._fill_recent()

    def score_folder(self) -> None:
        if self.folder is None:
            self.show_status("open a folder first (File ▸ Open Folder…)")
            return
        self.pages.setCurrentWidget(self.folder_view)
        self.folder_view.score()

    # --- dialogs ---------------------------------------------------------------------
    def show_models(self) -> None:
        from critique_app.gui.models.dialog import ModelsDialog

        dialog = ModelsDialog(self.bridge, parent=self)
        changed: list[bool] = []
        dialog.modelsChanged.connect(self.services.models_changed)
        dialog.modelsChanged.connect(lambda: changed.append(True))
        dialog.exec()
        if changed and not self.photo_page.scores:  # e.g. a score model pulled: use it
            self.photo_page.reopen()

    fine_tune_wizard = None  # the open Fine-tune window: one at a time, it may be training

    def show_fine_tune(self) -> None:
        """Tools ▸ Fine-tune…: a window of its own, so the app stays usable while it trains."""
        from critique_app.gui.finetune import FineTuneWizard

        if self.fine_tune_wizard is None:
            wizard = FineTuneWizard(self.bridge, self.settings, open_folder=self.folder,
                                    apply_settings=self.apply_settings, parent=self)
            wizard.modelsChanged.connect(self.services.models_changed)
            wizard.finished.connect(self._fine_tune_closed)
            self.fine_tune_wizard = wizard
        self.fine_tune_wizard.open_folder = self.folder
        self.fine_tune_wizard.show()
        self.fine_tune_wizard.raise_()
        self.fine_tune_wizard.activateWindow()

    def _fine_tune_closed(self) -> None:
        wizard, self.fine_tune_wizard = self.fine_tune_wizard, None
        if wizard is not None:
            wizard.deleteLater()

    def show_settings(self) -> None:
        from critique_app.gui.settings.dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.services.store(), parent=self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: Settings) -> None:
        """Take new settings at once: models folder, scorer, critic and persona are
        re-read by the next photo, and the open photo is critiqued again."""
        self.settings.__dict__.update(new.__dict__)
        apply_models_dir(self.settings)
        self.services.models_changed()
        self.photo_page.settings_changed()
        self._save_settings()

    def show_about(self) -> None:
        QMessageBox.about(self, "About Critique",
                          f"<b>Critique {__version__}</b><br>Photo critique on your own "
                          "computer: overlays, measurements, scores and a written critique."
                          "<br>Apache-2.0.")

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message)

    # --- drag and drop ---------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(Path(urls[0].toLocalFile()))
            event.acceptProposedAction()

    # --- quitting --------------------------------------------------------------------
    def _save_settings(self) -> None:
        try:
            save_settings(self.settings, self.settings_path)
        except OSError as error:
            log.warning("settings could not be saved: %s", error)

    def closeEvent(self, event) -> None:
        """Stop all work and wait for it, so no thread outlives the window."""
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        self._save_settings()
        if self.fine_tune_wizard is not None:  # no trainer process outlives the app
            self.fine_tune_wizard.shutdown()
        self.photo_page.personal.shutdown()
        # Ratings still being saved are saved: their work does not stop when cancelled.
        for bridge in (self.bridge, self.thumbnail_bridge, self.rating_bridge):
            if not bridge.shutdown(timeout_ms=30_000):
                log.warning("background work did not stop in time")
        event.accept()


