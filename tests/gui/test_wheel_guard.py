"""The mouse wheel over an unfocused combo or spin box scrolls the panel and changes nothing."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from irstudio.gui.wheel_guard import install_wheel_guard
from tests.gui.app_helpers import make_window


def wheel(widget: QWidget, steps: int = -1) -> None:
    """One wheel notch (down for negative ``steps``) over the middle of ``widget``."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def panel(qtbot):
    holder = QWidget()
    qtbot.addWidget(holder)
    install_wheel_guard(holder)
    area = QScrollArea(holder)
    inner = QWidget()
    layout = QVBoxLayout(inner)
    combo, spin = QComboBox(), QSpinBox()
    combo.addItems(["Auto", "fp32", "bf16"])
    spin.setRange(0, 100)
    spin.setValue(50)
    layout.addWidget(combo)
    layout.addWidget(spin)
    layout.addSpacing(2000)  # tall: the area scrolls
    area.setWidget(inner)
    area.resize(200, 200)
    holder.resize(220, 220)
    holder.show()
    qtbot.waitExposed(holder)
    return holder, area, combo, spin


def test_wheel_over_unfocused_fields_scrolls_the_panel_and_changes_nothing(qtbot) -> None:
    _holder, area, combo, spin = panel(qtbot)
    assert area.verticalScrollBar().value() == 0
    wheel(combo)
    wheel(spin)
    assert combo.currentText() == "Auto" and spin.value() == 50
    assert area.verticalScrollBar().value() > 0


def test_wheel_over_a_focused_field_still_changes_it(qtbot) -> None:
    _holder, _, _, spin = panel(qtbot)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    wheel(spin, steps=1)
    assert spin.value() == 51


def test_the_app_window_guards_its_model_panel(qtbot, tmp_path) -> None:
    window = make_window(qtbot, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model("compacter-x1")
    precision = window.model_panel.precision_combo
    assert precision.count() > 1 and precision.isEnabled()
    before = precision.currentIndex()
    window.compare.setFocus()
    wheel(precision, steps=-1 if before == 0 else 1)  # towards a value that exists
    assert precision.currentIndex() == before
