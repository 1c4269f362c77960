"""The newcomer's offer in the score panel: no score model yet, so the recommended
pretrained scorer for this machine, what it is, and a Pull button.

The widget only shows states and emits ``pullRequested`` / ``cancelRequested``; the photo
page runs the pull through the bridge and reports back with :meth:`PullOffer.set_pulling`,
:meth:`set_progress`, :meth:`set_failed` and :meth:`set_idle`.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ERROR_COLOUR = "#c62828"


def size_text(n: int | None) -> str:
    if not n:
        return "size unknown"
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


def one_line(message: str) -> str:
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else "the pull failed"


def model_title(entry) -> str:
    """A manifest entry's display name: its card's title, else its store name."""
    return entry.title


def describe_offer(recommendation) -> list[str]:
    """The facts a newcomer decides on, one per line: what it predicts, its accuracy on
    AVA and who measured it, its download size, its weights' licence, its speed here
    (the whole card is in Tools ▸ Models)."""
    entry = recommendation.entry
    card = entry.card
    lines = []
    predicts = card.get("predicts")
    scale = card.get("scale")
    if predicts:
        what = "a 1-10 score distribution" if predicts == "distribution" else "a mean score"
        lines.append(f"Predicts {what}" + (f" on the {scale} scale" if scale else ""))
    srcc = card.get("srcc")
    if srcc is not None:
        by = card.get("srcc_by")
        lines.append(f"Accuracy: SRCC {float(srcc):.3f} with AVA's human ratings"
                     + (f", measured by {by}" if by else ""))
    lines.append(f"Download: {size_text(recommendation.size_bytes)}")
    lines.append(f"Licence: {card.get('weights_licence') or entry.licence}")
    lines.append(f"Speed: {recommendation.speed_text()}")
    return lines


class PullOffer(QFrame):
    """``show_offer(recommendation)`` fills it in; the Pull button asks for the pull."""

    pullRequested = Signal(str)  # the model's store name
    cancelRequested = Signal()
    changed = Signal()  # its state changed: it may need another height

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name: str | None = None
        self.pulling = False
        self.title = QLabel(wordWrap=True)
        self.facts = QLabel(wordWrap=True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why = QLabel(wordWrap=True)
        self.why.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.pull_button = QPushButton("Pull")
        self.pull_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing is installed")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.message = QLabel()
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setWordWrap(True)  # one line of text; wrapped, never widening
        self.pull_button.clicked.connect(self._pull_clicked)
        self.cancel_button.clicked.connect(self.cancelRequested)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.pull_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        row.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.facts)
        layout.addWidget(self.why)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.set_idle()
        self.hide()

    # --- what it offers ------------------------------------------------------------------
    def show_offer(self, recommendation) -> None:
        """The recommended scorer; a pull under way keeps going and keeps its progress."""
        entry = recommendation.entry
        if self.pulling and entry.name != self.name:
            return
        self.name = entry.name
        title = model_title(entry)
        self.title.setText(f"Recommended for this machine: <b>{html.escape(title)}</b>")
        self.facts.setText("<br>".join(html.escape(line)
                                       for line in describe_offer(recommendation)))
        why = recommendation.why
        self.why.setText(html.escape(why))
        self.why.setVisible(bool(why))
        self.pull_button.setToolTip(f"critique models pull {entry.name}: download it into "
                                    "the model store and score the open photo with it")
        if not self.pulling:
            self.pull_button.setText(f"Pull {title}" if len(title) <= 28 else "Pull")
        self.show()

    # --- states ---------------------------------------------------------------------------
    def set_idle(self, note: str = "") -> None:
        self.pulling = False
        self.pull_button.setEnabled(True)
        self.pull_button.show()
        self.progress.hide()
        self.cancel_button.hide()
        self._message(note)
        self.changed.emit()

    def set_pulling(self) -> None:
        self.pulling = True
        self.pull_button.hide()
        self.progress.setRange(0, 0)  # busy until the first byte count
        self.progress.setFormat("starting…")
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self._message("")
        self.changed.emit()

    def set_progress(self, done: int | None = None, total: int | None = None,
                     line: str | None = None) -> None:
        if done is not None and total:
            scale = max(1, total // 1_000_000)  # QProgressBar holds an int: count in MB
            self.progress.setRange(0, total // scale)
            self.progress.setValue(min(done, total) // scale)
            self.progress.setFormat(f"{size_text(done)} of {size_text(total)}")
        if line:
            shown = self.message.isVisibleTo(self)
            self._message(one_line(line))
            if not shown:
                self.changed.emit()

    def set_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self._message("cancelling…")

    def set_failed(self, message: str) -> None:
        """The error in one line, and Retry."""
        self.set_idle()
        self.pull_button.setText("Retry")
        self._message(one_line(message), error=True)
        self.changed.emit()

    def message_text(self) -> str:
        return self.message.text()

    def showing_error(self) -> bool:
        return ERROR_COLOUR in self.message.styleSheet()

    # --- internals --------------------------------------------------------------------------
    def _message(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setVisible(bool(text))

    def _pull_clicked(self) -> None:
        if self.name is not None and not self.pulling:
            self.pullRequested.emit(self.name)
