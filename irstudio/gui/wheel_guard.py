"""The mouse wheel scrolls panels; it changes a setting only in a field the user has focused.

Scrolling the left panel to reach Run used to switch Precision from Auto to bf16 on its way past.
``WheelGuard`` (an application-wide event filter, installed by the main window) stops wheel events
at combo boxes, spin boxes and sliders that do not have keyboard focus, and hands them to the
nearest scroll area around them instead, so the panel scrolls as the user meant.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


class WheelGuard(QObject):
    """Event filter: wheel over an unfocused setting widget scrolls its scroll area instead."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, GUARDED):
            return False
        if isinstance(watched, QScrollBar):
            return False  # scroll bars are for scrolling (and receive what is handed on below)
        if watched.hasFocus() or isinstance(watched.parentWidget(), QAbstractScrollArea):
            return False  # focused, or the viewport of a combo's own list: behave normally
        area = _scroll_area_around(watched)
        if area is not None:
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True


def install_wheel_guard(owner: QObject) -> WheelGuard:
    """Install a ``WheelGuard`` on the running application (removed when ``owner`` is destroyed)."""
    guard = WheelGuard(owner)
    QApplication.instance().installEventFilter(guard)
    return guard
