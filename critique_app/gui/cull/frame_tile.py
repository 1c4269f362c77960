"""One frame of a group: its thumbnail, a gold border and "★ pick" when Critique picked it
(green and "⚑" when the photographer did), the flags as small pills, the photographer's
rating at the bottom, and every reason in the tooltip."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

from critique_app.core.culling.verdicts import CulledPhoto
from critique_app.core.library.ratings import PhotoRating
from critique_app.gui.cull.badges import (
    PICK_GOLD,
    SELECTED_BLUE,
    TEXT_ON_PILL,
    YOUR_PICK_GREEN,
    draw_pill,
    flag_badge,
)
from critique_app.gui.rating.controls import badge, rating_tip

IMAGE = QSize(160, 120)  # the thumbnail's box; thumbnails are made at 160 px
MARGIN = 5  # room for the selection ring around the border
NAME_HEIGHT = 20
TILE = QSize(IMAGE.width() + 2 * MARGIN, IMAGE.height() + 2 * MARGIN + NAME_HEIGHT)
_BACKDROP = QColor(40, 40, 44)


class FrameTile(QWidget):
    """A frame: click selects it, double-click opens it (the page decides what that does)."""

    clicked = Signal()
    doubleClicked = Signal()

    def __init__(self, photo: CulledPhoto, why: str, parent: QWidget | None = None, *,
                 group_size: int = 1) -> None:
        super().__init__(parent)
        self._size = group_size
        self._alone = group_size == 1  # the only frame of its group: no choice made
        self.photo = photo
        self.path = Path(photo.path)
        self.verdict = photo.verdict
        self._why = why
        self._image: QImage | None = None
        self._broken: str | None = None  # why the thumbnail could not be made
        self._rating: PhotoRating | None = None
        self._rating_problem: str | None = None
        self._selected = False
        self._dimmed = False
        self.setFixedSize(TILE)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the page keeps the keys
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._update_tip()

    # --- what it shows -----------------------------------------------------------
    @property
    def is_pick(self) -> bool:
        """Critique's pick of its group (a single frame's is not marked: there was no choice)."""
        return self.verdict is not None and self.verdict.best and not self._alone

    @property
    def is_your_pick(self) -> bool:
        return self._rating is not None and self._rating.picked

    @property
    def flags(self) -> tuple[str, ...]:
        return self.verdict.flags if self.verdict is not None else ()

    def flag_texts(self) -> list[str]:
        """The flag pills' texts, as drawn: "blur", "eyes closed", ..."""
        return [flag_badge(flag)[0] for flag in self.flags]

    def pick_text(self) -> str:
        """"★ pick", "⚑ your pick", "★ pick ⚑" or ""."""
        parts = (["★ pick"] if self.is_pick else []) + (
            ["⚑"] if self.is_pick and self.is_your_pick else
            ["⚑ your pick"] if self.is_your_pick else [])
        return " ".join(parts)

    def rating(self) -> PhotoRating | None:
        return self._rating

    def set_image(self, image: QImage | None, error: str | None = None) -> None:
        self._image, self._broken = image, error
        self._update_tip()
        self.update()

    def set_rating(self, rating: PhotoRating | None, problem: str | None = None) -> None:
        self._rating, self._rating_problem = rating, problem
        self._update_tip()
        self.update()

    def set_selected(self, selected: bool) -> None:
        if selected != self._selected:
            self._selected = selected
            self.update()

    def set_dimmed(self, dimmed: bool) -> None:
        if dimmed != self._dimmed:
            self._dimmed = dimmed
            self.update()

    def _update_tip(self) -> None:
        head = self.path.name
        if self.verdict is not None and not self._alone:
            head += f" · rank {self.verdict.rank} of {self._size}" + (
                " · Critique's pick" if self.is_pick else "")
        lines = [head]
        if self.verdict is not None:
            lines += [f"• {reason}" for reason in self.verdict.reasons]
        if self._why:
            lines.append(f"group: {self._why}")
        if self._broken:
            lines.append(self._broken)
        tip = rating_tip(self._rating, self._rating_problem)
        if tip:
            lines.append(f"your rating: {tip}")
        self.setToolTip("\n".join(lines))

    # --- events ------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.doubleClicked.emit()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rejected = self._rating is not None and self._rating.rejected
        painter.setOpacity(0.3 if self._dimmed else 0.55 if rejected else 1.0)
        box = QRect(MARGIN, MARGIN, IMAGE.width(), IMAGE.height())
        painter.fillRect(box, _BACKDROP)
        if self._image is not None:
            size = self._image.size().scaled(IMAGE, Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(box.left() + (box.width() - size.width()) / 2,
                            box.top() + (box.height() - size.height()) / 2,
                            size.width(), size.height())
            painter.drawImage(target, self._image)
        elif self._broken:
            painter.setPen(QPen(QColor(200, 70, 70), 2))
            painter.drawLine(box.center().x() - 12, box.center().y() - 12,
                             box.center().x() + 12, box.center().y() + 12)
            painter.drawLine(box.center().x() + 12, box.center().y() - 12,
                             box.center().x() - 12, box.center().y() + 12)
        self._paint_border(painter, box)
        self._paint_badges(painter, box)
        self._paint_name(painter, box)
        painter.end()

    def _paint_border(self, painter: QPainter, box: QRect) -> None:
        colour = YOUR_PICK_GREEN if self.is_your_pick else PICK_GOLD if self.is_pick else None
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if colour:
            painter.setPen(QPen(QColor(colour), 3))
            painter.drawRect(QRectF(box).adjusted(1.5, 1.5, -1.5, -1.5))
        if self._selected:
            painter.save()
            painter.setOpacity(1.0)  # the selection shows even on a dimmed frame
            painter.setPen(QPen(QColor(SELECTED_BLUE), 2.5))
            painter.drawRoundedRect(QRectF(box).adjusted(-3.5, -3.5, 3.5, 3.5), 3, 3)
            painter.restore()

    def _paint_badges(self, painter: QPainter, box: QRect) -> None:
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.82))
        font.setBold(True)
        painter.setFont(font)
        pick = self.pick_text()
        if pick:
            colour = YOUR_PICK_GREEN if self.is_your_pick else PICK_GOLD  # yours: green
            text_colour = "#1d1d1f" if colour == PICK_GOLD else TEXT_ON_PILL
            draw_pill(painter, box.left() + 4, box.top() + 4, [(pick, text_colour)], colour)
        y = box.top() + 4
        for flag in self.flags:  # right-aligned, one under the other
            text, colour = flag_badge(flag)
            width = painter.fontMetrics().horizontalAdvance(text) + 10
            y = draw_pill(painter, box.right() - 3 - width, y, [(text, TEXT_ON_PILL)],
                          colour).bottom() + 3
        parts, pill, _tip = badge(self._rating, self._rating_problem)
        parts = [part for part in parts if part[0] != "⚑" or not pick]  # ⚑ is in the pick
        if parts:
            metrics = painter.fontMetrics()
            width = sum(metrics.horizontalAdvance(t) for t, _ in parts) + 10 + (
                metrics.horizontalAdvance(" ") * (len(parts) - 1))
            kwargs = {"background": pill} if pill else {}
            draw_pill(painter, box.center().x() - width // 2,
                      box.bottom() - metrics.height() - 4, parts, **kwargs)

    def _paint_name(self, painter: QPainter, box: QRect) -> None:
        font = self.font()
        font.setBold(self.is_pick)
        painter.setFont(font)
        role = QPalette.ColorRole.WindowText if self.is_pick else QPalette.ColorRole.PlaceholderText
        painter.setPen(self.palette().color(role))
        rank = f"{self.verdict.rank}. " if self.verdict is not None and not self._alone else ""
        line = QRect(box.left(), box.bottom() + 3, box.width(), NAME_HEIGHT - 2)
        text = painter.fontMetrics().elidedText(rank + self.path.name,
                                                Qt.TextElideMode.ElideMiddle, line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, text)


__all__ = ["IMAGE", "TILE", "FrameTile"]
