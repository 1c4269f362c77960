"""The predicted score: its 1-10 distribution and mean ± std (or the mean alone, for a
model that predicts no distribution), which model scored, and each cue's own score.
Without a score model it offers the recommended pretrained one (:mod:`.pull_offer`)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.gui.photo.personal_taste import PersonalBox
from critique_app.gui.photo.pull_offer import PullOffer

SCORES = np.arange(1, 11, dtype=float)
MODALITY_ORDER = ("photo", "saliency", "depth", "blur")
MODALITY_TIPS = {
    "photo": "The trained model's score for the photo itself.",
    "saliency": "A model trained on the saliency map alone: how well the eye is led.",
    "depth": "A model trained on the depth map alone: how the scene is layered.",
    "blur": "A model trained on the blur map alone: where the photo is sharp or soft.",
}
UP, DOWN, NEUTRAL = QColor("#2e7d32"), QColor("#c62828"), QColor("#808080")
SAME = 0.05  # deltas this small read as "the same as the photo"
MEAN_ONLY = "mean only: this model predicts no distribution"


def has_distribution(score: ScoreDistribution) -> bool:
    return score.has_distribution


def score_text(score: ScoreDistribution) -> str:
    """"6.4 ± 1.3", or "6.4" for a mean-only score (never an invented spread)."""
    return f"{score.mean:.1f} ± {score.std:.1f}" if has_distribution(score) \
        else f"{score.mean:.1f}"


class ScorePanel(QWidget):
    """Shows scores; the main window decides what and when (no work happens here)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setToolTip("Mean ± standard deviation of the predicted 1-10 score")
        self.model = _small_label(self, centred=True)  # which model scored
        self.model.setWordWrap(True)
        self.mean_only = _small_label(self, centred=True)
        self.mean_only.setText(MEAN_ONLY)
        self.mean_only.setToolTip("This score model predicts one number, the mean score; "
                                  "no histogram of how sure it is")
        self.percentile = _small_label(self, centred=True)
        self.plot = _histogram_plot(self)
        self.bars = pg.BarGraphItem(x=SCORES, height=np.zeros(10), width=0.75,
                                    brush=self.palette().color(QPalette.ColorRole.Highlight),
                                    pen=pg.mkPen(None))
        self.mean_line = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(self.palette().color(QPalette.ColorRole.Text), width=2,
                                   style=Qt.PenStyle.DashLine),
            label="mean {value:.1f}",
            labelOpts={"position": 0.92, "color": self.palette().color(QPalette.ColorRole.Text),
                       "fill": self.palette().color(QPalette.ColorRole.Base),
                       "anchors": [(0, 0.5), (0, 0.5)]})
        self.plot.addItem(self.bars)
        self.plot.addItem(self.mean_line)
        self.cues = _CueTable(self)
        self.personal = PersonalBox(self)  # the personal score and "Learn my taste"
        self.offer = PullOffer(self)
        self.vlm = _VlmBox(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.status)
        layout.addWidget(self.headline)
        layout.addWidget(self.model)
        layout.addWidget(self.mean_only)
        layout.addWidget(self.percentile)
        layout.addWidget(self.personal)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.cues)
        layout.addWidget(self.offer)
        layout.addWidget(self.vlm)
        layout.addStretch(0)
        self.clear()

    # --- public API ----------------------------------------------------------------
    def show_scores(self, scores: dict[str, ScoreDistribution],
                    percentile: float | None = None,
                    models: dict[str, str] | None = None) -> None:
        """``scores`` by modality; "photo" is the headline and the histogram. ``models``
        names the model behind each modality's score (its title, else its store name)."""
        models = models or {}
        photo = scores.get("photo")
        if photo is None:
            self._show_state("No photo score",
                             "The score models installed do not include one for the photo.")
        else:
            self._show_state(None)
            self.headline.setText(score_text(photo))
            self.headline.show()
            if has_distribution(photo):
                self.headline.setToolTip("Mean ± standard deviation of the predicted 1-10 "
                                         "score")
                self.plot.show()
                self.mean_line.show()  # before setValue: a hidden line's label does not update
                self._set_bars(photo.probabilities)
                self.mean_line.setValue(photo.mean)
            else:
                self.headline.setToolTip("The predicted mean score, 1-10")
                self.mean_only.show()
            title = models.get("photo") or getattr(photo, "model", "")
            if title:
                self.model.setText(f"scored by {title}")
                self.model.setToolTip(f"The photo score model: {title}")
                self.model.show()
        if percentile is not None and photo is not None:
            self.percentile.setText(f"percentile {round(percentile)} in this folder")
            self.percentile.show()
        self.cues.show_scores(scores, models)

    def show_missing(self, message: str) -> None:
        """No score model: say so and how to get one; no bars at all. The offer of the
        recommended scorer comes with :meth:`show_offer`, once it is known."""
        self._show_state("No score model", message)

    def show_offer(self, recommendation) -> None:
        """Offer the recommended pretrained scorer, with a Pull button (no score model)."""
        self.offer.show_offer(recommendation)

    def model_text(self) -> str:
        return self.model.text() if self.model.isVisibleTo(self) else ""

    def is_mean_only(self) -> bool:
        return self.mean_only.isVisibleTo(self)

    def show_vlm_rating(self, data: dict) -> None:
        """A zero-shot rating from the critique's vision-language model (a 'score' event)."""
        self.vlm.show_rating(data)

    def set_busy(self, text: str) -> None:
        self._show_state(None, text)

    def clear(self) -> None:
        self._show_state(None)
        self.vlm.hide()

    def bar_heights(self) -> list[float]:
        return [float(v) for v in self.bars.opts["height"]]

    def headline_text(self) -> str:
        return self.headline.text() if self.headline.isVisibleTo(self) else ""

    # --- internals -------------------------------------------------------------------
    def _show_state(self, title: str | None, message: str = "") -> None:
        """Reset the score display to a message (or nothing); the VLM box is left alone."""
        message = message[:1].upper() + message[1:]
        text = f"<b>{title}</b><br>{message}" if title else message
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.headline.hide()
        self.model.hide()
        self.mean_only.hide()
        self.percentile.hide()
        if not self.offer.pulling:  # a pull under way stays in view across photos
            self.offer.hide()
        self.plot.hide()
        self.mean_line.hide()
        self._set_bars([])
        self.cues.show_scores({})

    def _set_bars(self, probabilities) -> None:
        heights = np.asarray(probabilities, dtype=float)
        self.bars.setOpts(x=SCORES[:len(heights)], height=heights)
        top = float(heights.max()) if len(heights) else 0.0
        self.plot.setYRange(0, max(top * 1.18, 0.05), padding=0)


def _small_label(parent: QWidget, centred: bool = False) -> QLabel:
    label = QLabel(parent)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    if centred:
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _histogram_plot(parent: QWidget) -> pg.PlotWidget:
    palette = parent.palette()
    text = palette.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(parent, background=palette.color(QPalette.ColorRole.Base))
    plot.setMinimumHeight(150)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    item = plot.getPlotItem()
    item.setXRange(0.4, 10.6, padding=0)
    for name, label in (("bottom", "score"), ("left", "probability")):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
        axis.setLabel(label, color=text.name(), **{"font-size": "9pt"})
    item.getAxis("bottom").setTicks([[(i, str(i)) for i in range(1, 11)]])
    item.getAxis("left").enableAutoSIPrefix(False)
    item.getAxis("left").setWidth(44)
    item.layout.setContentsMargins(0, 8, 4, 0)  # room for the top tick's label
    plot.setToolTip("How likely each score 1-10 is, by the trained score model")
    return plot


class _CueTable(QFrame):
    """Each modality's own score as a small bar, and how far it sits from the photo's."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 4, 0, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(3)
        self.grid.setColumnStretch(1, 1)
        self.values: dict[str, str] = {}  # modality -> "6.4 ± 1.3", what is on screen

    def show_scores(self, scores: dict[str, ScoreDistribution],
                    models: dict[str, str] | None = None) -> None:
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.values = {}
        order = [m for m in MODALITY_ORDER if m in scores]
        order += sorted(m for m in scores if m not in MODALITY_ORDER)
        if not order or order == ["photo"]:
            self.hide()
            return
        title = _small_label(self)
        title.setText("By cue (each map scored alone)")
        self.grid.addWidget(title, 0, 0, 1, 4)
        photo = scores.get("photo")
        for row, modality in enumerate(order, 1):
            score = scores[modality]
            model = (models or {}).get(modality) or getattr(score, "model", "")
            self._add_row(row, modality, score, photo, model)
        self.show()

    def _add_row(self, row: int, modality: str, score: ScoreDistribution,
                 photo: ScoreDistribution | None, model: str | None) -> None:
        tip = MODALITY_TIPS.get(modality, f"A model trained on the {modality} map alone.")
        if model:
            tip += f"\nScored by {model}."
        if not has_distribution(score):
            tip += f"\n{MEAN_ONLY.capitalize()}."
        name = QLabel(modality.capitalize(), self)
        value = QLabel(score_text(score), self)
        value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        delta = QLabel(self)
        delta.setMinimumWidth(delta.fontMetrics().horizontalAdvance("−0.0 ") + 4)
        if photo is not None and modality != "photo":
            difference = score.mean - photo.mean
            colour = UP if difference >= SAME else DOWN if difference <= -SAME else NEUTRAL
            delta.setText(f"{difference:+.1f}".replace("-", "−"))
            delta.setStyleSheet(f"color: {colour.name()}")
            side = "above" if difference >= 0 else "below"
            tip += f"\n{abs(difference):.1f} {side} the photo score."
        bar = _MeanBar(score, photo.mean if photo is not None else None, self)
        for column, widget in enumerate((name, bar, value, delta)):
            widget.setToolTip(tip)
            self.grid.addWidget(widget, row, column)
        self.values[modality] = value.text()


class _MeanBar(QWidget):
    """A 1-10 track filled to the mean, a whisker for ± std (when the model predicts a
    distribution), a tick at the photo's mean."""

    def __init__(self, score: ScoreDistribution, photo_mean: float | None,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.score, self.photo_mean = score, photo_mean
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(120, 14)

    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width, height = self.width() - 2, self.height()
        track = QRectF(1, height * 0.2, width, height * 0.6)

        def x(score: float) -> float:
            return 1 + width * min(max((score - 1) / 9, 0.0), 1.0)

        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Midlight))
        painter.drawRoundedRect(track, 3, 3)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
        painter.drawRoundedRect(QRectF(track.left(), track.top(),
                                       x(self.score.mean) - track.left(), track.height()), 3, 3)
        text = palette.color(QPalette.ColorRole.Text)
        painter.setPen(QPen(text, 1))
        middle = height / 2
        if has_distribution(self.score):  # a mean-only score has no spread to draw
            painter.drawLine(int(x(self.score.mean - self.score.std)), int(middle),
                             int(x(self.score.mean + self.score.std)), int(middle))
        if self.photo_mean is not None:
            painter.setPen(QPen(text, 2))
            marker = int(x(self.photo_mean))
            painter.drawLine(marker, 0, marker, height)
        painter.end()


class _VlmBox(QFrame):
    """The zero-shot VLM rating, kept apart from the trained model's score."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(self)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setWordWrap(True)
        self.levels = _small_label(self)
        self.levels.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.levels)

    def show_rating(self, data: dict) -> None:
        model = data.get("model") or "the vision-language model"
        self.title.setText(f"Zero-shot VLM rating: {data['mean']:.1f} ± {data['std']:.1f}")
        levels = data.get("levels") or {}
        words = " · ".join(f"{word} {p * 100:.0f}%" for word, p in levels.items())
        self.levels.setText(f"{model}, not trained on ratings" + (f" — {words}" if words else ""))
        self.setToolTip(f"{data.get('method', 'zero-shot rating')}: the general model's own "
                        "opinion, not the trained score model")
        self.show()

    def text(self) -> str:
        return f"{self.title.text()}\n{self.levels.text()}"
