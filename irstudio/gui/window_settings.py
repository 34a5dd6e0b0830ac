"""The main window's selection kept between sessions: task, model, device and compare mode.

``restore_selection`` puts the saved task, model and device into the model panel and copies them
into ``AppState`` without signals (nothing is shown yet); it returns the compare mode to show (a
known ``CompareMode`` value, SINGLE when the saved one is unknown). ``save_selection`` stores the
panel's current task, model and device. Theme, geometry and dock layout are the window's own.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker

from irstudio.gui.settings import Settings
from irstudio.gui.state import AppState
from irstudio.gui.widgets.compare_view import CompareMode
from irstudio.gui.widgets.model_panel import ModelPanel

__all__ = ["restore_selection", "save_selection"]


def restore_selection(settings: Settings, panel: ModelPanel, state: AppState) -> str:
    """Select the saved task, model and device; returns the compare mode to show."""
    panel.set_task(settings.task)
    if settings.model:
        panel.select_model(settings.model)
    panel.set_device(settings.device)
    with QSignalBlocker(state):
        state.set_task(panel.task().key)
        choice = panel.current_choice()
        state.set_model(choice.key if choice is not None else "")
        state.set_device(panel.run_options().device)
    modes = {m.value for m in CompareMode}
    return settings.compare_mode if settings.compare_mode in modes else CompareMode.SINGLE.value


def save_selection(settings: Settings, panel: ModelPanel) -> None:
    """Store the panel's task, model ("" when none) and device."""
    settings.task = panel.task().key
    choice = panel.current_choice()
    settings.model = choice.key if choice is not None else ""
    settings.device = panel.run_options().device
