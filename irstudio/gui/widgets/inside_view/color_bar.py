"""``ColorBar``: the vertical legend beside the Inside view's map (colour map, three values, units)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QWidget

from irstudio.gui.qimage import colormap_lut
from irstudio.inference.maps import MapImage

__all__ = ["ColorBar"]


class ColorBar(QWidget):
    """A vertical legend: the colour map from ``vmin`` (bottom) to ``vmax`` (top), three values, units."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._map: MapImage | None = None
        self.setFixedWidth(96)

    def set_map(self, map_image: MapImage | None) -> None:
        self._map = map_image
        self.setToolTip(
            "" if map_image is None else f"{map_image.units}: {map_image.vmin:.4g} .. {map_image.vmax:.4g}"
        )
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """The three tick texts (bottom, middle, top)."""
        if self._map is None:
            return "", "", ""
        low, high = self._map.vmin, self._map.vmax
        return f"{low:.3g}", f"{(low + high) / 2:.3g}", f"{high:.3g}"

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._map is None:
            return
        painter = QPainter(self)
        lut = np.ascontiguousarray(colormap_lut(self._map.cmap)[::-1][:, None, :])
        ramp = QImage(lut.data, 1, 256, 3, QImage.Format.Format_RGB888).copy()
        top, bottom = 12, self.height() - 30
        painter.drawImage(QRectF(6, top, 18, max(1, bottom - top)), ramp)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        for fraction, text in zip((0.0, 0.5, 1.0), self.labels(), strict=True):
            y = bottom - fraction * (bottom - top)
            painter.drawLine(24, round(y), 29, round(y))
            painter.drawText(QRectF(32, y - 8, 64, 16), Qt.AlignmentFlag.AlignVCenter, text)
        painter.drawText(
            QRectF(2, bottom + 4, 92, 26),
            Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft,
            self._map.units,
        )
        painter.end()
