"""Drawing helpers for the canvases' overlays, in viewport pixels: caption labels and the wipe divider."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen

__all__ = ["DIVIDER_KNOB_RADIUS", "paint_divider", "paint_label"]

DIVIDER_KNOB_RADIUS = 13.0


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


def paint_divider(painter: QPainter, x: float, height: float) -> None:
    """A vertical wipe divider at viewport ``x`` (white line, dark halo) with a round two-arrow knob."""
    painter.setPen(QPen(QColor(0, 0, 0, 140), 4))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    painter.setPen(QPen(QColor(255, 255, 255), 2))
    painter.drawLine(QPointF(x, 0), QPointF(x, height))
    centre = QPointF(x, height / 2.0)
    painter.setBrush(QColor(255, 255, 255))
    painter.setPen(QPen(QColor(0, 0, 0, 160), 1.5))
    painter.drawEllipse(centre, DIVIDER_KNOB_RADIUS, DIVIDER_KNOB_RADIUS)
    painter.setBrush(QColor(40, 40, 40))
    painter.setPen(Qt.PenStyle.NoPen)
    for direction in (-1, 1):
        arrow = QPainterPath()
        arrow.moveTo(centre + QPointF(direction * 9, 0))
        arrow.lineTo(centre + QPointF(direction * 3, -5))
        arrow.lineTo(centre + QPointF(direction * 3, 5))
        arrow.closeSubpath()
        painter.drawPath(arrow)
