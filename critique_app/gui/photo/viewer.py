"""The photo viewer: zoom, pan, a modality overlay and a highlighted region.

Scene coordinates are the photo's full-size pixels, whatever resolution is on
screen: a small preview, then a sharper version, and analysis-size overlays are
all scaled to cover the same full-size rectangle, so zoom, pan and regions stay
put when pixels are swapped in.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

BACKGROUND = QColor(38, 38, 40)  # neutral dark grey: does not tint the photo's colours
MAX_ZOOM = 16.0  # screen pixels per photo pixel
WHEEL_STEP = 1.25  # zoom factor per wheel notch
DEFAULT_MESSAGE = "Open a photo or a folder: File ▸ Open, or drop it here"

_FORMATS = {3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage that owns a copy of a uint8 RGB (H, W, 3) or RGBA (H, W, 4) array.

    QImage built on a numpy buffer does not keep it alive; the copy detaches it,
    so the array may be freed or changed afterwards. Any strides are accepted.
    """
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in _FORMATS:
        raise ValueError(f"expected uint8 H x W x 3 or 4, got {array.dtype} {array.shape}")
    pixels = np.ascontiguousarray(array)
    height, width, channels = pixels.shape
    image = QImage(pixels.data, width, height, width * channels, _FORMATS[channels])
    return image.copy()


class _RegionHighlight(QGraphicsItem):
    """A dashed bright outline around a region, with the rest of the frame dimmed."""

    def __init__(self, frame: QRectF, region: QRectF) -> None:
        super().__init__()
        self._frame = frame
        self._region = region

    @property
    def region(self) -> QRectF:
        return self._region

    def boundingRect(self) -> QRectF:
        return self._frame

    def paint(self, painter: QPainter, option, widget=None) -> None:
        outside = QPainterPath()
        outside.addRect(self._frame)
        outside.addRect(self._region)  # odd-even fill: the frame minus the region
        painter.fillPath(outside, QColor(0, 0, 0, 110))
        # Cosmetic pens keep a constant screen width at every zoom; the dark line
        # under the dashes keeps the outline visible on bright and dark photos.
        under = QPen(QColor(0, 0, 0, 200), 4)
        under.setCosmetic(True)
        dashes = QPen(QColor(255, 214, 64), 2, Qt.PenStyle.DashLine)
        dashes.setCosmetic(True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen in (under, dashes):
            painter.setPen(pen)
            painter.drawRect(self._region)


class PhotoViewer(QGraphicsView):
    """Shows one photo; ``zoom()`` is screen (device) pixels per full-size photo pixel."""

    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._full_size: tuple[int, int] | None = None
        self._photo: QGraphicsPixmapItem | None = None
        self._overlay: QGraphicsPixmapItem | None = None
        self._overlay_opacity = 0.6
        self._highlight: _RegionHighlight | None = None
        self._message = DEFAULT_MESSAGE
        self._fitting = True
        self._last_zoom: float | None = None

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(BACKGROUND))
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        # Drag pans; scroll bars would only clutter the photo.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # we anchor
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # The placeholder and the highlight span the viewport: repaint it whole.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        # Drops bubble up to the main window, which opens what is dropped.
        self.setAcceptDrops(False)
        self.clear(DEFAULT_MESSAGE)

    # --- state -------------------------------------------------------------------
    @property
    def has_photo(self) -> bool:
        return self._photo is not None

    @property
    def full_size(self) -> tuple[int, int] | None:
        return self._full_size

    @property
    def message(self) -> str:
        """The placeholder text shown while there is no photo."""
        return self._message

    @property
    def fitting(self) -> bool:
        """True while in fit mode (the photo follows the window size)."""
        return self._fitting

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    @property
    def highlighted(self) -> tuple[float, float, float, float] | None:
        if self._highlight is None or self._full_size is None:
            return None
        rect, (width, height) = self._highlight.region, self._full_size
        return (rect.left() / width, rect.top() / height,
                rect.right() / width, rect.bottom() / height)

    # --- content -----------------------------------------------------------------
    def show_photo(self, rgb: np.ndarray, full_size: tuple[int, int]) -> None:
        """Show a new photo (``rgb`` may be a smaller preview) and fit it in the window.

        Drops the previous photo's overlay and highlight.
        """
        self._remove_items()
        width, height = (max(1, int(v)) for v in full_size)
        self._full_size = (width, height)
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        self._photo = QGraphicsPixmapItem()
        self._photo.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(self._photo)
        self._set_pixels(self._photo, rgb)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.fit()

    def upgrade_pixels(self, rgb: np.ndarray) -> None:
        """Swap in a sharper version of the same photo; zoom and pan do not move."""
        if self._photo is not None:
            self._set_pixels(self._photo, rgb)
            self._update_pixel_filtering()

    def clear(self, message: str = DEFAULT_MESSAGE) -> None:
        """No photo: show ``message`` centred in the window."""
        self._remove_items()
        self._full_size = None
        self._message = message
        self.scene().setSceneRect(QRectF(0, 0, 1, 1))  # else it remembers the old photo's
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self._fitting = True
        self._apply_scale(1.0)
        self.viewport().update()

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        """An RGBA layer at any resolution (e.g. analysis size) stretched over the photo."""
        if self._overlay is not None:
            self.scene().removeItem(self._overlay)
            self._overlay = None
        if rgba is None or self._photo is None:
            return
        self._overlay = QGraphicsPixmapItem()
        self._overlay.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay.setZValue(1)
        self._overlay.setOpacity(self._overlay_opacity)
        self.scene().addItem(self._overlay)
        self._set_pixels(self._overlay, rgba)

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_opacity = min(1.0, max(0.0, float(opacity)))
        if self._overlay is not None:
            self._overlay.setOpacity(self._overlay_opacity)

    def highlight(self, region: tuple[float, float, float, float] | None) -> None:
        """Outline ``(left, top, right, bottom)`` in fractions of the frame; None removes it."""
        if self._highlight is not None:
            self.scene().removeItem(self._highlight)
            self._highlight = None
        if region is None or self._full_size is None:
            return
        width, height = self._full_size
        left, right = sorted(min(1.0, max(0.0, v)) for v in (region[0], region[2]))
        top, bottom = sorted(min(1.0, max(0.0, v)) for v in (region[1], region[3]))
        rect = QRectF(left * width, top * height, (right - left) * width, (bottom - top) * height)
        self._highlight = _RegionHighlight(self.scene().sceneRect(), rect)
        self._highlight.setZValue(2)
        self.scene().addItem(self._highlight)
        if not self._fitting:
            self.ensureVisible(rect, 40, 40)

    # --- zoom --------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11() * self.devicePixelRatioF()

    def fit(self) -> None:
        """Show the whole photo, as large as the window allows; follows window resizes."""
        self._fitting = True
        if self._full_size is None:
            return
        self._apply_scale(self._fit_scale())
        self.centerOn(self.scene().sceneRect().center())

    def actual_size(self) -> None:
        """100%: one full-size photo pixel per screen pixel, keeping the centre."""
        self._zoom_to(1.0 / self.devicePixelRatioF(), None)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by ``factor`` around ``anchor`` (viewport pixels; default: the centre)."""
        self._zoom_to(self.transform().m11() * factor, anchor)

    def zoom_limits(self) -> tuple[float, float]:
        """The (lowest, highest) scale, in view pixels per photo pixel."""
        fit = self._fit_scale()
        return min(fit, 1.0) * 0.5, max(fit, MAX_ZOOM / self.devicePixelRatioF())

    # --- events ------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        """A mouse wheel zooms around the cursor; a touchpad's two-finger scroll pans."""
        steps = event.angleDelta().y() / 120
        touchpad = (event.phase() != Qt.ScrollPhase.NoScrollPhase
                    or not event.pixelDelta().isNull())
        zoom = not touchpad or event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if steps and zoom and self._full_size is not None:
            self.zoom_by(WHEEL_STEP**steps, event.position().toPoint())
            event.accept()
        else:
            super().wheelEvent(event)

    def viewportEvent(self, event) -> bool:
        """Touchpad pinch (a native zoom gesture, e.g. on macOS) zooms too."""
        if (event.type() == QEvent.Type.NativeGesture
                and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):
            self.zoom_by(1.0 + event.value(), event.position().toPoint())
            return True
        return super().viewportEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitting:
            self.fit()

    def drawForeground(self, painter: QPainter, rect) -> None:
        if self._photo is not None or not self._message:
            return
        painter.save()
        painter.resetTransform()  # viewport pixels: the text stays centred and unscaled
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        painter.setPen(QColor(175, 175, 178))
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         self._message)
        painter.restore()

    # --- internals ---------------------------------------------------------------
    def _set_pixels(self, item: QGraphicsPixmapItem, array: np.ndarray) -> None:
        """Put ``array`` in ``item``, scaled to cover the full-size frame exactly."""
        item.setPixmap(QPixmap.fromImage(to_qimage(array)))
        width, height = self._full_size or (array.shape[1], array.shape[0])
        item.setTransform(QTransform.fromScale(width / array.shape[1], height / array.shape[0]))

    def _remove_items(self) -> None:
        self.scene().clear()
        self._photo = self._overlay = self._highlight = None

    def _fit_scale(self) -> float:
        if self._full_size is None:
            return 1.0
        viewport = self.viewport().size()
        width, height = self._full_size
        return max(1e-4, min(viewport.width() / width, viewport.height() / height))

    def _zoom_to(self, scale: float, anchor: QPoint | None) -> None:
        if self._full_size is None:
            return
        low, high = self.zoom_limits()
        scale = min(high, max(low, scale))
        self._fitting = False
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)  # this photo point stays under the anchor
        self._apply_scale(scale)
        moved = self.mapFromScene(fixed) - anchor
        bars = self.horizontalScrollBar(), self.verticalScrollBar()
        bars[0].setValue(bars[0].value() + moved.x())
        bars[1].setValue(bars[1].value() + moved.y())

    def _apply_scale(self, scale: float) -> None:
        self.setTransform(QTransform.fromScale(scale, scale))
        self._update_pixel_filtering()
        zoom = self.zoom()
        if self._full_size is not None and zoom != self._last_zoom:
            self._last_zoom = zoom
            self.zoomChanged.emit(zoom)
        elif self._full_size is None:
            self._last_zoom = None

    def _update_pixel_filtering(self) -> None:
        """Smooth when scaled down or a little up; crisp pixels when peeping closely."""
        if self._photo is None or self._photo.pixmap().isNull():
            return
        on_screen = self.transform().m11() * self._photo.transform().m11()
        mode = (Qt.TransformationMode.FastTransformation if on_screen >= 3
                else Qt.TransformationMode.SmoothTransformation)
        self._photo.setTransformationMode(mode)


__all__ = ["DEFAULT_MESSAGE", "PhotoViewer", "to_qimage"]
