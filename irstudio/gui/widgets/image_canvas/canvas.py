"""``ImageCanvas``: a zoomable, pannable view of one image (the contract is in the package docstring).

Internals: the image is a ``CanvasLayer`` in a ``QGraphicsScene``; the view (``ViewState``: zoom,
centre, fit) is pushed to the QGraphicsView transform by ``_apply``, which subclasses extend through
``_layers`` (more images) and ``_after_apply`` (geometry that follows the view). Main thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from irstudio.gui.widgets.image_canvas.painting import paint_label
from irstudio.gui.widgets.image_canvas.picture import CanvasImage, CanvasLayer, as_picture, display_scale
from irstudio.gui.widgets.image_canvas.view_state import (
    MAX_ZOOM,
    MIN_ZOOM,
    PIXEL_PEEP_ZOOM,
    ViewState,
    ViewStateReadout,
    clamp,
    nearly_equal,
    next_zoom_step,
)

__all__ = ["ARROW_PAN_PX", "BACKGROUND", "DRAG_THRESHOLD_PX", "ImageCanvas"]

DRAG_THRESHOLD_PX = 3.0  # a press that moves less than this is a click, not a pan
ARROW_PAN_PX = 64.0
BACKGROUND = QColor(58, 58, 58)
_ARROW_DIRECTIONS = {
    Qt.Key.Key_Left: QPointF(-1, 0),
    Qt.Key.Key_Right: QPointF(1, 0),
    Qt.Key.Key_Up: QPointF(0, -1),
    Qt.Key.Key_Down: QPointF(0, 1),
}


class ImageCanvas(ViewStateReadout, QGraphicsView):
    """Zoom/pan view of one image; see the package docstring for the contract."""

    view_changed = Signal(float, QPointF)
    pixel_clicked = Signal(int, int)
    scene_clicked = Signal(QPointF)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        base_item = QGraphicsPixmapItem()
        base_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(base_item)
        self._base = CanvasLayer(base_item)
        self._view = ViewState()
        self._caption = ""
        self._press: QPointF | None = None
        self._press_centre = QPointF()
        self._panning = False
        self._wheel_remainder = 0
        self._configure_view()

    def _configure_view(self) -> None:
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setInteractive(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(BACKGROUND))
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.viewport().setMouseTracking(True)
        self.setMinimumSize(64, 48)

    # ------------------------------------------------------------------ image

    def set_image(
        self, image: np.ndarray | CanvasImage | None, *, scale: float | tuple[float, float] = 1.0
    ) -> None:
        """Show ``image`` (None clears); a new scene size zooms to fit, the same size keeps the view."""
        old_size = self.image_size()
        self._base.set_picture(as_picture(image), display_scale(scale))
        self._after_image_change(old_size)

    def _after_image_change(self, old_size: QSizeF) -> None:
        new_size = self.image_size()
        if new_size.isEmpty():
            self.viewport().update()
            return
        same_size = (
            not old_size.isEmpty()
            and nearly_equal(old_size.width(), new_size.width())
            and nearly_equal(old_size.height(), new_size.height())
        )
        if same_size:
            self._apply()
        else:
            self.zoom_fit()

    def has_image(self) -> bool:
        return self._base.picture is not None

    def image_size(self) -> QSizeF:
        """The image's size in scene units (empty when there is no image)."""
        return self._base.scene_size()

    def transformation_mode(self) -> Qt.TransformationMode:
        """How the image is sampled now: FastTransformation (nearest) or SmoothTransformation."""
        return self._base.transformation_mode()

    def set_caption(self, text: str) -> None:
        self._caption = text
        self.viewport().update()

    def caption(self) -> str:
        return self._caption

    # ------------------------------------------------------------------ view state

    def zoom_fit(self) -> None:
        """Fit the whole image in the viewport, centred; keeps fitting on resize until zoomed or panned."""
        size = self.image_size()
        if size.isEmpty():
            self._view.fit = True
            return
        viewport = self.viewport().size()
        ratio = self.devicePixelRatioF()
        zoom = ratio * min(viewport.width() / size.width(), viewport.height() / size.height())
        centre = QPointF(size.width() / 2.0, size.height() / 2.0)
        self._set_view(zoom, centre, fit=True, emit=True)

    def zoom_actual(self) -> None:
        """100 %: one device pixel per scene unit, same centre."""
        self.set_zoom(1.0)

    def zoom_pixel_peep(self) -> None:
        """``PIXEL_PEEP_ZOOM`` (800 %: each pixel an 8x8 block, nearest neighbour), same centre."""
        self.set_zoom(PIXEL_PEEP_ZOOM)

    def zoom_in(self) -> None:
        self.set_zoom(next_zoom_step(self._view.zoom, +1))

    def zoom_out(self) -> None:
        self.set_zoom(next_zoom_step(self._view.zoom, -1))

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``factor``; the image point under viewport point ``anchor`` (default: the centre) stays."""
        factor = clamp(float(factor), MIN_ZOOM, MAX_ZOOM)
        if anchor is None:
            self._set_view(factor, self._view.centre, fit=False, emit=True)
            return
        under_anchor = self.map_to_scene(anchor)
        offset = anchor - self._viewport_centre()
        scale = factor / self.devicePixelRatioF()
        self._set_view(factor, under_anchor - offset / scale, fit=False, emit=True)

    def set_view(self, zoom: float, centre: QPointF, *, fit: bool = False) -> None:
        """Apply ``zoom`` and ``centre`` (scene units) without emitting ``view_changed`` (for syncing)."""
        self._set_view(float(zoom), QPointF(centre), fit=fit, emit=False)

    def visible_rect(self) -> QRectF:
        """The part of the image in view, in scene units (empty when none is)."""
        size = self.image_size()
        if size.isEmpty():
            return QRectF()
        scale = self._screen_scale()
        viewport = self.viewport().size()
        half_w, half_h = viewport.width() / (2 * scale), viewport.height() / (2 * scale)
        centre = self._view.centre
        seen = QRectF(centre.x() - half_w, centre.y() - half_h, 2 * half_w, 2 * half_h)
        return seen.intersected(QRectF(QPointF(0, 0), size))

    def map_to_scene(self, viewport_point: QPointF) -> QPointF:
        """The scene point drawn at ``viewport_point`` (fractional viewport pixels)."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(viewport_point))

    def _screen_scale(self) -> float:
        """Logical (viewport) pixels per scene unit."""
        return self._view.zoom / self.devicePixelRatioF()

    def _set_view(self, zoom: float, centre: QPointF, *, fit: bool, emit: bool) -> None:
        size = self.image_size()
        if not size.isEmpty():
            centre = QPointF(clamp(centre.x(), 0.0, size.width()), clamp(centre.y(), 0.0, size.height()))
        self._view = ViewState(clamp(zoom, MIN_ZOOM, MAX_ZOOM), QPointF(centre), fit)
        self._apply()
        if emit:
            self.view_changed.emit(self._view.zoom, QPointF(self._view.centre))

    def _apply(self) -> None:
        """Push the zoom and centre to the QGraphicsView transform and scroll position."""
        size = self.image_size()
        if size.isEmpty():
            return
        scale = self._screen_scale()
        self.setTransform(QTransform.fromScale(scale, scale))
        viewport = self.viewport().size()
        pad_x, pad_y = viewport.width() / scale + 1.0, viewport.height() / scale + 1.0
        self.setSceneRect(QRectF(-pad_x, -pad_y, size.width() + 2 * pad_x, size.height() + 2 * pad_y))
        self.centerOn(self._view.centre)
        for layer in self._layers():
            layer.update_for(self._view.zoom)
        self._after_apply()
        self.viewport().update()

    def _layers(self) -> list[CanvasLayer]:
        return [self._base]

    def _after_apply(self) -> None:
        """Hook for subclasses: the view transform has just changed."""

    def _viewport_centre(self) -> QPointF:
        viewport = self.viewport().size()
        return QPointF(viewport.width() / 2.0, viewport.height() / 2.0)

    def _pan_to(self, centre: QPointF) -> None:
        self._set_view(self._view.zoom, centre, fit=False, emit=True)

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self.has_image():
            return
        if self._view.fit:
            self.zoom_fit()
        else:
            self._pan_to(self._view.centre)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.has_image():
            event.ignore()
            return
        self._wheel_remainder += event.angleDelta().y()
        steps = int(self._wheel_remainder / 120)
        self._wheel_remainder -= steps * 120
        zoom = self._view.zoom
        for _ in range(abs(steps)):
            zoom = next_zoom_step(zoom, 1 if steps > 0 else -1)
        if steps:
            self.set_zoom(zoom, anchor=event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton) and self.has_image():
            self._press = event.position()
            self._press_centre = QPointF(self._view.centre)
            self._panning = False
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            event.accept()
            return
        delta = event.position() - self._press
        if not self._panning and abs(delta.x()) + abs(delta.y()) >= DRAG_THRESHOLD_PX:
            self._panning = True
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        if self._panning:
            self._pan_to(self._press_centre - delta / self._screen_scale())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            super().mouseReleaseEvent(event)
            return
        was_click = not self._panning and event.button() == Qt.MouseButton.LeftButton
        self._press, self._panning = None, False
        self.viewport().unsetCursor()
        if was_click:
            self._emit_click(event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        event.accept()  # the two clicks were reported already; no item interaction here

    def _emit_click(self, viewport_point: QPointF) -> None:
        scene_point = self.map_to_scene(viewport_point)
        self.scene_clicked.emit(scene_point)
        size = self.image_size()
        if 0 <= scene_point.x() < size.width() and 0 <= scene_point.y() < size.height():
            sx, sy = self._base.scale
            self.pixel_clicked.emit(int(scene_point.x() // sx), int(scene_point.y() // sy))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        direction = _ARROW_DIRECTIONS.get(Qt.Key(event.key()))
        if direction is None or not self.has_image():
            event.ignore()  # let the parent see it (compare keys, shortcuts)
            return
        self._pan_to(self._view.centre + direction * (ARROW_PAN_PX / self._screen_scale()))
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        event.ignore()

    # ------------------------------------------------------------------ painting

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_overlay(painter)
        painter.restore()

    def _paint_overlay(self, painter: QPainter) -> None:
        """Draw in viewport pixels above the image (the caption); subclasses add to it."""
        paint_label(painter, self._caption, QPointF(8, 8))
