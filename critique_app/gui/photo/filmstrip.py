"""A horizontal strip of thumbnails for the photos of a folder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QWidget,
)

from critique_app.core.library.thumbnails import DEFAULT_SIZE, thumbnail
from critique_app.core.util.errors import CritiqueError
from critique_app.gui.bridge import Bridge, Task
from critique_app.gui.photo.viewer import to_qimage

log = logging.getLogger("critique.gui")

ICON_SIZE = QSize(112, 80)
GRID_SIZE = QSize(124, 104)  # icon + one line of file name
STRIP_HEIGHT = 130
_GRID_MIDDLE = QPoint(GRID_SIZE.width() // 2, GRID_SIZE.height() // 2)
PATH_ROLE = Qt.ItemDataRole.UserRole
# ([(text, colour name), ...], pill colour or None) drawn over the thumbnail
BADGE_ROLE = Qt.ItemDataRole.UserRole + 1
_PILL = QColor(0, 0, 0, 175)


def _tile(broken: bool) -> QIcon:
    """A placeholder tile while loading, or a crossed-out one for an unreadable file."""
    pixmap = QPixmap(ICON_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(200, 70, 70) if broken else QColor(90, 90, 94), 2))
    painter.setBrush(QColor(52, 52, 56))
    box = pixmap.rect().adjusted(8, 4, -8, -4)
    painter.drawRoundedRect(box, 6, 6)
    if broken:
        inner = box.adjusted(box.width() // 2 - 12, box.height() // 2 - 12,
                             -(box.width() // 2 - 12), -(box.height() // 2 - 12))
        painter.drawLine(inner.topLeft(), inner.bottomRight())
        painter.drawLine(inner.topRight(), inner.bottomLeft())
    painter.end()
    return QIcon(pixmap)


class _BadgeDelegate(QStyledItemDelegate):
    """The usual icon and name, plus the rating (stars, ⚑, ✕) on a pill at the bottom
    centre of the thumbnail: a few text draws per visible item, nothing cached."""

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        badge = index.data(BADGE_ROLE)
        if not badge:
            return
        parts, pill = badge
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget else None
        icon = (style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, option,
                                     option.widget) if style else option.rect)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        gap = metrics.horizontalAdvance(" ")
        widths = [metrics.horizontalAdvance(text) for text, _ in parts]
        width = sum(widths) + gap * (len(parts) - 1) + 10
        height = metrics.height() + 2
        box = QRect(icon.center().x() - width // 2, icon.bottom() - height - 3, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(pill) if pill else _PILL)
        painter.drawRoundedRect(box, height / 2, height / 2)
        x = box.left() + 5
        for (text, colour), text_width in zip(parts, widths, strict=True):
            painter.setPen(QColor(colour))
            painter.drawText(QRect(x, box.top(), text_width, height),
                             Qt.AlignmentFlag.AlignCenter, text)
            x += text_width + gap
        painter.restore()


class _Queue:
    """Which thumbnail to make next: visible ones first, then in order (thread-safe)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._done = bytearray(len(paths))
        self._cursor = 0
        self._visible = range(0)
        self._lock = threading.Lock()

    def focus(self, visible: range) -> None:
        with self._lock:
            self._visible = visible

    def take(self) -> tuple[int, Path] | None:
        with self._lock:
            index = next((i for i in self._visible if i < len(self._done) and not self._done[i]),
                         None)
            if index is None:
                while self._cursor < len(self._done) and self._done[self._cursor]:
                    self._cursor += 1
                if self._cursor == len(self._done):
                    return None
                index = self._cursor
            self._done[index] = 1
            return index, self._paths[index]


class Filmstrip(QListWidget):
    """Thumbnails of ``set_photos`` paths, made off the UI thread through the bridge.

    ``photoSelected`` fires when the user moves the current item (click, arrow
    keys, :meth:`step`); :meth:`select` moves it silently.
    """

    photoSelected = Signal(Path)

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._task: Task | None = None
        self._queue: _Queue | None = None
        self._rows: dict[Path, int] = {}
        self._silent = False
        self._pending = 0
        self._failures: dict[int, str] = {}  # row -> why its thumbnail could not be made
        self._placeholder = _tile(broken=False)
        self._broken = _tile(broken=True)

        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setIconSize(ICON_SIZE)
        self.setGridSize(GRID_SIZE)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(STRIP_HEIGHT)
        self.setItemDelegate(_BadgeDelegate(self))
        self.currentItemChanged.connect(self._on_current_changed)
        self.horizontalScrollBar().valueChanged.connect(lambda _value: self._focus_visible())

    # --- public ------------------------------------------------------------------
    def set_photos(self, paths: list[Path]) -> None:
        """Show ``paths`` at once with placeholders; thumbnails follow as they are made."""
        self.cancel()
        self._silent = True
        self.setUpdatesEnabled(False)  # one repaint for thousands of items
        try:
            self.clear()
            self._rows = {}
            self._failures = {}
            for row, path in enumerate(paths):
                path = Path(path)
                item = QListWidgetItem(self._placeholder, path.name)
                item.setData(PATH_ROLE, path)
                item.setToolTip(str(path))
                item.setSizeHint(GRID_SIZE)
                self.addItem(item)
                self._rows.setdefault(path, row)
        finally:
            self._silent = False
            self.setUpdatesEnabled(True)
        if not paths:
            return
        self._pending = len(paths)
        self._queue = _Queue([Path(p) for p in paths])
        self._focus_visible()
        queue = self._queue
        self._task = self._bridge.stream("thumbnails", lambda task: _make(task, queue),
                                         on_item=self._on_thumbnail)

    def cancel(self) -> None:
        """Stop making thumbnails (stale results are dropped by the bridge)."""
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._queue = None
        self._pending = 0

    def paths(self) -> list[Path]:
        return [self.item(row).data(PATH_ROLE) for row in range(self.count())]

    def current_path(self) -> Path | None:
        item = self.currentItem()
        return item.data(PATH_ROLE) if item is not None else None

    def select(self, path: Path) -> bool:
        """Make ``path`` current without emitting photoSelected; False if not in the strip."""
        row = self._row_of(Path(path))
        if row is None:
            return False
        self._silent = True
        try:
            self.setCurrentRow(row)
        finally:
            self._silent = False
        self.scrollToItem(self.item(row), QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def step(self, delta: int) -> None:
        """Move to the next (+1) or previous (-1) photo, as the arrow keys do."""
        if self.count():
            row = self.currentRow() if self.currentRow() >= 0 else 0
            self.setCurrentRow(min(self.count() - 1, max(0, row + delta)))

    def set_badge(self, path: Path, parts: list[tuple[str, str]], pill: str | None = None,
                  tip: str = "") -> None:
        """Show a rating over ``path``'s thumbnail: (text, colour) parts such as
        [("★★★", gold), ("⚑", green)] on a dark pill (or one of colour ``pill``); no parts:
        nothing. ``tip`` is added to its tooltip."""
        row = self._row_of(Path(path))
        item = self.item(row) if row is not None else None
        if item is None:
            return
        item.setData(BADGE_ROLE, (list(parts), pill) if parts else None)
        base = self._failures.get(row) or str(item.data(PATH_ROLE))
        item.setToolTip(f"{base}\n{tip}" if tip else base)

    def badge(self, path: Path) -> str:
        """The rating shown over ``path``'s thumbnail, as text ("" for none)."""
        row = self._row_of(Path(path))
        badge = self.item(row).data(BADGE_ROLE) if row is not None else None
        return " ".join(text for text, _ in badge[0]) if badge else ""

    def pending(self) -> int:
        """How many thumbnails are still being made."""
        return self._pending

    def failed(self, path: Path) -> str | None:
        """Why ``path``'s thumbnail could not be made, or None."""
        row = self._row_of(Path(path))
        return self._failures.get(row) if row is not None else None

    # --- events ------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        """A vertical wheel scrolls the horizontal strip."""
        delta = event.angleDelta()
        if abs(delta.y()) > abs(delta.x()):
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta.y())
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._focus_visible()

    # --- internals ---------------------------------------------------------------
    def _row_of(self, path: Path) -> int | None:
        row = self._rows.get(path)
        if row is None:
            resolved = path.resolve()
            row = next((r for p, r in self._rows.items() if p.resolve() == resolved), None)
        return row

    def _focus_visible(self) -> None:
        if self._queue is None or not self.count():
            return
        first = self.indexAt(self.viewport().rect().topLeft() + _GRID_MIDDLE).row()
        first = max(0, first)
        shown = self.viewport().width() // GRID_SIZE.width() + 2
        self._queue.focus(range(first, min(self.count(), first + shown)))

    def _on_thumbnail(self, delivered: tuple[int, Path, object]) -> None:
        row, path, pixels = delivered
        self._pending = max(0, self._pending - 1)
        item = self.item(row)
        if item is None or item.data(PATH_ROLE) != path:
            return
        if isinstance(pixels, str):
            item.setIcon(self._broken)
            self._failures[row] = pixels
            item.setToolTip(pixels)  # the core's one line, which names the file
        else:
            item.setIcon(self._framed(pixels))

    def _framed(self, pixels) -> QIcon:
        """The thumbnail centred on a transparent icon-size tile, so every name lines up."""
        ratio = self.devicePixelRatioF()
        tile = QPixmap(ICON_SIZE * ratio)
        tile.setDevicePixelRatio(ratio)
        tile.fill(Qt.GlobalColor.transparent)
        image = to_qimage(pixels)
        scaled = image.size().scaled(ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio)
        left = (ICON_SIZE.width() - scaled.width()) / 2
        top = (ICON_SIZE.height() - scaled.height()) / 2
        painter = QPainter(tile)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(left, top, scaled.width(), scaled.height()), image)
        painter.end()
        return QIcon(tile)

    def _on_current_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is not None and not self._silent:
            self.photoSelected.emit(current.data(PATH_ROLE))


def _make(task: Task, queue: _Queue) -> Iterator[tuple[int, Path, object]]:
    """On a worker thread: (row, path, RGB uint8 array or the one-line error)."""
    while not task.cancel_event.is_set():
        taken = queue.take()
        if taken is None:
            return
        row, path = taken
        try:
            yield row, path, thumbnail(path, DEFAULT_SIZE)
        except CritiqueError as error:
            yield row, path, str(error)
        except Exception as error:  # one bad file must not stop the strip
            log.exception("thumbnail of %s failed", path)
            yield row, path, f"cannot make a thumbnail: {type(error).__name__}: {error}"


__all__ = ["Filmstrip"]
