"""Small pieces the wizard's pages share: message labels and number formats."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

ERROR_COLOUR = "#c62828"
GOOD_COLOUR = "#2e7d32"
GiB = 1024**3


def note(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A wrapped, selectable, slightly muted line of explanation."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class MessageLabel(QLabel):
    """A wrapped line that is either plain information or an error (red)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = False

    def show_info(self, text: str, *, rich: bool = False) -> None:
        self._set(text, None, rich)

    def show_error(self, text: str, *, rich: bool = False) -> None:
        self._set(text, ERROR_COLOUR, rich)

    def show_good(self, text: str, *, rich: bool = False) -> None:
        self._set(text, GOOD_COLOUR, rich)

    def _set(self, text: str, colour: str | None, rich: bool) -> None:
        self.error = colour == ERROR_COLOUR
        body = text if rich else html.escape(text).replace("\n", "<br>")
        self.setText(f'<span style="color: {colour}">{body}</span>' if colour else body)
        self.setVisible(bool(text))

    def plain_text(self) -> str:
        from PySide6.QtGui import QTextDocument

        document = QTextDocument()
        document.setHtml(self.text())
        return document.toPlainText()


def gib(n_bytes: float | None) -> str:
    if n_bytes is None:
        return "?"
    value = n_bytes / GiB
    return f"{value:.1f} GiB" if value >= 0.95 else f"{value:.2f} GiB"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"
