"""``SplitCanvas``: a wipe between two images on one ``ImageCanvas`` (contract in the package docstring).

The right image is a second ``CanvasLayer`` whose item is a child of a clipping rectangle; the
rectangle's left edge follows the divider, kept at a fraction of the viewport width by ``_after_apply``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QMouseEvent, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem, QWidget

from irstudio.gui.widgets.image_canvas.canvas import ImageCanvas
from irstudio.gui.widgets.image_canvas.painting import paint_divider, paint_label
from irstudio.gui.widgets.image_canvas.picture import CanvasImage, CanvasLayer, as_picture, display_scale
from irstudio.gui.widgets.image_canvas.view_state import clamp

__all__ = ["SplitCanvas"]


class SplitCanvas(ImageCanvas):
    """A wipe between two images; see the package docstring."""

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
        self._overlay = CanvasLayer(overlay_item)
        self._fraction = 0.5
        self._right_caption = ""
        self._dragging_divider = False

    def set_overlay(
        self, image: np.ndarray | CanvasImage | None, *, scale: float | tuple[float, float] = 1.0
    ) -> None:
        """The image shown right of the divider (None: the left image fills the view)."""
        self._overlay.set_picture(as_picture(image), display_scale(scale))
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
        fraction = clamp(float(fraction), 0.0, 1.0)
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

    def _layers(self) -> list[CanvasLayer]:
        return [self._base, self._overlay]

    def _after_apply(self) -> None:
        divider = self.map_to_scene(QPointF(self.divider_x(), 0.0)).x()
        bounds = self.sceneRect()
        self._clip.setRect(QRectF(divider, bounds.top(), max(0.0, bounds.right() - divider), bounds.height()))

    def _near_divider(self, event: QMouseEvent) -> bool:
        return abs(event.position().x() - self.divider_x()) <= self.GRAB_PX

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._after_apply()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event) and self.has_overlay():
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
            if self._near_divider(event):
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

    # ------------------------------------------------------------------ painting

    def _paint_overlay(self, painter: QPainter) -> None:
        if self.has_overlay():
            paint_divider(painter, self.divider_x(), self.viewport().height())
        super()._paint_overlay(painter)
        if self.has_overlay():
            right_edge = QPointF(self.viewport().width() - 8, 8)
            paint_label(painter, self._right_caption, right_edge, align_right=True)
