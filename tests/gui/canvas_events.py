"""Input and pixel helpers for the canvas and compare-view tests (real Qt events, no sleeps)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from irstudio.gui.qimage import from_qimage


def _mouse(widget: QWidget, kind: QMouseEvent.Type, pos: QPointF, button, buttons) -> None:
    event = QMouseEvent(
        kind, QPointF(pos), widget.mapToGlobal(QPointF(pos)), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def drag(widget: QWidget, start: QPointF, end: QPointF, steps: int = 4) -> None:
    """Press the left button at ``start``, move to ``end`` in ``steps`` moves, release there."""
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QMouseEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        point = start + (end - start) * (i / steps)
        _mouse(widget, QMouseEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
    _mouse(widget, QMouseEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)


def click(widget: QWidget, pos: QPointF) -> None:
    drag(widget, pos, pos, steps=1)


def wheel(widget: QWidget, pos: QPointF, notches: int) -> None:
    """Turn the wheel by ``notches`` (positive: away from the user, zoom in) at ``pos``."""
    event = QWheelEvent(
        QPointF(pos),
        widget.mapToGlobal(QPointF(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def rendered(widget: QWidget) -> np.ndarray:
    """What ``widget`` paints now, as uint8 RGB (HxWx3, logical pixels)."""
    return from_qimage(widget.grab().toImage())
