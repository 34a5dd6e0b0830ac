"""What the main window lends its controllers instead of itself: the callback types they receive.

Controllers take the runner, the state, the settings, the widgets they drive and these callbacks
explicitly in their constructors; ``MainWindow`` builds them and passes what each needs, so no
controller imports ``main_window`` (nor knows the window's other parts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QWidget

__all__ = ["AddDock", "Status", "Warn"]

Warn = Callable[[str, str], None]
"""``warn(title, message)``: show an error to the user (a message box); the window stays usable."""

Status = Callable[[str], None]
"""``status(text)``: a short note in the status bar."""


class AddDock(Protocol):
    """``MainWindow.add_scrolled_dock``: dock ``widget`` in a scroll area (``name`` keeps its place in
    the saved layout; listed in the View menu); ``sideways``: it may scroll horizontally too."""

    def __call__(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, *, sideways: bool = False
    ) -> QDockWidget: ...
