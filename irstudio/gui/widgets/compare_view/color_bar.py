"""``ColorBar``: the horizontal legend under the DIFFERENCE canvas (0 to the map's maximum)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from irstudio.gui.qimage import colormap_lut
from irstudio.gui.widgets.compare_view.difference import DIFFERENCE_COLORMAP

__all__ = ["ColorBar"]

_BACKGROUND = QColor(36, 36, 36)
_TEXT = QColor(230, 230, 230)
_GRADIENT_STEP = 15  # LUT rows between gradient stops


class ColorBar(QWidget):
    """A horizontal legend: the colour map from 0 to ``maximum``, with the values and a title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._maximum = 0.0
        self._title = ""
        self._lut = colormap_lut(DIFFERENCE_COLORMAP)
        self.setMinimumHeight(30)

    def set_range(self, maximum: float, title: str) -> None:
        self._maximum, self._title = maximum, title
        self.setToolTip(f"{title}: 0 (black) to {self.maximum_text()}")
        self.update()

    def maximum(self) -> float:
        return self._maximum

    def maximum_text(self) -> str:
        """The maximum as shown: on the [0, 1] scale and in 8-bit levels."""
        return f"max {self._maximum:.4f} ({self._maximum * 255:.1f}/255)"

    def title(self) -> str:
        return self._title

    def sizeHint(self) -> QSize:
        return QSize(400, 30)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BACKGROUND)
        painter.setPen(_TEXT)
        metrics = QFontMetrics(painter.font())
        right_text = self.maximum_text()
        title_w = metrics.horizontalAdvance(self._title) + 12
        right_w = metrics.horizontalAdvance(right_text) + 12
        zero_w = metrics.horizontalAdvance("0") + 12
        height = self.height()
        right_aligned = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        painter.drawText(QRectF(6, 0, title_w, height), Qt.AlignmentFlag.AlignVCenter, self._title)
        bar_left = 6 + title_w + zero_w
        bar_right = self.width() - right_w - 6
        painter.drawText(QRectF(bar_left - zero_w, 0, zero_w - 4, height), right_aligned, "0")
        if bar_right > bar_left:
            self._paint_ramp(painter, QRectF(bar_left, 7, bar_right - bar_left, height - 14))
        painter.drawText(QRectF(self.width() - right_w, 0, right_w - 6, height), right_aligned, right_text)
        painter.end()

    def _paint_ramp(self, painter: QPainter, bar: QRectF) -> None:
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for i in range(0, 256, _GRADIENT_STEP):
            gradient.setColorAt(i / 255.0, QColor(*(int(v) for v in self._lut[i])))
        gradient.setColorAt(1.0, QColor(*(int(v) for v in self._lut[255])))
        painter.fillRect(bar, gradient)
