"""The "Training" dock: fine-tune a model from the app, and list what it exports at once.

``TrainingDock(window, devices)`` builds the ``TrainingPanel`` (the view) and its
``TrainingPanelController`` on the window's runner, settings store, library and manifest, with
training on its own lane, ``TRAINING_LANE``: a run takes hours, so it must neither
block interactive restores nor be cancelled by them (Esc and opening a photo cancel the "device"
lane only; Stop and closing the window end a run with a checkpoint). The panel is wider than the
side docks, so at first start the dock floats, hidden; Run → "Fine-tune a model…" (or View →
Training) shows it, centred on the window when there is no saved layout yet; the saved layout
keeps wherever the user puts it. A model exported to the library (``model_exported``) is listed in
the model panel at once (``ModelPanel.refresh_library``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction

from irstudio.core.device import DeviceInfo
from irstudio.gui.training_panel_controller import TrainingPanelController
from irstudio.gui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from irstudio.gui.main_window import MainWindow

__all__ = ["FLOATING_SIZE", "TRAINING_LANE", "TrainingDock"]

TRAINING_LANE = "training"
FLOATING_SIZE = (980, 640)


class TrainingDock(QObject):
    """Owns the training panel (``panel``) and its ``controller``, their dock and the Run menu
    entry that shows it."""

    def __init__(self, window: MainWindow, devices: list[DeviceInfo]) -> None:
        super().__init__(window)
        self._window = window
        self.panel = TrainingPanel(devices=devices)
        self.controller = TrainingPanelController(
            self.panel,
            window.runner,
            settings=window.settings.store,
            library_dir=window.library_dir,
            manifest_path=window.manifest,
            train_lane=TRAINING_LANE,
        )
        self.dock = window.add_scrolled_dock(
            "Training", "TrainingDock", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea, sideways=True
        )
        self.dock.setFloating(True)
        self.dock.resize(*FLOATING_SIZE)
        self.dock.hide()
        self.action = QAction("&Fine-tune a model…", window)
        self.action.setStatusTip(
            "Train a model on your own photos; exported models appear under Your library"
        )
        self.action.triggered.connect(lambda _checked=False: self.show())
        window.commands.run_menu.addSeparator()
        window.commands.run_menu.addAction(self.action)
        self.controller.model_exported.connect(self._on_exported)
        self._placed = False
        self.dock.visibilityChanged.connect(self._centre_once)

    def show(self) -> None:
        """Show the dock (where the user left it) in front."""
        self.dock.show()
        self.dock.raise_()

    def _centre_once(self, visible: bool) -> None:
        """The first time the floating dock shows, with no saved layout (a first start), centre it
        on the window; a saved layout or a move by the user is kept."""
        if not visible or self._placed or not self.dock.isFloating():
            return
        if self._window.settings.window_state is not None:
            self._placed = True
            return
        self._placed = True
        frame = self._window.frameGeometry()
        width, height = min(FLOATING_SIZE[0], frame.width()), min(FLOATING_SIZE[1], frame.height())
        self.dock.resize(width, height)
        self.dock.move(frame.center().x() - width // 2, frame.center().y() - height // 2)

    def _on_exported(self, path: str) -> None:
        self._window.model_panel.refresh_library()
        self._window.show_status(f"Exported {path}: listed under “Your library” in the model panel")
