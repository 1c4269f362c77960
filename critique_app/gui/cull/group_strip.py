"""One group as a stack: a heading (kind, size, why) over its frames left to right in
capture order, scrolling sideways when a burst is wider than the page."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from critique_app.gui.cull.badges import SELECTED_BLUE, YOUR_PICK_GREEN
from critique_app.gui.cull.frame_tile import TILE, FrameTile
from critique_app.gui.cull.rows import GroupRow

KEEP_WHOLE_NOTE = "kept whole: its frames differ on purpose, none is rejected"


class GroupStrip(QFrame):
    """A group's heading and frame tiles; ``frameClicked(i)`` / ``frameActivated(i)`` give
    the frame's position in the group."""

    frameClicked = Signal(int)
    frameActivated = Signal(int)

    def __init__(self, row: GroupRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self._current = False
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.heading.setText(self._heading_html())
        self.heading.setToolTip(f"{row.group.why}\n{KEEP_WHOLE_NOTE}" if row.group.keep_whole
                                else row.group.why)

        self.tiles: list[FrameTile] = []
        strip = QWidget()
        tiles = QHBoxLayout(strip)
        tiles.setContentsMargins(0, 0, 0, 0)
        tiles.setSpacing(6)
        for position, photo in enumerate(row.frames):
            tile = FrameTile(photo, row.group.why, group_size=len(row.frames))
            tile.clicked.connect(lambda p=position: self.frameClicked.emit(p))
            tile.doubleClicked.connect(lambda p=position: self.frameActivated.emit(p))
            tiles.addWidget(tile)
            self.tiles.append(tile)
        tiles.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(strip)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.viewport().setAutoFillBackground(False)  # the current group's wash shows
        strip.setAutoFillBackground(False)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        bar = self.scroll.horizontalScrollBar().sizeHint().height()
        self.scroll.setFixedHeight(TILE.height() + bar + 2)
        self.scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 4)
        layout.setSpacing(2)
        layout.addWidget(self.heading)
        layout.addWidget(self.scroll)

    def _heading_html(self) -> str:
        row = self.row
        title = f"<b>{_escape(row.title())}</b>"
        return f"{title}&nbsp;&nbsp;<span style='color: gray;'>{_escape(row.group.why)}</span>"

    def refresh_heading(self) -> None:
        """After a rating changed: the heading names the photographer's pick."""
        picked = [tile.path.name for tile in self.tiles if tile.is_your_pick]
        html = self._heading_html()
        if picked:
            html += (f"&nbsp;&nbsp;<span style='color: {YOUR_PICK_GREEN};'>⚑ your pick: "
                     f"{_escape(', '.join(picked))}</span>")
        self.heading.setText(html)

    def heading_text(self) -> str:
        """The heading as plain text (what a screen reader or a test reads)."""
        document = QTextDocument()
        document.setHtml(self.heading.text())
        return document.toPlainText()

    def set_current(self, current: bool) -> None:
        """The group the keys act on: a blue bar down its left side, a faint blue wash."""
        if current != self._current:
            self._current = current
            self.update()

    @property
    def is_current(self) -> bool:
        return self._current

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._current:
            return
        painter = QPainter(self)
        wash = QColor(SELECTED_BLUE)
        wash.setAlpha(22)
        painter.fillRect(self.rect(), wash)
        painter.fillRect(0, 0, 4, self.height(), QColor(SELECTED_BLUE))
        painter.end()

    def show_frame(self, position: int) -> None:
        """Scroll sideways so that frame ``position`` is in view."""
        if 0 <= position < len(self.tiles):
            self.scroll.ensureWidgetVisible(self.tiles[position], TILE.width() // 2, 0)

    def set_dimming(self, dim_unflagged: bool) -> None:
        for tile in self.tiles:
            tile.set_dimmed(dim_unflagged and not tile.flags)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["KEEP_WHOLE_NOTE", "GroupStrip"]
