"""The streamed critique: persona and run controls, the text, and the ranked suggestions."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.critic.events import CritiqueEvent
from critique_app.core.critic.grounding import MARK_PREFIX
from critique_app.core.critic.personas import BUILTIN_PERSONAS, Persona, all_personas
from critique_app.core.critic.sections import SECTIONS
from critique_app.core.util.errors import CritiqueError

REGION_ROLE = Qt.ItemDataRole.UserRole
ERROR_COLOUR = "#c62828"


def severity_colour(severity: float) -> QColor:
    """Red for defects that matter, amber for clear issues, yellow for minor ones."""
    if severity >= 0.7:
        return QColor("#d32f2f")
    if severity >= 0.45:
        return QColor("#f57c00")
    return QColor("#fbc02d")


def severity_word(severity: float) -> str:
    return "major" if severity >= 0.7 else "moderate" if severity >= 0.45 else "minor"


def _dot(colour: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(colour.darker(130))
    painter.setBrush(colour)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


class CritiquePanel(QWidget):
    personaChanged = Signal(str)
    stopRequested = Signal()
    regenerateRequested = Signal()
    suggestionSelected = Signal(object)  # (left, top, right, bottom) fractions, or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.persona_combo = QComboBox(self)
        self.persona_combo.setToolTip("Who the critique speaks as")
        # Tool buttons: push buttons are at least 80 px wide and the row must fit a narrow dock.
        self.stop_button = _button("Stop", "Stop writing", self)
        self.regenerate_button = _button("Regenerate", "Write the critique again", self)
        self.copy_button = _button("Copy", "Copy the whole critique as plain text", self)
        self.notice = QLabel(self, wordWrap=True)
        self.notice.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _shrink_font(self.notice)
        self.text = QTextBrowser(self)
        self.text.setOpenLinks(False)
        self.text.setPlaceholderText("The critique appears here.")
        self.error = QLabel(self, wordWrap=True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR}")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.suggestions = QListWidget(self)
        self.suggestions.setWordWrap(True)
        self.suggestions.setIconSize(QSize(12, 12))
        self.suggestions.setAlternatingRowColors(True)
        self.suggestions.setSpacing(1)
        self.suggestions.currentItemChanged.connect(self._on_current_suggestion)
        self._formats = _Formats(self.text)
        self._running = False
        self._follow = True  # keep the newest text in view until the reader scrolls up
        bar = self.text.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range)

        self._layout()
        self.persona_combo.currentIndexChanged.connect(self._on_persona_index)
        self.stop_button.clicked.connect(self.stopRequested)
        self.regenerate_button.clicked.connect(self.regenerateRequested)
        self.copy_button.clicked.connect(self.copy)
        self.reload_personas()
        self.begin()
        self.set_running(False)

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(QLabel("Persona", self))
        top.addWidget(self.persona_combo, 1)
        for button in (self.stop_button, self.regenerate_button, self.copy_button):
            top.addWidget(button)
        lower = self._suggestions_pane = QWidget(self)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        heading = QLabel("Suggestions", lower)
        _shrink_font(heading, bold=True)
        lower_layout.addWidget(heading)
        lower_layout.addWidget(self.suggestions)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.text)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.error)

    # --- personas ----------------------------------------------------------------------
    def reload_personas(self, personas: dict[str, Persona] | None = None) -> None:
        """Fill the combo (from the built-ins and the user's personas.json by default)."""
        if personas is None:
            try:
                personas = all_personas()
            except CritiqueError as error:  # a broken personas.json must not hide the panel
                personas = dict(BUILTIN_PERSONAS)
                self._add_notice(str(error))
        current = self.persona()
        self.persona_combo.blockSignals(True)
        self.persona_combo.clear()
        for persona in personas.values():
            self.persona_combo.addItem(persona.name, persona.name)
            index = self.persona_combo.count() - 1
            self.persona_combo.setItemData(index, persona.description,
                                           Qt.ItemDataRole.ToolTipRole)
        found = self.persona_combo.findData(current)
        self.persona_combo.setCurrentIndex(max(found, 0))
        self.persona_combo.blockSignals(False)

    def persona(self) -> str:
        return self.persona_combo.currentData() or ""

    def set_persona(self, name: str) -> None:
        """Select a persona without emitting personaChanged (the caller already knows)."""
        index = self.persona_combo.findData(name)
        if index >= 0:
            self.persona_combo.blockSignals(True)
            self.persona_combo.setCurrentIndex(index)
            self.persona_combo.blockSignals(False)

    def _on_persona_index(self, index: int) -> None:
        if index >= 0:
            self.personaChanged.emit(self.persona_combo.itemData(index))

    # --- the stream ----------------------------------------------------------------------
    def begin(self) -> None:
        """Start a new critique: empty text, notices, error and suggestions; running."""
        self.text.clear()
        self._cursor = QTextCursor(self.text.document())
        self._follow = True
        self.notice.clear()
        self.notice.hide()
        self.error.clear()
        self.error.hide()
        self.suggestions.clear()
        self._suggestions_pane.hide()  # shown with the first suggestion
        self.set_running(True)

    def handle_event(self, event: CritiqueEvent) -> None:
        kind = event.kind
        if kind == "text":
            self._append_checked(event.text)
        elif kind == "start":
            title = event.text or (SECTIONS[event.section].title
                                   if event.section in SECTIONS else str(event.section))
            self._paragraph(title, self._formats.heading, self._formats.heading_block)
        elif kind == "suggestion":
            self._add_suggestion(event.data)
        elif kind == "emotion":
            self._paragraph(_emotion_line(event.data), self._formats.small)
        elif kind == "score":
            self._paragraph(_score_line(event.data), self._formats.small)
        elif kind == "notice":
            self._add_notice(event.text)
        elif kind == "done":
            self.set_running(False)
        elif kind == "cancelled":
            self._append(" (stopped)", self._formats.small)
            self.set_running(False)

    def set_running(self, running: bool) -> None:
        self._running = running
        self.stop_button.setEnabled(running)
        self.regenerate_button.setEnabled(not running)

    def is_running(self) -> bool:
        return self._running

    def show_error(self, message: str) -> None:
        """The critique failed: say why under the text, keeping what was written so far."""
        self.error.setText(message)
        self.error.show()
        self.set_running(False)

    def plain_text(self) -> str:
        return self.text.document().toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.plain_text())

    # --- internals -------------------------------------------------------------------------
    def _append(self, text: str, char_format: QTextCharFormat) -> None:
        """Insert at the end: no re-layout of the rest, whatever the number of chunks."""
        if text:
            self._cursor.movePosition(QTextCursor.MoveOperation.End)
            self._cursor.insertText(text, char_format)

    def _append_checked(self, text: str) -> None:
        """Text, with the grounding check's "[contradicts the measurements: ...]" marks in
        their own colour (a gate sends each marked sentence whole, mark included)."""
        start = text.find(MARK_PREFIX)
        end = text.find("]", start) if start >= 0 else -1
        if start < 0 or end < 0:
            self._append(text, self._formats.body)
            return
        self._append(text[:start], self._formats.body)
        self._append(text[start:end + 1], self._formats.marked)
        self._append_checked(text[end + 1:])

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.text.verticalScrollBar().maximum() - 4

    def _on_range(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.text.verticalScrollBar().setValue(maximum)

    def _paragraph(self, text: str, char_format: QTextCharFormat,
                   block_format: QTextBlockFormat | None = None) -> None:
        """``text`` as a paragraph of its own; the text streamed after it starts a new one."""
        cursor = self._cursor
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not cursor.atBlockStart():
            cursor.insertBlock(self._formats.body_block, self._formats.body)
        if block_format is not None and not self.text.document().isEmpty():
            cursor.setBlockFormat(block_format)
        self._append(text, char_format)
        cursor.insertBlock(self._formats.body_block, self._formats.body)

    def _add_notice(self, text: str) -> None:
        if not text:
            return
        current = self.notice.text()
        self.notice.setText(f"{current}\n{text}" if current else text)
        self.notice.show()

    def _add_suggestion(self, data: dict) -> None:
        severity = float(data.get("severity") or 0.0)
        item = QListWidgetItem(_dot(severity_colour(severity)),
                               f"{data.get('rank', self.suggestions.count() + 1)}. "
                               f"{data.get('action', '')}")
        region = data.get("region")
        item.setData(REGION_ROLE, tuple(region) if region else None)
        item.setToolTip(f"Measured: {data.get('evidence', '')}\n"
                        f"{severity_word(severity).capitalize()} {data.get('category', '')} "
                        f"issue (severity {severity:.2f})"
                        + ("\nSelect to show where on the photo" if region else ""))
        self.suggestions.addItem(item)
        self._suggestions_pane.show()

    def _on_current_suggestion(self, current: QListWidgetItem | None, _previous) -> None:
        self.suggestionSelected.emit(current.data(REGION_ROLE) if current is not None else None)


class _Formats:
    """Character and block formats for the critique text, from the view's font."""

    def __init__(self, view: QTextBrowser) -> None:
        base = view.font()
        self.body = QTextCharFormat()
        self.body.setFont(base)
        self.heading = QTextCharFormat()
        heading_font = QFont(base)
        heading_font.setBold(True)
        heading_font.setPointSizeF(base.pointSizeF() * 1.15)
        self.heading.setFont(heading_font)
        self.small = QTextCharFormat()
        small_font = QFont(base)
        small_font.setPointSizeF(base.pointSizeF() * 0.9)
        small_font.setItalic(True)
        self.small.setFont(small_font)
        self.small.setForeground(view.palette().color(QPalette.ColorRole.PlaceholderText))
        self.marked = QTextCharFormat(self.small)  # a statement the measurements contradict
        self.marked.setForeground(view.palette().color(QPalette.ColorRole.Link))
        self.body_block = QTextBlockFormat()
        self.heading_block = QTextBlockFormat()
        self.heading_block.setTopMargin(10)


def _button(text: str, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


def _shrink_font(label: QLabel, bold: bool = False) -> None:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    font.setBold(bold)
    label.setFont(font)


def _emotion_line(data: dict) -> str:
    vad = data.get("vad") or {}
    numbers = ", ".join(f"{name} {vad[name]:.2f}" for name in ("valence", "arousal", "dominance")
                        if name in vad)
    return f"Emotion: {data.get('category', '?')}" + (f" · {numbers} (0-1)" if numbers else "")


def _score_line(data: dict) -> str:
    model = data.get("model") or "the vision-language model"
    return (f"Zero-shot VLM rating by {model}: {data.get('mean', 0):.1f} ± "
            f"{data.get('std', 0):.1f} (not the trained score model)")
