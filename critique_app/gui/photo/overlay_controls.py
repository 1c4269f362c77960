"""Choose a modality overlay, its opacity, and read its legend."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from critique_app.core.maps.base import MapResult
from critique_app.core.maps.overlay import STYLES, colorize
from critique_app.gui.photo.viewer import to_qimage

NONE = "none"
CHOICES = {NONE: "None", "saliency": "Saliency", "depth": "Depth", "blur": "Blur"}
DEFAULT_OPACITY = 0.6


class ColourBar(QWidget):
    """The selected modality's colour map, low label on the left, high on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._modality: str | None = None
        self._bar: QPixmap | None = None
        self.setMinimumHeight(22)
        self.setMinimumWidth(160)

    @property
    def modality(self) -> str | None:
        return self._modality

    def set_map(self, modality: str | None, meaning: str | None = None) -> None:
        """Show ``modality``'s legend, or nothing for None."""
        self._modality = modality if modality in STYLES else None
        self._bar = None
        if self._modality is not None:
            ramp = np.linspace(0, 1, 256, dtype=np.float32)[None, :]
            self._bar = QPixmap.fromImage(to_qimage(colorize(ramp, self._modality)))
        self.setToolTip(f"1 = {meaning}" if meaning and self._modality else "")
        self.update()

    def paintEvent(self, event) -> None:
        if self._modality is None or self._bar is None:
            return
        style = STYLES[self._modality]
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        metrics = painter.fontMetrics()
        gap = 6
        low_w = metrics.horizontalAdvance(style.low_label)
        high_w = metrics.horizontalAdvance(style.high_label)
        bar = QRect(low_w + gap, 3, self.width() - low_w - high_w - 2 * gap, self.height() - 6)
        painter.setPen(self.palette().windowText().color())
        align = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(0, 0, low_w, self.height()), align, style.low_label)
        painter.drawText(QRect(bar.right() + gap + 1, 0, high_w, self.height()), align,
                         style.high_label)
        if bar.width() > 4:
            painter.drawPixmap(bar, self._bar)
            painter.setPen(QColor(0, 0, 0, 90))
            painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.end()


class OverlayControls(QWidget):
    """Overlay choice and opacity. Unavailable modalities say why instead of emitting.

    ``overlayChanged`` carries "none", "saliency", "depth" or "blur", and fires only
    for "none" or a modality whose map is available: when the user picks one, and
    after :meth:`set_maps` if the choice shows something (new maps to draw)
    or stops showing something.
    """

    overlayChanged = Signal(str)
    opacityChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._results: dict[str, MapResult] = {}
        self._shown = NONE  # what the last overlayChanged asked to show

        self.combo = QComboBox()
        for key, title in CHOICES.items():
            self.combo.addItem(title, key)
        self.combo.setToolTip("Colour overlay drawn over the photo")
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0.0, 1.0)
        self.slider.setSingleStep(0.05)
        self.slider.setDecimals(2)
        self.slider.setValue(DEFAULT_OPACITY)
        self.slider.setToolTip("Overlay opacity")
        self.legend = ColourBar()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: palette(placeholder-text);")

        row = QHBoxLayout()
        row.addWidget(QLabel("Overlay"))
        row.addWidget(self.combo)
        row.addSpacing(8)
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.legend)
        layout.addWidget(self.message)

        self.combo.currentIndexChanged.connect(lambda _index: self._apply(force=False))
        self.slider.valueChanged.connect(lambda value: self.opacityChanged.emit(float(value)))
        self._refresh_items()

    def current(self) -> str:
        """The chosen entry, available or not."""
        return self.combo.currentData()

    def shown(self) -> str:
        """What is actually on the photo: the choice if available, else "none"."""
        return self._shown

    def set_current(self, modality: str) -> None:
        """Choose an entry as the user would (emits as the user's choice would)."""
        index = self.combo.findData(modality)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def opacity(self) -> float:
        return float(self.slider.value())

    def set_maps(self, results: dict[str, MapResult] | None) -> None:
        """The current photo's maps (None: no photo or not analysed yet)."""
        self._results = dict(results or {})
        self._refresh_items()
        self._apply(force=True)

    def is_available(self, modality: str) -> bool:
        result = self._results.get(modality)
        return modality == NONE or (result is not None and result.available)

    # --- internals ---------------------------------------------------------------
    def _apply(self, *, force: bool) -> None:
        """Show the choice's legend or why it is missing; emit what should be on screen."""
        choice = self.current()
        available = self.is_available(choice)
        result = self._results.get(choice)
        self.legend.set_map(choice if available else None,
                                 result.meaning if result is not None else None)
        self.message.setText("" if available else self._why_missing(choice, result))
        wanted = choice if available else NONE
        if wanted != self._shown or (force and wanted != NONE):
            self._shown = wanted
            self.overlayChanged.emit(wanted)

    def _why_missing(self, choice: str, result: MapResult | None) -> str:
        title = CHOICES[choice]
        if result is None:
            return f"{title}: no map yet — open a photo and wait for the analysis."
        reason = result.reason or "no map was produced"
        text = f"{title} unavailable: {reason}"
        return f"{text} — {result.hint}" if result.hint else text

    def _refresh_items(self) -> None:
        """Grey out entries without a map (they stay selectable, to say why)."""
        for index in range(self.combo.count()):
            key = self.combo.itemData(index)
            dim = bool(self._results) and not self.is_available(key)
            role = QPalette.ColorRole.PlaceholderText if dim else QPalette.ColorRole.Text
            self.combo.setItemData(index, self.palette().color(role),
                                   Qt.ItemDataRole.ForegroundRole)
            result = self._results.get(key)
            tip = ""
            if result is not None:
                tip = f"1 = {result.meaning}" if result.available else self._why_missing(
                    key, result)
            self.combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)


__all__ = ["CHOICES", "ColourBar", "OverlayControls"]
