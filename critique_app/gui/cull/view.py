"""The Cull page: the open folder's frames grouped as stacks, Critique's pick of each marked,
blinks and missed focus flagged; the keyboard walks the groups and rates.

The GUI twin of ``critique cull FOLDER``: the culling runs through the
:class:`~critique_app.gui.bridge.Bridge` (progress, Cancel) on the results cache the Folder
page uses. Accepting or rejecting a frame is the photographer's rating, saved through the
app's :class:`~critique_app.gui.rating.controls.RatingsController` in XMP sidecars like any
other; the photos themselves are never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.culling.verdicts import CullResult
from critique_app.core.library.ratings import PhotoRating
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.cull.frame_tile import FrameTile
from critique_app.gui.cull.group_strip import GroupStrip
from critique_app.gui.cull.rows import errors, face_text, group_rows, summary
from critique_app.gui.cull.thumbs import make_thumbnails
from critique_app.gui.folder.photo_count import count_photos
from critique_app.gui.photo.viewer import to_qimage
from critique_app.gui.rating.controls import RatingsController

KEYS_HINT = ("↑↓ or J K: groups · ←→: frames · P or Enter: pick · X: reject · U: clear · "
             "Space: open")
ERROR_RED = "#be2d28"
MAX_ERROR_LINES = 8
EMPTY_TEXT = ("Cull groups the frames of each moment (bursts, brackets, panoramas), marks "
              "the best of each and flags blur, closed eyes and exposure misses. "
              "Open a folder, then Cull folder.")
Cull = Callable[..., CullResult]  # (folder, recursive=, jobs=, cancel=, progress=)
# Groups built at once when a culling is shown, then per turn of the event loop: a shoot of
# 2,000 frames would otherwise hold up the window for a second or more.
FIRST_GROUPS, GROUPS_PER_TURN = 20, 12


class CullView(QWidget):
    """``set_folder`` then ``cull()`` (it starts by itself the first time the page is shown)."""

    openPhoto = Signal(Path)  # Space or a double-click on a frame
    runningChanged = Signal(bool)
    culled = Signal(object)  # the CullResult shown (a cancelled one too)

    def __init__(self, bridge: Bridge, thumbnail_bridge: Bridge, ratings: RatingsController,
                 parent: QWidget | None = None, *, cull: Cull | None = None) -> None:
        super().__init__(parent)
        self.bridge, self.thumbnail_bridge, self.ratings = bridge, thumbnail_bridge, ratings
        self._cull = cull
        self.jobs = 2
        self.auto_start = True  # cull when the page is first shown for a folder
        self.folder: Path | None = None
        self.recursive = False
        self._photo_count = 0
        self._auto_started: Path | None = None
        self.result: CullResult | None = None
        self.strips: list[GroupStrip] = []
        self._tiles: dict[Path, list[FrameTile]] = {}
        self._task: Task | None = None
        self._thumbs: Task | None = None
        self._pending: list = []  # GroupRows not yet built into strips, in order
        self._early_thumbs: dict[Path, object] = {}  # thumbnails of frames not yet built
        self._builder = QTimer(self, singleShot=True, interval=0)
        self._builder.timeout.connect(self._build_more)
        self._group, self._frame = -1, 0  # the current strip (index into strips), frame
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        ratings.ratingChanged.connect(self._rating_changed)
        self._update_buttons()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.folder_label = QLabel("Open a folder to cull.")
        self.cull_button = self._button("Cull folder", self.cull,
                                        "group the frames of each moment and pick the best")
        self.cancel_button = self._button("Cancel", self.cancel)
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.cull_button)
        top.addWidget(self.cancel_button)

        self.progress = QProgressBar()
        self.progress.setFormat("")
        self.progress_label = QLabel()
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)

        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setStyleSheet(f"color: {ERROR_RED};")
        self.info_label.hide()

        self.flagged_only = QCheckBox("Flagged only")
        self.flagged_only.setToolTip("show only groups with a flagged frame (blur, closed "
                                     "eyes, exposure); their other frames are dimmed")
        self.flagged_only.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.flagged_only.toggled.connect(self._apply_filter)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.keys_label = QLabel(KEYS_HINT)
        self.keys_label.setStyleSheet("color: gray;")
        tools = QHBoxLayout()
        tools.addWidget(self.flagged_only)
        tools.addSpacing(12)
        tools.addWidget(self.summary_label, 1)
        tools.addWidget(self.keys_label)
        # which face finder (and why when it is the fallback), and the run's notes
        self.faces_label = QLabel()
        self.faces_label.setWordWrap(True)
        self.faces_label.setStyleSheet("color: gray;")
        self.faces_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.groups = QWidget()
        self.groups_layout = QVBoxLayout(self.groups)
        self.groups_layout.setContentsMargins(0, 0, 0, 0)
        self.groups_layout.setSpacing(2)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: gray; padding: 40px;")
        self.groups_layout.addWidget(self.empty_label)
        self.groups_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.groups)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)

        self.errors_label = QLabel()
        self.errors_label.setWordWrap(True)
        self.errors_label.setStyleSheet(f"color: {ERROR_RED};")
        self.errors_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors_label.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(progress_row)
        layout.addWidget(self.info_label)
        layout.addLayout(tools)
        layout.addWidget(self.faces_label)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.errors_label)

    def _button(self, text: str, slot, tip: str = "") -> QPushButton:
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space and Enter stay with the groups
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # -- public -------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._task is not None

    @property
    def thumbnails_loading(self) -> bool:
        return self._thumbs is not None and self._thumbs.running

    def set_folder(self, folder: Path, recursive: bool = False) -> None:
        """The folder to cull; another folder stops a run and clears the page."""
        folder = Path(folder)
        if (folder, recursive) != (self.folder, self.recursive):
            self._stop(keep_partial=False)
            self.show_result(None)
            self._show_info("")
            self._reset_progress()
        self.folder, self.recursive = folder, recursive
        self._photo_count, line = count_photos(folder, recursive)
        self.folder_label.setText(line)
        self.folder_label.setToolTip(str(folder))
        self._update_buttons()

    def cull(self) -> None:
        """Cull the folder off the UI thread (facts already cached are not recomputed)."""
        if self.folder is None or self.is_running:
            return
        folder, recursive, jobs = self.folder, self.recursive, self.jobs
        cull = self._cull
        if cull is None:
            from critique_app.gui.cull.run import cull_folder_at as cull
        outcome: dict = {}

        def work(task: Task):
            outcome["result"] = cull(folder, recursive=recursive, jobs=jobs,
                                     cancel=task.cancel_event, progress=task.report)
            return outcome

        self._show_info("")
        self._reset_progress()
        self.progress.setFormat("starting…")
        task = self.bridge.call("cull folder", work, on_progress=self._progress,
                                on_done=lambda got: self.show_result(got["result"]),
                                on_error=self._failed)
        task.finished.connect(lambda: self._ended(task, outcome))
        self._set_task(task)

    def cancel(self) -> None:
        """Stop the run; the facts already worked out stay in the cache."""
        self._stop(keep_partial=True)

    def show_result(self, result: CullResult | None) -> None:
        """Show ``result``'s groups (None: clear the page)."""
        if self._thumbs is not None:
            self._thumbs.cancel()
            self._thumbs = None
        self._builder.stop()
        for strip in self.strips:
            self.groups_layout.removeWidget(strip)
            strip.hide()
            strip.deleteLater()
        self.strips, self._tiles, self.result = [], {}, result
        self._early_thumbs = {}
        self._group, self._frame = -1, 0
        rows = group_rows(result) if result is not None else []
        self._pending = list(rows)
        self.groups.hide()  # shown again at once: one layout for the first groups
        self._build_strips(FIRST_GROUPS)
        self._show_summary(result, rows)
        self._apply_filter()
        self.groups.show()
        if self._pending:
            self._builder.start()
        if result is not None:
            self._progress_done(result)
            paths = [photo.path for row in rows for photo in row.frames]
            self._thumbs = self.thumbnail_bridge.stream(
                "cull thumbnails", lambda task: make_thumbnails(task, paths),
                on_item=self._thumbnail)
            self.culled.emit(result)
        self._update_buttons()

    @property
    def building(self) -> bool:
        """Whether groups of the shown culling are still being laid out."""
        return bool(self._pending)

    def _build_strips(self, count: int) -> None:
        """The next ``count`` pending groups as strips, filtered, with their ratings and any
        thumbnail that came first."""
        only = self.flagged_only.isChecked()
        rows, self._pending = self._pending[:count], self._pending[count:]
        for row in rows:
            position = len(self.strips)
            strip = GroupStrip(row)
            strip.frameClicked.connect(lambda frame, g=position: self._clicked(g, frame))
            strip.frameActivated.connect(lambda frame, g=position: self._activated(g, frame))
            if only and not row.flagged:
                strip.setVisible(False)
            strip.set_dimming(only)
            self.groups_layout.insertWidget(self.groups_layout.count() - 1, strip)
            self.strips.append(strip)
            for tile in strip.tiles:
                self._tiles.setdefault(tile.path, []).append(tile)
                tile.set_rating(self.ratings.rating(tile.path), self.ratings.problem(tile.path))
                if tile.path in self._early_thumbs:
                    self._set_thumbnail(tile, self._early_thumbs.pop(tile.path))
            strip.refresh_heading()
        self.ratings.ensure_many(photo.path for row in rows for photo in row.frames)

    def _build_more(self) -> None:
        self._build_strips(GROUPS_PER_TURN)
        if self._pending:
            self._builder.start()
        else:
            self._show_empty()
            if self.current_strip() is None and self.visible_strips():
                self.step_group(1)

    def current_strip(self) -> GroupStrip | None:
        return self.strips[self._group] if 0 <= self._group < len(self.strips) else None

    def current_tile(self) -> FrameTile | None:
        strip = self.current_strip()
        return strip.tiles[self._frame] if strip is not None and strip.tiles else None

    def visible_strips(self) -> list[GroupStrip]:
        return [strip for strip in self.strips if self._shown(strip)]

    def _shown(self, strip: GroupStrip) -> bool:
        """Not hidden by the filter (whether or not the page itself is on screen)."""
        return strip.isVisibleTo(self.groups)

    def select(self, group: int, frame: int = 0) -> None:
        """Make frame ``frame`` of strip ``group`` current (clamped), and scroll to it;
        a negative ``group``: none (the keys then do nothing)."""
        old = self.current_tile()
        if old is not None:
            old.set_selected(False)
        if self.current_strip() is not None:
            self.current_strip().set_current(False)
        if not self.strips or group < 0:
            self._group, self._frame = -1, 0
            return
        self._group = min(max(group, 0), len(self.strips) - 1)
        strip = self.strips[self._group]
        self._frame = min(max(frame, 0), len(strip.tiles) - 1)
        strip.set_current(True)
        strip.tiles[self._frame].set_selected(True)
        strip.show_frame(self._frame)
        self.scroll.ensureWidgetVisible(strip, 0, 12)

    def step_group(self, delta: int) -> None:
        """To the next (+1) or previous (-1) shown group, on its pick."""
        shown = [i for i, strip in enumerate(self.strips) if self._shown(strip)]
        if not shown:
            return
        if self._group in shown:
            target = shown[min(max(shown.index(self._group) + delta, 0), len(shown) - 1)]
        else:
            target = next((i for i in shown if i > self._group), shown[-1])
        if target != self._group:
            self.select(target, self._pick_position(self.strips[target]))

    def step_frame(self, delta: int) -> None:
        if self.current_strip() is not None:
            self.select(self._group, self._frame + delta)

    def accept_pick(self) -> None:
        """The current frame is the group's pick: the photographer's ⚑, saved in XMP."""
        self._rate("pick")

    def reject(self) -> None:
        self._rate("reject")

    def clear_flag(self) -> None:
        self._rate(None)

    def open_current(self) -> None:
        tile = self.current_tile()
        if tile is not None:
            self.openPhoto.emit(tile.path)

    # -- keys ---------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        key = event.key()
        actions = {
            Qt.Key.Key_Up: lambda: self.step_group(-1), Qt.Key.Key_K: lambda: self.step_group(-1),
            Qt.Key.Key_Down: lambda: self.step_group(1), Qt.Key.Key_J: lambda: self.step_group(1),
            Qt.Key.Key_Left: lambda: self.step_frame(-1),
            Qt.Key.Key_Right: lambda: self.step_frame(1),
            Qt.Key.Key_P: self.accept_pick, Qt.Key.Key_Return: self.accept_pick,
            Qt.Key.Key_Enter: self.accept_pick, Qt.Key.Key_X: self.reject,
            Qt.Key.Key_U: self.clear_flag, Qt.Key.Key_Space: self.open_current,
        }
        action = actions.get(key)
        if action is None or event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                                  | Qt.KeyboardModifier.AltModifier):
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.setFocus()
        if (self.auto_start and self.result is None and not self.is_running
                and self.folder is not None and self._photo_count
                and self._auto_started != self.folder):
            self._auto_started = self.folder  # once per folder: a failure is not retried
            self.cull()

    # -- run callbacks (UI thread) --------------------------------------------------------

    def _progress(self, done: int, total: int, *rest) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        counts = rest[0] if rest and isinstance(rest[0], dict) else {}
        self.progress_label.setText(" · ".join(f"{k} {v}" for k, v in counts.items()))

    def _progress_done(self, result: CullResult) -> None:
        total = len(result.photos)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(total if not result.cancelled else
                               sum(p.facts is not None or p.error is not None
                                   for p in result.photos))
        self.progress.setFormat(f"cached {result.cached}, computed {result.computed}, "
                                f"failed {result.failed}")
        self.progress_label.setText("")

    def _ended(self, task: Task, outcome: dict) -> None:
        if task is not self._task:
            return  # replaced or discarded (another folder)
        self._set_task(None)
        if task.cancelled:
            if "result" in outcome:
                self.show_result(outcome["result"])
            else:
                self._reset_progress()
                self.summary_label.setText("cancelled before any photo was culled")

    def _failed(self, message: str) -> None:
        self._show_info(message)
        self._reset_progress()

    def _thumbnail(self, item: tuple[Path, object]) -> None:
        path, pixels = item
        tiles = self._tiles.get(path)
        if not tiles:  # its group is not laid out yet
            self._early_thumbs[path] = pixels
        for tile in tiles or []:
            self._set_thumbnail(tile, pixels)

    @staticmethod
    def _set_thumbnail(tile: FrameTile, pixels) -> None:
        error = pixels if isinstance(pixels, str) else None
        tile.set_image(None if error else to_qimage(pixels), error)

    def _rating_changed(self, path: Path, rating: PhotoRating | None) -> None:
        tiles = self._tiles.get(Path(path), [])
        for tile in tiles:
            tile.set_rating(rating, self.ratings.problem(tile.path))
        for strip in {id(s): s for s in self.strips if set(s.tiles) & set(tiles)}.values():
            strip.refresh_heading()

    # -- internals ----------------------------------------------------------------------

    def _rate(self, flag) -> None:
        tile = self.current_tile()
        if tile is None:
            return
        self.ratings.rate_flag(tile.path, flag)  # its status line says where it was saved

    def _clicked(self, group: int, frame: int) -> None:
        self.setFocus()
        self.select(group, frame)

    def _activated(self, group: int, frame: int) -> None:
        self.select(group, frame)
        self.open_current()

    @staticmethod
    def _pick_position(strip: GroupStrip) -> int:
        return next((i for i, tile in enumerate(strip.tiles) if tile.is_pick), 0)

    def _apply_filter(self) -> None:
        only = self.flagged_only.isChecked()
        for strip in self.strips:
            shown = not only or strip.row.flagged
            if self._shown(strip) != shown:  # each change lays the page out again
                strip.setVisible(shown)
            strip.set_dimming(only)
        self._show_empty()
        current = self.current_strip()
        if not self.visible_strips():
            self.select(-1)
        elif current is None or not self._shown(current):
            self.step_group(1)  # the next group shown after it (or the last one before)

    def _show_empty(self) -> None:
        """What the page says when no group is shown."""
        if self.result is None:
            text = EMPTY_TEXT
        elif not self.strips:
            text = "No photo of this folder could be culled."
        else:
            text = "No frame is flagged: untick Flagged only to see every group."
        self.empty_label.setText(text)
        only = self.flagged_only.isChecked()
        to_come = any(not only or row.flagged for row in self._pending)
        self.empty_label.setVisible(not self.visible_strips() and not to_come)

    def _show_summary(self, result: CullResult | None, rows) -> None:
        if result is None:
            self.summary_label.clear()
            self.faces_label.clear()
            self.errors_label.hide()
            return
        self.summary_label.setText(summary(result, rows))
        lines = [face_text(result)] + [note for note in result.notes if note]
        self.faces_label.setText("\n".join(dict.fromkeys(line for line in lines if line)))
        lines = errors(result)
        shown = lines[:MAX_ERROR_LINES] + (
            [f"… and {len(lines) - MAX_ERROR_LINES} more"] if len(lines) > MAX_ERROR_LINES else [])
        heading = f"Could not read {len(lines)} photo{'s' if len(lines) != 1 else ''}:"
        self.errors_label.setText("\n".join([heading, *shown]) if lines else "")
        self.errors_label.setToolTip("\n".join(lines))
        self.errors_label.setVisible(bool(lines))

    def _stop(self, *, keep_partial: bool) -> None:
        task = self._task
        if task is None:
            return
        task.cancel()
        if not keep_partial:
            self._set_task(None)

    def _set_task(self, task: Task | None) -> None:
        self._task = task
        self._update_buttons()
        self.runningChanged.emit(task is not None)

    def _update_buttons(self) -> None:
        idle = self._task is None
        self.cull_button.setEnabled(idle and self.folder is not None
                                    and self._photo_count > 0)
        self.cull_button.setText("Cull again" if self.result is not None else "Cull folder")
        self.cancel_button.setEnabled(not idle)

    def _reset_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress_label.setText("")

    def _show_info(self, text: str) -> None:
        self.info_label.setText(text)
        self.info_label.setVisible(bool(text))


__all__ = ["KEYS_HINT", "CullView"]
