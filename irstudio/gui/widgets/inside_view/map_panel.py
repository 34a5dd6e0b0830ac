"""``MapPanel``: the Inside view's map on an ``ImageCanvas`` beside its ``ColorBar``, with the query
and the attention window outlined; a click on a map in image coordinates reports an image pixel.

``show_map(map_image | None, result | None, *, zoom_to_window)`` draws (fitted to the canvas) the
map's display box (``map_picture.display_box``); ``box()`` is that box; ``pixel_chosen(int x, int y)``
carries the original-image pixel under a click. Main thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QHBoxLayout, QWidget

from irstudio.gui.widgets.image_canvas import ImageCanvas
from irstudio.gui.widgets.inside_view.color_bar import ColorBar
from irstudio.gui.widgets.inside_view.map_picture import (
    Box,
    composed,
    crop_pixel_at,
    display_box,
    scene_scale,
)
from irstudio.inference.maps import MapImage, MapsResult

__all__ = ["MapPanel"]

_WINDOW_COLOUR = QColor(255, 255, 255)
_QUERY_COLOUR = QColor(0, 255, 255)
_OUTLINE_Z = 10


class MapPanel(QWidget):
    """A map and its legend; see the module docstring."""

    pixel_chosen = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = ImageCanvas()
        self.color_bar = ColorBar()
        self._map: MapImage | None = None
        self._result: MapsResult | None = None
        self._box: Box = (0, 0, 0, 0)
        self._outlines: list[QGraphicsRectItem] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.color_bar)
        self.canvas.scene_clicked.connect(self._canvas_clicked)

    def box(self) -> Box:
        """The drawn part of the map, (x0, y0, x1, y1) in map-array pixels."""
        return self._box

    def clear(self) -> None:
        self.show_map(None, None, zoom_to_window=False)

    def show_map(
        self, map_image: MapImage | None, result: MapsResult | None, *, zoom_to_window: bool
    ) -> None:
        """Draw ``map_image`` of ``result`` (None: nothing), fitted, with its outlines and legend."""
        self._map, self._result = map_image, result
        self._remove_outlines()
        self.color_bar.set_map(map_image)
        if map_image is None:
            self.canvas.set_image(None)
            return
        x0, y0, x1, y1 = self._box = display_box(map_image, zoom_to_window)
        background = result.background if result is not None else None
        picture = np.ascontiguousarray(composed(map_image, background)[y0:y1, x0:x1])
        self.canvas.set_image(picture, scale=scene_scale(map_image, result))
        self.canvas.zoom_fit()
        self._add_outlines(map_image)

    def _add_outlines(self, map_image: MapImage) -> None:
        x0, y0 = self._box[:2]
        if map_image.focus is not None:
            fx0, fy0, fx1, fy1 = map_image.focus
            self._add_rect(QRectF(fx0 - x0, fy0 - y0, fx1 - fx0, fy1 - fy0), _WINDOW_COLOUR)
        if map_image.marker is not None:
            mx, my = map_image.marker
            self._add_rect(QRectF(mx - x0, my - y0, 1, 1), _QUERY_COLOUR)

    def _add_rect(self, rect: QRectF, colour: QColor) -> None:
        pen = QPen(colour, 2)
        pen.setCosmetic(True)
        item = self.canvas.scene().addRect(rect, pen)
        item.setZValue(_OUTLINE_Z)
        self._outlines.append(item)

    def _remove_outlines(self) -> None:
        for item in self._outlines:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._outlines.clear()

    def _canvas_clicked(self, point: QPointF) -> None:
        """A click on a map in image coordinates (or a feature map) chooses the pixel there."""
        if self._map is None or self._result is None:
            return
        pixel = crop_pixel_at(point, self._map, self._box, self._result)
        if pixel is not None:
            self.pixel_chosen.emit(*pixel)
