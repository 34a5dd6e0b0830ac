"""The main window: compare area in the centre, model panel on the left, tool docks on the right,
folder strip below, status bar with progress, ETA and Cancel.

``MainWindow`` composes the parts and binds ``AppState`` → ``CompareView``, ``ModelPanel`` → state
and settings, ``CompareView`` visible region → region previews. The work is in controllers:
``OpenController``, ``RunController``, ``SaveController``; ``GroundTruthController`` and
``InsideController`` (right docks), ``BatchController`` (File → Restore a folder…),
``HelpController`` (self-test), ``TrainingDock`` (Run → Fine-tune a model…). The window builds
each with exactly what it needs (runner, state, settings, the widgets it drives, callbacks such as
``show_status``/``show_error``/``add_scrolled_dock``; see ``window_parts``), never itself, and puts
their menu actions in its menus; no controller imports this module. The window owns the device
lane's ``PlanCache`` (``device_cache``): restores keep models and plans in it and the Inside view
opens its models from it, so the models held in memory stay bounded. Long work runs on the
``TaskRunner`` (each job reports through its own ``JobHandle``); errors are shown by ``show_error``
and the window stays usable. Settings are restored on start and saved on close; closing cancels all
work and waits for the worker threads.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragMoveEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from irstudio.core import DeviceInfo, list_devices
from irstudio.gui.actions import build_actions
from irstudio.gui.batch_controller import BatchController
from irstudio.gui.garbage import MainThreadCollector
from irstudio.gui.ground_truth_controller import GroundTruthController
from irstudio.gui.help_controller import HelpController
from irstudio.gui.inside_controller import InsideController
from irstudio.gui.open_controller import OpenController
from irstudio.gui.restore_jobs import PlanCache
from irstudio.gui.run_controller import RunController
from irstudio.gui.save_controller import SaveController
from irstudio.gui.settings import Settings, default_store
from irstudio.gui.state import AppState
from irstudio.gui.tasks import TaskRunner
from irstudio.gui.theme import apply_theme
from irstudio.gui.training_dock import TrainingDock
from irstudio.gui.wheel_guard import install_wheel_guard
from irstudio.gui.widgets.compare_view import CompareMode, CompareView
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.gui.widgets.progress_status import ProgressStatus
from irstudio.gui.widgets.resource_status import REFRESH_MS as RESOURCE_REFRESH_MS
from irstudio.gui.widgets.resource_status import ResourceStatus
from irstudio.gui.widgets.thumbnail_strip import ThumbnailStrip
from irstudio.gui.widgets.welcome import WelcomePage
from irstudio.gui.window_settings import restore_selection, save_selection
from irstudio.paths import APP_NAME, manifest_path, resources_dir, user_library_dir

__all__ = ["MainWindow"]

SHUTDOWN_WAIT_MS = 10_000
STATUS_TIMEOUT_MS = 10_000
SAMPLE_PHOTO = "sample.png"  # resources/: the welcome page's "Try the sample photo"
MODEL_DOCK_WIDTH = 300  # widths at first start (later: the saved layout)
TOOL_DOCK_WIDTH = 500  # the right docks at first start: the Inside view's controls fit


def first_window_size(available_width: int, available_height: int) -> tuple[int, int]:
    """The window's size at first start, in logical pixels, for a screen area of that size:
    80 % of it, at least 1280x820, never more than the area (and never under 480 px high)."""
    width = min(available_width, max(1280, round(available_width * 0.8)))
    height = min(max(480, available_height), max(820, round(available_height * 0.85)))
    return width, height


class MainWindow(QMainWindow):
    """IR Studio's window. ``settings``/``library_dir``/``manifest``/``devices`` default to the user's."""

    def __init__(
        self,
        *,
        settings: QSettings | None = None,
        library_dir: Path | None = None,
        manifest: Path | None = None,
        devices: list[DeviceInfo] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.settings = Settings(settings if settings is not None else default_store())
        self._shut_down = False
        self._layout_restored = False
        self.state = AppState(self)
        self.runner = TaskRunner(self)
        self._collector = MainThreadCollector(self)  # Qt objects must not be freed on a worker
        self._collector.start()
        self._wheel_guard = install_wheel_guard(self)  # the wheel scrolls panels, not settings
        self._devices = devices if devices is not None else list_devices()
        self._build_widgets(library_dir, manifest)
        self._build_controllers()
        self.commands = build_actions(self, self.opener.fill_recent_menu)
        self._add_dock_toggles()
        self._bind()
        self._add_tools()
        self._restore_settings()
        self.setAcceptDrops(True)
        self._update_title()
        self.statusBar().showMessage("Open a photo (Ctrl+O), drop one here, or paste one (Ctrl+V)")

    # ------------------------------------------------------------------ construction

    def _build_widgets(self, library_dir: Path | None, manifest: Path | None) -> None:
        self.compare = CompareView()
        self.welcome = WelcomePage(resources_dir() / SAMPLE_PHOTO)
        self.photo_area = QStackedWidget()  # the welcome page until a photo is shown
        self.photo_area.addWidget(self.welcome)
        self.photo_area.addWidget(self.compare)
        self.setCentralWidget(self.photo_area)
        self.library_dir = library_dir if library_dir is not None else user_library_dir()
        self.manifest = manifest if manifest is not None else manifest_path()
        self.model_panel = ModelPanel(
            library_dir=self.library_dir, manifest_path=self.manifest, devices=self._devices
        )
        self.model_panel.set_can_run(False)
        self.thumbnails = ThumbnailStrip()
        self.model_dock = self.add_scrolled_dock(
            "Model", "ModelDock", self.model_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.folder_dock = self.add_dock(
            "Folder", "FolderDock", self.thumbnails, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.progress = ProgressStatus()
        self.image_info = QLabel()
        self.resources = ResourceStatus()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.image_info)
        self.statusBar().addPermanentWidget(self.resources)
        self._resource_timer = QTimer(self)
        self._resource_timer.timeout.connect(self.resources.refresh)
        self._resource_timer.start(RESOURCE_REFRESH_MS)
        self._fit_to_screen()
        self._folder_dock_waits = False  # hidden at first start until a photo (and its folder) is open

    def _build_controllers(self) -> None:
        common = {
            "state": self.state,
            "runner": self.runner,
            "warn": self.show_error,
            "status": self.show_status,
        }
        self.opener = OpenController(parent=self, settings=self.settings, strip=self.thumbnails, **common)
        self.device_cache = PlanCache()  # restores and the Inside view share its models (one lane)
        self.runs = RunController(
            parent=self,
            panel=self.model_panel,
            progress=self.progress,
            shown_rect=self.compare.visible_region,
            cache=self.device_cache,
            **common,
        )
        self.saver = SaveController(
            parent=self, settings=self.settings, active_key=self.compare.active_key, **common
        )

    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Dock ``widget`` (``name`` keeps its place in the saved layout); listed in the View menu
        when added after construction too."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        return self._place_dock(dock, area)

    def add_scrolled_dock(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, *, sideways: bool = False
    ) -> QDockWidget:
        """``add_dock`` with ``widget`` in a scroll area (it scrolls instead of being squeezed);
        ``sideways``: it may scroll horizontally too, so it does not set the window's minimum width."""
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        if not sideways:
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setMinimumWidth(widget.minimumSizeHint().width())
        return self.add_dock(title, name, scroll, area)

    def _place_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        self.addDockWidget(area, dock)
        if hasattr(self, "commands"):
            self.commands.view_menu.addAction(dock.toggleViewAction())
        return dock

    def _add_dock_toggles(self) -> None:
        for dock in (self.model_dock, self.folder_dock):
            self.commands.view_menu.addAction(dock.toggleViewAction())

    def _bind(self) -> None:
        state, panel, compare = self.state, self.model_panel, self.compare
        state.image_changed.connect(self._on_image_changed)
        self.welcome.open_requested.connect(self.opener.choose_file)
        self.welcome.file_requested.connect(self.opener.start_open)
        self.welcome.set_recent(self.settings.recent_files())
        state.reference_changed.connect(lambda: compare.set_reference(state.reference))
        state.result_added.connect(self._on_result_added)
        state.result_removed.connect(compare.remove_result)
        state.results_cleared.connect(compare.clear_results)
        panel.task_selected.connect(state.set_task)
        panel.model_selected.connect(state.set_model)
        panel.device_selected.connect(state.set_device)
        panel.run_requested.connect(self.runs.run)
        panel.preview_requested.connect(self.runs.preview)
        state.model_changed.connect(self._update_title)
        state.device_changed.connect(self.resources.set_device)
        self.resources.set_device(state.device)
        compare.visible_region_changed.connect(self.runs.set_visible_rect)
        compare.mode_changed.connect(self._on_mode_changed)
        self.progress.cancel_requested.connect(self.runs.cancel)

    def _add_tools(self) -> None:
        """Ground truth and Inside (tabbed on the right; the side docks run the full height, the folder
        strip lies under the views only), batch and self-test dialogs, training (a floating dock)."""
        self.ground_truth = GroundTruthController(
            parent=self,
            state=self.state,
            runner=self.runner,
            add_dock=self.add_scrolled_dock,
            select_task=self.model_panel.set_task,
            warn=self.show_error,
            status=self.show_status,
        )
        self.inside = InsideController(
            parent=self,
            state=self.state,
            runner=self.runner,
            compare=self.compare,
            panel=self.model_panel,
            add_dock=self.add_scrolled_dock,
            models=self.device_cache.models,
        )
        self.tabifyDockWidget(self.ground_truth.dock, self.inside.dock)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.ground_truth.dock.raise_()
        self._add_dialogs()
        self._add_training()

    def _add_dialogs(self) -> None:
        """File → Restore a folder… (above Save) and Help → Run self-test… (above About)."""
        self.batch = BatchController(
            parent=self,
            runner=self.runner,
            state=self.state,
            settings=self.settings,
            panel=self.model_panel,
            status=self.show_status,
        )
        self.commands.file_menu.insertAction(self.commands.save, self.batch.action)
        self.help = HelpController(
            parent=self, runner=self.runner, state=self.state, devices=self._devices, status=self.show_status
        )
        self.commands.help_menu.insertAction(self.commands.about, self.help.action)

    def _add_training(self) -> None:
        """The Training dock; Run → Fine-tune a model… shows it."""
        self.training = TrainingDock(
            parent=self,
            runner=self.runner,
            settings=self.settings,
            library_dir=self.library_dir,
            manifest=self.manifest,
            devices=self._devices,
            add_dock=self.add_scrolled_dock,
            refresh_library=self.model_panel.refresh_library,
            status=self.show_status,
        )
        self.commands.run_menu.addSeparator()
        self.commands.run_menu.addAction(self.training.action)

    # ------------------------------------------------------------------ public API

    def open_file(self, path: Path) -> bool:
        """Show ``path`` and return whether it is shown; a bad file gives a message box and leaves the
        window as it was. The file is read on a worker; this waits for it with the event loop running
        (see ``OpenController.open_file``), so the window stays responsive meanwhile."""
        opened = self.opener.open_file(Path(path))
        if self._shut_down:  # closed while waiting; before the main loop runs (start-up) Qt drops that
            QTimer.singleShot(0, QCoreApplication.quit)  # quit, so ask again once the loop runs
        return opened

    def show_error(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    def set_theme(self, name: str) -> None:
        apply_theme(name)
        self.settings.theme = name
        action = self.commands.themes.get(name)
        if action is not None:
            action.setChecked(True)

    def show_about(self) -> None:
        self.help.show_about()

    # ------------------------------------------------------------------ reactions

    def _on_image_changed(self) -> None:
        image = self.state.image
        if image is None:
            return
        self.photo_area.setCurrentWidget(self.compare)
        if self._folder_dock_waits:
            self._folder_dock_waits = False
            self.folder_dock.show()
        self.compare.clear_results()
        picture = self.opener.prepared_picture(image.rgb)
        self.compare.set_original(image.rgb, picture=picture, label=self.state.input_label)
        self.compare.set_reference(self.state.reference)
        self.compare.zoom_fit()
        info = image.info
        self.image_info.setText(f"{self.state.name}: {info.describe()}")
        self.show_status(f"Opened {self.state.name}")
        self.model_panel.set_can_run(True)
        self._update_title()

    def _on_result_added(self, key: str) -> None:
        result = self.state.result(key)
        if result is not None:
            self.compare.set_result(key, result.label, result.image)
            self.compare.set_active(key)

    def _on_mode_changed(self, mode: str) -> None:
        self.settings.compare_mode = mode
        action = self.commands.modes.get(CompareMode(mode))
        if action is not None:
            action.setChecked(True)

    def _update_title(self) -> None:
        choice = self.model_panel.current_choice()
        parts = [self.state.name] if self.state.image is not None else []
        if choice is not None:
            parts.append(choice.label)
        self.setWindowTitle(" — ".join([*parts, APP_NAME]))

    # ------------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        mode = restore_selection(self.settings, self.model_panel, self.state)
        self.set_theme(self.settings.theme)
        self.compare.set_mode(mode)
        self._on_mode_changed(mode)

    def _save_settings(self) -> None:
        save_selection(self.settings, self.model_panel)
        if self._layout_restored:  # a window never shown has no layout worth keeping
            self.settings.geometry = self.saveGeometry()
            self.settings.window_state = self.saveState()
        self.settings.sync()

    # ------------------------------------------------------------------ Qt events

    def shutdown(self) -> None:
        """Save the settings, cancel all work and wait for the workers (once; closing calls it)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._save_settings()
        self.opener.cancel()  # before the lanes stop: a waiting open_file must not wait for ever
        self.runner.shutdown(SHUTDOWN_WAIT_MS)
        self._collector.stop()

    def showEvent(self, event: QShowEvent) -> None:
        """Restore geometry and dock layout when first shown, so docks added after construction
        (by other parts of the app) get their saved places too."""
        if not self._layout_restored:
            self._layout_restored = True
            if self.settings.geometry is not None:
                self.restoreGeometry(self.settings.geometry)
            if self.settings.window_state is not None:
                self.restoreState(self.settings.window_state)
            else:  # first start: the photo gets the room; tools open from the View menu
                self._first_start_layout()
        super().showEvent(event)

    def _fit_to_screen(self) -> None:
        """The first size: 80 % of the screen's available area, never under 1280x820 unless the
        screen itself is smaller (a 1280x720 laptop), centred on that screen."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 820)
            return
        available = screen.availableGeometry()
        frame = 40  # title bar and borders the window manager adds
        width, height = first_window_size(available.width(), available.height() - frame)
        self.resize(width, height)
        self.move(
            available.x() + (available.width() - width) // 2,
            available.y() + max(0, (available.height() - frame - height) // 2),
        )

    def _first_start_layout(self) -> None:
        """Right-hand tools closed, the folder strip waiting for a photo; the model dock wide
        enough for its contents."""
        for dock in (self.ground_truth.dock, self.inside.dock):
            dock.hide()
            dock.visibilityChanged.connect(self._widen_tool_dock)
        self.folder_dock.hide()
        self._folder_dock_waits = True
        self.resizeDocks([self.model_dock], [MODEL_DOCK_WIDTH], Qt.Orientation.Horizontal)

    def _widen_tool_dock(self, visible: bool) -> None:
        """A right-hand tool opened for the first time gets the width its controls need."""
        dock = self.sender()
        if visible and isinstance(dock, QDockWidget) and not dock.property("widened"):
            dock.setProperty("widened", True)
            self.resizeDocks([dock], [TOOL_DOCK_WIDTH], Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        event.accept()

    def dragEnterEvent(self, event: QDragMoveEvent) -> None:
        if self.opener.accepts(event.mimeData()):
            event.acceptProposedAction()

    dragMoveEvent = dragEnterEvent  # a drag that moves is judged as when it entered

    def dropEvent(self, event: QDropEvent) -> None:
        if self.opener.drop(event.mimeData()):
            event.acceptProposedAction()
