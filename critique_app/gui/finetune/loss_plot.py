"""The live loss curve: every step's training loss (faint), its running average
(bold) and the held-out loss at each evaluation, in the score panel's style."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

HELD_OUT_KEYS = ("loss", "emd")  # the held-out measure on the training loss's scale
SMOOTHING = 0.9  # weight of the running average's past
HELD_OUT_COLOUR = QColor("#e65100")


class LossPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        palette = parent.palette() if parent is not None else QApplication.palette()
        super().__init__(parent, background=palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        faint = QColor(accent)
        faint.setAlpha(70)
        self.setMinimumHeight(170)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        for name, label in (("bottom", "step"), ("left", "loss")):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            axis.setLabel(label, color=text.name(), **{"font-size": "9pt"})
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(48)
        item.layout.setContentsMargins(0, 8, 8, 0)
        item.showGrid(x=False, y=True, alpha=0.15)
        self.legend = item.addLegend(offset=(-10, 10), labelTextColor=text,
                                     brush=pg.mkBrush(palette.color(QPalette.ColorRole.Base)),
                                     pen=pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
        self.raw = item.plot([], [], pen=pg.mkPen(faint, width=1))
        self.smooth = item.plot([], [], pen=pg.mkPen(accent, width=2), name="training loss")
        self.held_out = item.plot([], [], pen=None, symbol="o", symbolSize=7,
                                  symbolBrush=pg.mkBrush(HELD_OUT_COLOUR),
                                  symbolPen=pg.mkPen(HELD_OUT_COLOUR), name="held-out")
        self.legend.removeItem(self.held_out)
        self._held_out_shown = False
        self.setToolTip("Training loss at each step (the bold line is its running average); "
                        "dots: the loss on the held-out photos after each epoch")
        self.points = 0

    def set_losses(self, losses: list[tuple[int, float]], evaluations=()) -> None:
        steps = np.array([s for s, _ in losses], dtype=float)
        values = np.array([v for _, v in losses], dtype=float)
        self.raw.setData(steps, values)
        self.smooth.setData(steps, _running_average(values))
        self.points = len(losses)
        held = []
        for step, metrics in evaluations:
            key = next((k for k in HELD_OUT_KEYS if isinstance(metrics.get(k), int | float)),
                       None)
            if key is not None:
                held.append((step, metrics[key]))
        self.held_out.setData([s for s, _ in held], [v for _, v in held])
        if held and not self._held_out_shown:
            self.legend.addItem(self.held_out, "held-out")
            self._held_out_shown = True
        if len(steps):
            self.getPlotItem().setXRange(max(1.0, steps[0]), max(steps[-1], steps[0] + 1),
                                         padding=0.02)

    def clear_losses(self) -> None:
        self.set_losses([])


def _running_average(values: np.ndarray) -> np.ndarray:
    """An exponential moving average that starts at the first value (no warm-up dip)."""
    out = np.empty_like(values)
    average = None
    for i, value in enumerate(values):
        if not np.isfinite(value):
            out[i] = np.nan
            continue
        average = value if average is None else SMOOTHING * average + (1 - SMOOTHING) * value
        out[i] = average
    return out
