"""The "Training" dock: fine-tune a model from the app, and list what it exports at once.

``TrainingDock(parent=..., runner=..., settings=..., library_dir=..., manifest=..., devices=...,
add_dock=..., refresh_library=..., status=...)`` builds the ``TrainingPanel`` (the view) and its
``TrainingPanelController`` on that runner, settings store, library and manifest, with
training on its own lane, ``TRAINING_LANE``: a run takes hours, so it must neither
block interactive restores nor be cancelled by them (Esc and opening a photo cancel ``Lane.DEVICE``
only; Stop and closing the window end a run with a checkpoint). The panel is wider than the
side docks, so at first start the dock floats, hidden; its ``action`` (the window puts it in the Run
menu: "Fine-tune a model…") or View → Training shows it, centred on ``parent`` when there is no saved
layout yet; the saved layout keeps wherever the user puts it. A model exported to the library
(``model_exported``) is listed in the model panel at once (``refresh_library``, e.g.
``ModelPanel.refresh_library``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from irstudio.core import DeviceInfo
from irstudio.gui.settings import Settings
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.training_panel_controller import TrainingPanelController
from irstudio.gui.widgets.training_panel import TrainingPanel
from irstudio.gui.window_parts import AddDock, Status

__all__ = ["FLOATING_SIZE", "TRAINING_LANE", "TrainingDock"]

TRAINING_LANE = Lane.TRAINING
FLOATING_SIZE = (980, 640)


class TrainingDock(QObject):
    """Owns the training panel (``panel``) and its ``controller``, their dock and the action that
    shows it (for the Run menu)."""

    def __init__(
        self,
        *,
        parent: QWidget,
        runner: TaskRunner,
        settings: Settings,
        library_dir: Path,
        manifest: Path,
        devices: list[DeviceInfo],
        add_dock: AddDock,
        refresh_library: Callable[[], None],
        status: Status,
    ) -> None:
        super().__init__(parent)
        self._parent, self._settings = parent, settings
        self._refresh_library, self._status = refresh_library, status
        self.panel = TrainingPanel(devices=devices)
        self.controller = TrainingPanelController(
            self.panel,
            runner,
            settings=settings.store,
            library_dir=library_dir,
            manifest_path=manifest,
            train_lane=TRAINING_LANE,
        )
        self.dock = add_dock(
            "Training", "TrainingDock", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea, sideways=True
        )
        self.dock.setFloating(True)
        self.dock.resize(*FLOATING_SIZE)
        self.dock.hide()
        self.action = QAction("&Fine-tune a model…", parent)
        self.action.setStatusTip(
            "Train a model on your own photos; exported models appear under Your library"
        )
        self.action.triggered.connect(lambda _checked=False: self.show())
        self.controller.model_exported.connect(self._on_exported)
        self._placed = False
        self.dock.visibilityChanged.connect(self._centre_once)

    def show(self) -> None:
        """Show the dock (where the user left it) in front."""
        self.dock.show()
        self.dock.raise_()

    def _centre_once(self, visible: bool) -> None:
        """The first time the floating dock shows, with no saved layout (a first start), centre it
        on ``parent``; a saved layout or a move by the user is kept."""
        if not visible or self._placed or not self.dock.isFloating():
            return
        if self._settings.window_state is not None:
            self._placed = True
            return
        self._placed = True
        frame = self._parent.frameGeometry()
        width, height = min(FLOATING_SIZE[0], frame.width()), min(FLOATING_SIZE[1], frame.height())
        self.dock.resize(width, height)
        self.dock.move(frame.center().x() - width // 2, frame.center().y() - height // 2)

    def _on_exported(self, path: str) -> None:
        self._refresh_library()
        self._status(f"Exported {path}: listed under “Your library” in the model panel")
