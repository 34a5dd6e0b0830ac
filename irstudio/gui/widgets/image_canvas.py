"""A zoomable, pannable image view (``ImageCanvas``), its split-wipe variant (``SplitCanvas``) and the
display-ready image they share (``CanvasImage``). GUI only; widgets are used on the main thread.

Coordinates
    The image lies in the scene at (0, 0)-(W*sx, H*sy), where (sx, sy) is the optional display
    ``scale`` given to ``set_image`` (1 by default, so scene units are image pixels). ``view_changed``,
    ``set_view``, ``centre`` and ``visible_rect`` speak scene units ("image px" when the scale is 1).
    ``zoom`` is device pixels per scene unit, so 1.0 (100 %) is one screen pixel per image pixel also
    on HiDPI screens. Extra items (markers, grids) can be added to ``canvas.scene()`` in scene units.

``CanvasImage(image: np.ndarray | QImage)``
    Converts once (``irstudio.gui.qimage.to_qimage``) and keeps a pyramid of halved copies, built
    lazily, so zoomed-out views are area-averaged (no aliasing) and cheap. Build one per image and pass
    it to any number of canvases: switching between prepared images costs no conversion. ``width``,
    ``height``, ``qimage``.

``ImageCanvas(QGraphicsView)``
    ``set_image(image: np.ndarray | CanvasImage | None, *, scale: float | tuple[float, float] = 1.0)``:
    shows ``image`` (numpy arrays are converted once here). A new scene size (or the first image)
    zooms to fit; an image of the same scene size keeps the current zoom and centre.
    ``zoom_fit()`` (and keeps fitting on resize until the user zooms or pans), ``zoom_actual()``
    (100 %, same centre), ``zoom_pixel_peep()`` (800 %, same centre), ``set_zoom(factor, anchor:
    QPointF | None = None)`` (``anchor``: a viewport point that stays over the same image point),
    ``zoom_in()`` / ``zoom_out()`` (next step on the
    ladder 1/128 ... 1/2, 3/4, 1, 3/2, 2, 3, 4, 6, 8 ... 64), ``zoom() -> float``, ``centre() -> QPointF``,
    ``is_fit() -> bool``, ``set_view(zoom, centre, *, fit=False)`` (applies a view without emitting:
    for syncing canvases; ``fit=True`` makes this canvas keep fitting on resize), ``visible_rect() ->
    QRectF`` (the visible part of the image, scene units; empty when none), ``image_size() -> QSizeF``
    (scene units), ``has_image()``, ``set_caption(text)`` / ``caption()`` (a label drawn top-left),
    ``map_to_scene(viewport_point: QPointF) -> QPointF``.
    Mouse: the wheel zooms around the cursor (one ladder step per notch); dragging with the left or
    middle button pans; a left click without a drag emits the clicked pixel. Arrow keys pan; other
    keys are ignored so they reach the parent (the compare view's 1-6 and Space).
    Rendering: nearest neighbour when a pixel covers at least one device pixel (zoom >= 100 %, pixels
    stay crisp squares), smooth (from the pyramid) below. Neutral grey background.
    Signals: ``view_changed(float zoom, QPointF centre)`` after every user or API change of the view
    (never from ``set_view``); ``pixel_clicked(int x, int y)`` in pixels of the shown image (scene /
    scale, only inside the image); ``scene_clicked(QPointF)`` (extension) the same click in scene
    units, also outside the image.

``SplitCanvas(ImageCanvas)`` (extension)
    A wipe: the image of ``set_image`` on the left of a vertical divider, the one of
    ``set_overlay(image, *, scale=...)`` on the right. The divider sits at a fraction of the viewport
    width (``split_position()``, ``set_split_position(fraction)``; 0.5 at start), so it stays where it
    is on screen when zooming or panning; drag it (or anywhere within 8 px of it) with the mouse.
    ``set_captions(left, right)`` labels both sides. Signal ``split_changed(float fraction)``.
    ``pixel_clicked`` reports pixels of the left image; ``scene_clicked`` is the same for both sides.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from irstudio.gui.qimage import to_qimage

MIN_ZOOM = 1.0 / 128.0
MAX_ZOOM = 64.0
ZOOM_STEPS: tuple[float, ...] = tuple(
    sorted({2.0**k for k in range(-7, 7)} | {1.5 * 2.0**k for k in range(-7, 6)})
)
PIXEL_PEEP_ZOOM = 8.0
DRAG_THRESHOLD_PX = 3.0  # a press that moves less than this is a click, not a pan
ARROW_PAN_PX = 64.0
BACKGROUND = QColor(58, 58, 58)
_SMALLEST_LEVEL_SIDE = 16  # the pyramid stops before a level gets smaller than this


class CanvasImage:
    """An image converted once for display, with a lazily built pyramid of halved copies."""

    def __init__(self, image: np.ndarray | QImage) -> None:
        qimage = QImage(image) if isinstance(image, QImage) else to_qimage(image)
        if qimage.isNull() or qimage.width() == 0 or qimage.height() == 0:
            raise ValueError("cannot show an empty image")
        self._levels: list[QImage] = [qimage]
        self._pixmaps: dict[int, QPixmap] = {}

    @property
    def width(self) -> int:
        return self._levels[0].width()

    @property
    def height(self) -> int:
        return self._levels[0].height()

    @property
    def qimage(self) -> QImage:
        """The full-resolution QImage (8 bits per channel)."""
        return self._levels[0]

    def level_for(self, device_scale: float) -> int:
        """The pyramid level to draw when one image pixel covers ``device_scale`` device pixels.

        Level k is the image halved k times; the chosen level is drawn at a scale in (0.5, 1], or at
        ``device_scale`` itself for level 0 (then >= 1, or the pyramid is exhausted).
        """
        level = 0
        while device_scale * 2.0 ** (level + 1) <= 1.0 and self._can_halve(level):
            level += 1
        return level

    def pixmap(self, level: int) -> QPixmap:
        """The QPixmap of pyramid ``level`` (made on first use)."""
        if level not in self._pixmaps:
            self._pixmaps[level] = QPixmap.fromImage(self._level_image(level))
        return self._pixmaps[level]

    def level_scale(self, level: int) -> tuple[float, float]:
        """Image pixels per pixel of pyramid ``level``, along x and y."""
        image = self._level_image(level)
        return self.width / image.width(), self.height / image.height()

    def _can_halve(self, level: int) -> bool:
        image = self._level_image(level)
        return min(image.width(), image.height()) // 2 >= _SMALLEST_LEVEL_SIDE

    def _level_image(self, level: int) -> QImage:
        while len(self._levels) <= level:
            last = self._levels[-1]
            half_w, half_h = (last.width() + 1) // 2, (last.height() + 1) // 2
            self._levels.append(
                last.scaled(
                    half_w,
                    half_h,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        return self._levels[level]


class _Layer:
    """One pixmap item showing a CanvasImage at a display scale, re-levelled for each zoom."""

    def __init__(self, item: QGraphicsPixmapItem) -> None:
        self.item = item
        self.picture: CanvasImage | None = None
        self.scale: tuple[float, float] = (1.0, 1.0)
        self._level = -1

    def set_picture(self, picture: CanvasImage | None, scale: tuple[float, float]) -> None:
        if picture is not self.picture:
            self._level = -1
        self.picture, self.scale = picture, scale
        if picture is None:
            self.item.setPixmap(QPixmap())
        self.item.setVisible(picture is not None)

    def scene_size(self) -> QSizeF:
        if self.picture is None:
            return QSizeF()
        return QSizeF(self.picture.width * self.scale[0], self.picture.height * self.scale[1])

    def update_for(self, zoom: float) -> None:
        """Pick the pyramid level and the sampling for ``zoom`` device px per scene unit."""
        if self.picture is None:
            return
        device_x, device_y = zoom * self.scale[0], zoom * self.scale[1]
        level = self.picture.level_for(min(device_x, device_y))
        if level != self._level:
            self.item.setPixmap(self.picture.pixmap(level))
            self._level = level
        level_x, level_y = self.picture.level_scale(level)
        self.item.setTransform(QTransform.fromScale(self.scale[0] * level_x, self.scale[1] * level_y))
        crisp = min(device_x * level_x, device_y * level_y) >= 1.0 - 1e-9
        self.item.setTransformationMode(
            Qt.TransformationMode.FastTransformation if crisp else Qt.TransformationMode.SmoothTransformation
        )

    def transformation_mode(self) -> Qt.TransformationMode:
        return self.item.transformationMode()


def _scale_pair(scale: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(scale, tuple):
        sx, sy = float(scale[0]), float(scale[1])
    else:
        sx = sy = float(scale)
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        raise ValueError(f"the display scale must be positive, got {scale!r}")
    return sx, sy


def _as_picture(image: np.ndarray | CanvasImage | None) -> CanvasImage | None:
    if image is None or isinstance(image, CanvasImage):
        return image
    return CanvasImage(image)


def paint_label(painter: QPainter, text: str, anchor: QPointF, *, align_right: bool = False) -> None:
    """Draw ``text`` in a dark rounded box, its top-left (or top-right) corner at ``anchor`` (viewport px)."""
    if not text:
        return
    metrics = QFontMetrics(painter.font())
    box = QRectF(metrics.boundingRect(text)).adjusted(-6, -3, 6, 3)
    box.moveTop(anchor.y())
    if align_right:
        box.moveRight(anchor.x())
    else:
        box.moveLeft(anchor.x())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(box, 4, 4)
    painter.setPen(QColor(240, 240, 240))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class ImageCanvas(QGraphicsView):
    """Zoom/pan view of one image; see the module docstring for the contract."""

    view_changed = Signal(float, QPointF)
    pixel_clicked = Signal(int, int)
    scene_clicked = Signal(QPointF)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        base_item = QGraphicsPixmapItem()
        base_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(base_item)
        self._base = _Layer(base_item)
        self._zoom = 1.0
        self._centre = QPointF()
        self._fit = True
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
        self._base.set_picture(_as_picture(image), _scale_pair(scale))
        self._after_image_change(old_size)

    def _after_image_change(self, old_size: QSizeF) -> None:
        new_size = self.image_size()
        if new_size.isEmpty():
            self.viewport().update()
            return
        same_size = (
            not old_size.isEmpty()
            and _close(old_size.width(), new_size.width())
            and _close(old_size.height(), new_size.height())
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

    def zoom(self) -> float:
        return self._zoom

    def centre(self) -> QPointF:
        return QPointF(self._centre)

    def is_fit(self) -> bool:
        return self._fit

    def zoom_fit(self) -> None:
        """Fit the whole image in the viewport, centred; keeps fitting on resize until zoomed or panned."""
        size = self.image_size()
        if size.isEmpty():
            self._fit = True
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
        self.set_zoom(_next_step(self._zoom, +1))

    def zoom_out(self) -> None:
        self.set_zoom(_next_step(self._zoom, -1))

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``factor``; the image point under viewport point ``anchor`` (default: the centre) stays."""
        factor = _clamp(float(factor), MIN_ZOOM, MAX_ZOOM)
        if anchor is None:
            self._set_view(factor, self._centre, fit=False, emit=True)
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
        scale = self._zoom / self.devicePixelRatioF()
        viewport = self.viewport().size()
        half_w, half_h = viewport.width() / (2 * scale), viewport.height() / (2 * scale)
        seen = QRectF(self._centre.x() - half_w, self._centre.y() - half_h, 2 * half_w, 2 * half_h)
        return seen.intersected(QRectF(QPointF(0, 0), size))

    def map_to_scene(self, viewport_point: QPointF) -> QPointF:
        """The scene point drawn at ``viewport_point`` (fractional viewport pixels)."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(viewport_point))

    def _set_view(self, zoom: float, centre: QPointF, *, fit: bool, emit: bool) -> None:
        self._zoom = _clamp(zoom, MIN_ZOOM, MAX_ZOOM)
        size = self.image_size()
        if not size.isEmpty():
            centre = QPointF(_clamp(centre.x(), 0.0, size.width()), _clamp(centre.y(), 0.0, size.height()))
        self._centre = QPointF(centre)
        self._fit = fit
        self._apply()
        if emit:
            self.view_changed.emit(self._zoom, QPointF(self._centre))

    def _apply(self) -> None:
        """Push the zoom and centre to the QGraphicsView transform and scroll position."""
        size = self.image_size()
        if size.isEmpty():
            return
        scale = self._zoom / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(scale, scale))
        viewport = self.viewport().size()
        pad_x, pad_y = viewport.width() / scale + 1.0, viewport.height() / scale + 1.0
        self.setSceneRect(QRectF(-pad_x, -pad_y, size.width() + 2 * pad_x, size.height() + 2 * pad_y))
        self.centerOn(self._centre)
        for layer in self._layers():
            layer.update_for(self._zoom)
        self._after_apply()
        self.viewport().update()

    def _layers(self) -> list[_Layer]:
        return [self._base]

    def _after_apply(self) -> None:
        """Hook for subclasses: the view transform has just changed."""

    def _viewport_centre(self) -> QPointF:
        viewport = self.viewport().size()
        return QPointF(viewport.width() / 2.0, viewport.height() / 2.0)

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self.has_image():
            return
        if self._fit:
            self.zoom_fit()
        else:
            self._set_view(self._zoom, self._centre, fit=False, emit=True)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.has_image():
            event.ignore()
            return
        self._wheel_remainder += event.angleDelta().y()
        steps = int(self._wheel_remainder / 120)
        self._wheel_remainder -= steps * 120
        zoom = self._zoom
        for _ in range(abs(steps)):
            zoom = _next_step(zoom, 1 if steps > 0 else -1)
        if steps:
            self.set_zoom(zoom, anchor=event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton) and self.has_image():
            self._press = event.position()
            self._press_centre = QPointF(self._centre)
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
            scale = self._zoom / self.devicePixelRatioF()
            self._set_view(self._zoom, self._press_centre - delta / scale, fit=False, emit=True)
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
        steps = {
            Qt.Key.Key_Left: QPointF(-1, 0),
            Qt.Key.Key_Right: QPointF(1, 0),
            Qt.Key.Key_Up: QPointF(0, -1),
            Qt.Key.Key_Down: QPointF(0, 1),
        }
        direction = steps.get(Qt.Key(event.key()))
        if direction is None or not self.has_image():
            event.ignore()  # let the parent see it (compare keys, shortcuts)
            return
        scale = self._zoom / self.devicePixelRatioF()
        self._set_view(self._zoom, self._centre + direction * (ARROW_PAN_PX / scale), fit=False, emit=True)
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


class SplitCanvas(ImageCanvas):
    """A wipe between two images; see the module docstring."""

    split_changed = Signal(float)

    GRAB_PX = 8.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clip = QGraphicsRectItem()
        self._clip.setPen(QPen(Qt.PenStyle.NoPen))
        self._clip.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self._clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self._clip.setZValue(1)
        self.scene().addItem(self._clip)
        overlay_item = QGraphicsPixmapItem(self._clip)
        overlay_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._overlay = _Layer(overlay_item)
        self._fraction = 0.5
        self._right_caption = ""
        self._dragging_divider = False

    def set_overlay(
        self, image: np.ndarray | CanvasImage | None, *, scale: float | tuple[float, float] = 1.0
    ) -> None:
        """The image shown right of the divider (None: the left image fills the view)."""
        self._overlay.set_picture(_as_picture(image), _scale_pair(scale))
        self._apply()
        self.viewport().update()

    def has_overlay(self) -> bool:
        return self._overlay.picture is not None

    def overlay_transformation_mode(self) -> Qt.TransformationMode:
        return self._overlay.transformation_mode()

    def split_position(self) -> float:
        """The divider's position as a fraction of the viewport width (0 left edge, 1 right edge)."""
        return self._fraction

    def set_split_position(self, fraction: float) -> None:
        fraction = _clamp(float(fraction), 0.0, 1.0)
        if fraction == self._fraction:
            return
        self._fraction = fraction
        self._after_apply()
        self.viewport().update()
        self.split_changed.emit(fraction)

    def divider_x(self) -> float:
        """The divider's x in viewport pixels."""
        return self._fraction * self.viewport().width()

    def set_captions(self, left: str, right: str) -> None:
        self._right_caption = right
        self.set_caption(left)

    def captions(self) -> tuple[str, str]:
        return self.caption(), self._right_caption

    def _layers(self) -> list[_Layer]:
        return [self._base, self._overlay]

    def _after_apply(self) -> None:
        divider = self.map_to_scene(QPointF(self.divider_x(), 0.0)).x()
        bounds = self.sceneRect()
        self._clip.setRect(QRectF(divider, bounds.top(), max(0.0, bounds.right() - divider), bounds.height()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._after_apply()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        near = abs(event.position().x() - self.divider_x()) <= self.GRAB_PX
        if event.button() == Qt.MouseButton.LeftButton and near and self.has_overlay():
            self._dragging_divider = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            self.set_split_position(event.position().x() / max(1, self.viewport().width()))
            event.accept()
            return
        if self._press is None and self.has_overlay():
            near = abs(event.position().x() - self.divider_x()) <= self.GRAB_PX
            if near:
                self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
            else:
                self.viewport().unsetCursor()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            self._dragging_divider = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _paint_overlay(self, painter: QPainter) -> None:
        if self.has_overlay():
            self._paint_divider(painter)
        super()._paint_overlay(painter)
        if self.has_overlay():
            paint_label(
                painter, self._right_caption, QPointF(self.viewport().width() - 8, 8), align_right=True
            )

    def _paint_divider(self, painter: QPainter) -> None:
        x = self.divider_x()
        height = self.viewport().height()
        painter.setPen(QPen(QColor(0, 0, 0, 140), 4))
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        centre = QPointF(x, height / 2.0)
        painter.setBrush(QColor(255, 255, 255))
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1.5))
        painter.drawEllipse(centre, 13, 13)
        painter.setBrush(QColor(40, 40, 40))
        painter.setPen(Qt.PenStyle.NoPen)
        for direction in (-1, 1):
            arrow = QPainterPath()
            tip = centre + QPointF(direction * 9, 0)
            arrow.moveTo(tip)
            arrow.lineTo(centre + QPointF(direction * 3, -5))
            arrow.lineTo(centre + QPointF(direction * 3, 5))
            arrow.closeSubpath()
            painter.drawPath(arrow)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _next_step(zoom: float, direction: int) -> float:
    """The next zoom on the ladder above (direction +1) or below (-1) ``zoom``; clamps at the ends."""
    if direction > 0:
        return next((step for step in ZOOM_STEPS if step > zoom * 1.001), ZOOM_STEPS[-1])
    return next((step for step in reversed(ZOOM_STEPS) if step < zoom / 1.001), ZOOM_STEPS[0])
