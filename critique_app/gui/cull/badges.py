"""The small labels drawn on a frame: what each culling flag is called on a thumbnail, its
colour, and a rounded pill to draw any of them (flags, "★ pick", the photographer's rating)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter

# flag -> (short text on the thumbnail, pill colour)
FLAG_BADGES = {
    "subject-blur": ("blur", "#c0392b"),
    "eyes-closed": ("eyes closed", "#c0392b"),
    "eyes-unknown": ("eyes ?", "#6b6b73"),
    "underexposed": ("under", "#2e5f9e"),
    "overexposed": ("over", "#b9770e"),
}
PICK_GOLD = "#e8b923"  # Critique's pick: border and "★ pick"
YOUR_PICK_GREEN = "#3f9f58"  # the photographer's own pick (⚑)
SELECTED_BLUE = "#3d8fe0"
TEXT_ON_PILL = "#ffffff"
DARK_PILL = QColor(0, 0, 0, 185)


def flag_badge(flag: str) -> tuple[str, str]:
    """(text, colour) for a flag; an unknown flag is shown by its own name."""
    return FLAG_BADGES.get(flag, (flag, "#6b6b73"))


def draw_pill(painter: QPainter, x: int, y: int, parts: list[tuple[str, str]],
              background: QColor | str = DARK_PILL) -> QRect:
    """Coloured text parts on one rounded pill with its top-left at (x, y); returns its box."""
    metrics = painter.fontMetrics()
    gap = metrics.horizontalAdvance(" ")
    widths = [metrics.horizontalAdvance(text) for text, _ in parts]
    box = QRect(x, y, sum(widths) + gap * (len(parts) - 1) + 10, metrics.height() + 2)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(background))
    painter.drawRoundedRect(box, box.height() / 2, box.height() / 2)
    left = box.left() + 5
    for (text, colour), width in zip(parts, widths, strict=True):
        painter.setPen(QColor(colour))
        painter.drawText(QRect(left, box.top(), width, box.height()),
                         Qt.AlignmentFlag.AlignCenter, text)
        left += width + gap
    painter.restore()
    return box


__all__ = ["FLAG_BADGES", "PICK_GOLD", "SELECTED_BLUE", "YOUR_PICK_GREEN", "draw_pill",
           "flag_badge"]
