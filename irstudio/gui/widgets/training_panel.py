"""``TrainingPanel``: fine-tune a model on your own folder of photos, from the app.

Left, the settings: the data folder (clean photos degraded on the fly, or paired ``input/`` and
``target/`` subfolders), the task and its degradation ranges (noise σ, JPEG quality, rain streaks,
optional blur), the base model (shipped, your library, or an untrained preset for the task),
iterations, patch and batch size, learning rate, loss, validation and checkpoint intervals,
device, and where the run is written (``<runs folder>/<run name>``). Right, what happens: a live
preview of generated training pairs (recomputed off the main thread, debounced, when a setting
changes), loss and validation-PSNR curves (pyqtgraph), the validation strip (input / output /
target of the latest validation), progress, and Start / Stop / Resume / Export.

Work goes through the window's ``TaskRunner``: training under ``TRAIN_KEY`` on the "device" lane
(``train_lane``), previews under ``PREVIEW_KEY`` on the "preview" lane, exports under
``EXPORT_KEY`` on the "io" lane. Stop asks the loop to end at the next step; it writes a
checkpoint that Resume continues (a run still queued behind other device work is dropped).
The runner cancelling the job (the window closing) also ends it with a checkpoint. Export writes
the run's EMA weights into the user's model library and emits ``model_exported(path)`` so the
window can list the new model at once.
Errors (bad folder, bad settings, a failed run) are shown in the panel's message line.
The last settings persist in the ``QSettings`` store given (key ``training/form``).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLocale, QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QDoubleValidator, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from irstudio import paths
from irstudio.core.cancel import CancelToken
from irstudio.core.device import DeviceInfo, list_devices
from irstudio.gui.model_choices import (
    LIBRARY,
    SHIPPED,
    TASKS,
    ModelChoice,
    choices_for,
    library_models,
    read_manifest,
    task_choice,
)
from irstudio.gui.qimage import to_qimage
from irstudio.gui.tasks import TaskRunner
from irstudio.gui.training_controller import (
    LOSSES,
    PreviewResult,
    TrainingForm,
    build_config,
    check_folder,
    checkpoint_step,
    default_run_name,
    degradation_for,
    export_path,
    export_work,
    list_runs,
    paired_folders,
    preview_work,
    read_history,
    resume_config,
    run_dir_of,
    training_work,
)
from irstudio.gui.widgets.progress_status import format_eta
from irstudio.models.spec import Task
from irstudio.training import (
    CheckpointSaved,
    ConfigError,
    Notice,
    Started,
    StepLog,
    TrainConfig,
    TrainSummary,
    Validation,
    latest_checkpoint,
)

__all__ = ["EXPORT_KEY", "PREVIEW_KEY", "TRAIN_KEY", "ImageStrip", "RangeEdit", "TrainingPanel"]

TRAIN_KEY = "training"
PREVIEW_KEY = "training-preview"
EXPORT_KEY = "training-export"
PREVIEW_LANE, EXPORT_LANE = "preview", "io"
PREVIEW_DELAY_MS = 300
SETTINGS_KEY = "training/form"
THUMB = 84
EMPTY_CURVE_TEXT = "Starts with the first steps"
SETTINGS_WIDTH = 360  # px of the settings column, at least
LINE_WIDTH = SETTINGS_WIDTH - 40  # px of its one-line notes
_ERROR_STYLE = "background:#5c1f1f; color:#ffd7d7; padding:4px; border-radius:3px"
_INFO_STYLE = "background:#1f3b5c; color:#d7e9ff; padding:4px; border-radius:3px"


# ---------------------------------------------------------------------------------- small widgets


class RangeEdit(QWidget):
    """A ``(low, high)`` range as two spin boxes; ``changed`` when either moves. ``decimals=0``
    gives whole numbers."""

    changed = Signal()

    def __init__(
        self, minimum: float, maximum: float, *, decimals: int = 1, step: float = 1.0, suffix: str = ""
    ) -> None:
        super().__init__()
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for index, box in enumerate((self.low, self.high)):
            box.setRange(minimum, maximum)
            box.setDecimals(decimals)
            box.setSingleStep(step)
            box.setSuffix(suffix)
            box.valueChanged.connect(self.changed)
            if index:
                layout.addWidget(QLabel("to"))
            layout.addWidget(box, 1)

    def value(self) -> tuple[float, float]:
        return (self.low.value(), self.high.value())

    def set_value(self, bounds: Sequence[float]) -> None:
        with QSignalBlocker(self.low), QSignalBlocker(self.high):
            self.low.setValue(float(bounds[0]))
            self.high.setValue(float(bounds[1]))


def _thumbnail(image: np.ndarray, side: int) -> QPixmap:
    """``image`` scaled to fit a ``side`` square: pixel-exact (nearest) when enlarged, smooth when reduced."""
    pixmap = QPixmap.fromImage(to_qimage(image))
    enlarge = max(pixmap.width(), pixmap.height()) <= side
    mode = Qt.TransformationMode.FastTransformation if enlarge else Qt.TransformationMode.SmoothTransformation
    return pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode)


class ImageStrip(QWidget):
    """Columns of small images with a title per row ("Input", "Target", ...); every image is fitted
    into the same square, so an SR input lines up with its larger target. Shows ``message`` when
    there is nothing to show."""

    def __init__(self, rows: Sequence[str], *, side: int = THUMB, empty: str = "") -> None:
        super().__init__()
        self.rows, self.side = tuple(rows), side
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(4)
        self._grid.setVerticalSpacing(2)
        self._cells: list[QLabel] = []  # row titles, then images
        self._images: list[QLabel] = []
        self._columns = 0
        self.message = QLabel(empty)
        # one line (a wrapping label would make the scrolled column size itself by height-for-width)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setMinimumHeight(len(self.rows) * (side + 4))
        self._grid.addWidget(self.message, 0, 0, len(self.rows), 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def column_count(self) -> int:
        return self._columns

    def pixmaps(self) -> list[QPixmap]:
        """The images shown, row by row."""
        return [cell.pixmap() for cell in self._images]

    def _remove_cells(self) -> None:
        for cell in self._cells:
            self._grid.removeWidget(cell)
            cell.deleteLater()
        self._cells, self._images = [], []

    def show_message(self, text: str) -> None:
        self._remove_cells()
        self._columns = 0
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.show()

    def set_columns(self, columns: Sequence[Sequence[np.ndarray]]) -> None:
        """One column per tuple of images (one image per row, in ``rows`` order)."""
        if not columns:
            self.show_message(self.message.text())
            return
        self._remove_cells()
        self.message.hide()
        for row, title in enumerate(self.rows):
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._grid.addWidget(label, row, 0)
            self._cells.append(label)
        for column, images in enumerate(columns, start=1):
            for row, image in enumerate(images[: len(self.rows)]):
                cell = QLabel()
                cell.setFixedSize(self.side, self.side)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setPixmap(_thumbnail(image, self.side))
                cell.setFrameShape(QFrame.Shape.StyledPanel)
                self._grid.addWidget(cell, row, column)
                self._cells.append(cell)
                self._images.append(cell)
        self._grid.setColumnStretch(len(columns) + 1, 1)
        self._columns = len(columns)


def _set_line(label: QLabel, text: str, *, error: bool = False) -> None:
    """One line in the settings column: elided to ``LINE_WIDTH`` (the whole text in the tooltip),
    red for errors. (Word-wrapped labels would make the column's layout jump.)"""
    label.setToolTip(text if label.fontMetrics().horizontalAdvance(text) > LINE_WIDTH else "")
    shown = html.escape(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, LINE_WIDTH))
    label.setText(f"<span style='color:#ff8080'>{shown}</span>" if error else shown)


def _scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless, vertically scrolling area (the panel fits a small dock too)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def _spin(minimum: int, maximum: int, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setGroupSeparatorShown(True)
    return spin


def _plot(title: str, colour: str, *, log_y: bool = False, symbol: str | None = None) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground("#202020")
    plot.setTitle(title, color="#dddddd", size="9pt")
    plot.setLabel("bottom", "step")
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLogMode(x=False, y=log_y)
    plot.setMinimumHeight(150)
    plot.getPlotItem().layout.setContentsMargins(2, 2, 12, 2)  # room for the last x label
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol=symbol, symbolSize=6, symbolBrush=colour)
    waiting = pg.TextItem(EMPTY_CURVE_TEXT, color="#9a9a9a", anchor=(0.5, 0.5))
    plot.addItem(waiting, ignoreBounds=True)
    plot.setProperty("waiting_text", waiting)  # _show_points hides it once there are points
    _show_points(plot, [])
    return plot


def _show_points(plot: pg.PlotWidget, points: list[tuple[int, float]]) -> None:
    """Draw ``points`` (step, value); with none, blank axes and a waiting text instead of the
    crowded tick labels an empty (log) axis would draw."""
    curve = plot.getPlotItem().listDataItems()[0]
    waiting = plot.property("waiting_text")
    for side in ("left", "bottom"):
        plot.getAxis(side).setStyle(showValues=bool(points))
    waiting.setVisible(not points)
    if points:
        steps, values = zip(*points, strict=True)
        curve.setData(np.asarray(steps, dtype=float), np.asarray(values, dtype=float))
        plot.enableAutoRange()
    else:
        curve.setData([], [])
        plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # view coordinates (log10 on a log axis)
        waiting.setPos(0.5, 0.5)


# ---------------------------------------------------------------------------------- the panel


class TrainingPanel(QWidget):
    """The Training panel (see the module docstring). ``runner`` is the window's ``TaskRunner``;
    ``library_dir``/``manifest_path``/``devices`` default to the user's; ``settings`` (optional)
    keeps the last values between sessions."""

    model_exported = Signal(str)
    run_finished = Signal(object)  # TrainSummary
    preview_updated = Signal(int)  # pairs shown
    message_shown = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        *,
        library_dir: Path | None = None,
        manifest_path: Path | None = None,
        devices: list[DeviceInfo] | None = None,
        settings: QSettings | None = None,
        train_lane: str = "device",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.train_lane, self._settings = runner, train_lane, settings
        self.library_dir = library_dir if library_dir is not None else paths.user_library_dir()
        self._manifest_path = manifest_path if manifest_path is not None else paths.manifest_path()
        self._choices: list[ModelChoice] = []
        self._auto_name = ""
        self._preview_seed = 0
        self._stop: CancelToken | None = None
        self._running = False
        self._job_started = False  # the training job left the lane's queue
        self._loss_points: list[tuple[int, float]] = []
        self._psnr_points: list[tuple[int, float]] = []
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._build(devices if devices is not None else list_devices())
        self._connect()
        self.set_form(self._stored_form())
        runner.started.connect(self._on_started)
        runner.progressed.connect(self._on_progressed)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)

    # ------------------------------------------------------------------ building

    def _build(self, devices: list[DeviceInfo]) -> None:
        settings = QWidget()
        column = QVBoxLayout(settings)
        column.setContentsMargins(0, 0, 4, 0)
        for box in (
            self._data_box(),
            self._degradation_box(),
            self._model_box(),
            self._training_box(devices),
            self._output_box(),
        ):
            column.addWidget(box)
        column.addStretch(1)
        self.settings_area = _scrolled(settings)
        self.settings_area.setFixedWidth(SETTINGS_WIDTH)  # fitted to the content when shown
        layout = QHBoxLayout(self)
        layout.addWidget(self.settings_area)
        layout.addLayout(self._monitor(), 1)

    def _data_box(self) -> QGroupBox:
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder of your photos")
        self.folder_button = QPushButton("Browse…")
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("Clean photos (degraded on the fly)", False)
        self.kind_combo.addItem("Pairs: input/ and target/ subfolders", True)
        self.kind_combo.setToolTip(
            "Paired: files in input/ and target/ are matched by name; the degradation is not used"
        )
        self.data_info = QLabel()
        self.data_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.folder_button)
        box = QGroupBox("Data")
        form = QFormLayout(box)
        form.addRow("Folder", row)
        form.addRow("Kind", self.kind_combo)
        form.addRow("", self.data_info)
        return box

    def _degradation_box(self) -> QGroupBox:
        self.task_combo = QComboBox()
        for task in TASKS:
            self.task_combo.addItem(task.label, task.key)
        self.noise_sigma = RangeEdit(0, 255, decimals=1, step=1)
        self.gray_spin = _spin(0, 100, 5, " %")
        self.gray_spin.setToolTip("Share of images that get gray (luminance) noise instead of colour noise")
        self.sr_label = QLabel()
        self.real_label = QLabel()
        self.real_label.setWordWrap(True)
        self.jpeg_quality = RangeEdit(1, 100, decimals=0, step=5)
        self.rain_density = RangeEdit(0, 0.2, decimals=4, step=0.0005)
        self.rain_length = RangeEdit(1, 200, decimals=0, step=1, suffix=" px")
        self.rain_angle = RangeEdit(-90, 90, decimals=0, step=5, suffix="°")
        self.rain_width = RangeEdit(0.5, 10, decimals=1, step=0.5, suffix=" px")
        self.rain_brightness = RangeEdit(0, 1, decimals=2, step=0.05)
        self.blur_check = QCheckBox("Gaussian blur first, σ")
        self.blur_sigma = RangeEdit(0, 20, decimals=1, step=0.1, suffix=" px")
        self.degradation_label = QLabel()
        self.degradation_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        rows_by_task: dict[Task, list[tuple[str, QWidget]]] = {
            Task.DENOISE: [("Noise σ (0-255)", self.noise_sigma), ("Gray noise", self.gray_spin)],
            Task.SR: [("Input", self.sr_label)],
            Task.REALPHOTO: [("Input", self.real_label)],
            Task.JPEG: [("JPEG quality", self.jpeg_quality)],
            Task.DERAIN: [
                ("Streak density", self.rain_density),
                ("Length", self.rain_length),
                ("Angle", self.rain_angle),
                ("Width", self.rain_width),
                ("Brightness", self.rain_brightness),
            ],
        }
        box = QGroupBox("Task and degradation")
        self.degradation_form = QFormLayout(box)
        self.degradation_form.addRow("Task", self.task_combo)
        self._task_rows: dict[Task, list[QWidget]] = {}
        for task, rows in rows_by_task.items():
            for label, widget in rows:
                self.degradation_form.addRow(label, widget)
            self._task_rows[task] = [widget for _, widget in rows]
        self.degradation_form.addRow(self.blur_check, self.blur_sigma)
        self.degradation_form.addRow(self.degradation_label)
        self.degradation_inputs: list[QWidget] = [
            *(widget for rows in self._task_rows.values() for widget in rows),
            self.blur_check,
            self.blur_sigma,
        ]
        return box

    def _model_box(self) -> QGroupBox:
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(24)
        self.model_info = QLabel()
        self.model_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        box = QGroupBox("Base model")
        form = QFormLayout(box)
        form.addRow("Start from", self.model_combo)
        form.addRow(self.model_info)
        return box

    def _training_box(self, devices: list[DeviceInfo]) -> QGroupBox:
        self.steps_spin = _spin(1, 10_000_000, 500)
        self.patch_spin = _spin(8, 512, 8, " px")
        self.patch_spin.setToolTip("Side of the training input patch (SR targets are scale × larger)")
        self.batch_spin = _spin(1, 512)
        self.lr_edit = QLineEdit()
        validator = QDoubleValidator(1e-8, 0.99, 10, self.lr_edit)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.lr_edit.setValidator(validator)
        self.loss_combo = QComboBox()
        for key, label in LOSSES:
            self.loss_combo.addItem(label, key)
        self.validate_spin = _spin(1, 1_000_000, 50)
        self.checkpoint_spin = _spin(1, 1_000_000, 100)
        self.device_combo = QComboBox()
        self.device_combo.addItem(f"Auto ({devices[0].spec})" if devices else "Auto", "auto")
        for device in devices:
            self.device_combo.addItem(device.spec, device.spec)
            self.device_combo.setItemData(
                self.device_combo.count() - 1, device.describe(), Qt.ItemDataRole.ToolTipRole
            )
        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.addRow("Iterations", self.steps_spin)
        form.addRow("Patch", self.patch_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Validate every", self.validate_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        form.addRow("Device", self.device_combo)
        return box

    def _output_box(self) -> QGroupBox:
        self.output_edit = QLineEdit()
        self.output_button = QPushButton("Browse…")
        self.name_combo = QComboBox()
        self.name_combo.setEditable(True)
        self.name_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_combo.setToolTip("A new name starts a new run; an existing run can be resumed or exported")
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(self.output_button)
        box = QGroupBox("Run")
        form = QFormLayout(box)
        form.addRow("Runs folder", row)
        form.addRow("Run name", self.name_combo)
        return box

    def _monitor(self) -> QVBoxLayout:
        self.preview_strip = ImageStrip(("Input", "Target"), empty="Choose a folder to see training pairs.")
        self.shuffle_button = QPushButton("Other samples")
        self.shuffle_button.setToolTip("Draw other crops and degradation parameters")
        preview_box = QGroupBox("Training pairs (as the model sees them)")
        preview_layout = QHBoxLayout(preview_box)
        preview_layout.addWidget(self.preview_strip, 1)
        preview_layout.addWidget(self.shuffle_button, 0, Qt.AlignmentFlag.AlignTop)
        self.loss_plot = _plot("Training loss", "#4aa3ff", log_y=True)
        self.psnr_plot = _plot("Validation PSNR (dB)", "#f0a030", symbol="o")
        curves = QHBoxLayout()
        curves.addWidget(self.loss_plot)
        curves.addWidget(self.psnr_plot)
        self.validation_strip = ImageStrip(
            ("Input", "Output", "Target"), empty="The validation crops appear at the first validation."
        )
        self.validation_label = QLabel()
        validation_box = QGroupBox("Validation")
        validation_layout = QVBoxLayout(validation_box)
        validation_layout.addWidget(self.validation_label)
        validation_layout.addWidget(self.validation_strip)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.progress = QProgressBar()
        self.progress.setFormat("Not started")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start a new run with these settings")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; a checkpoint is written (Resume continues)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the run from its latest checkpoint")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the run's weights into your model library")
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        for button in (self.start_button, self.stop_button, self.resume_button, self.export_button):
            buttons.addWidget(button)
        shown = QWidget()
        shown_layout = QVBoxLayout(shown)
        shown_layout.setContentsMargins(0, 0, 0, 0)
        shown_layout.addWidget(preview_box)
        shown_layout.addLayout(curves, 1)
        shown_layout.addWidget(validation_box)
        self.monitor_area = _scrolled(shown)
        layout = QVBoxLayout()
        layout.addWidget(self.monitor_area, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        return layout

    def _connect(self) -> None:
        schedule = self.schedule_preview
        self.folder_edit.editingFinished.connect(self._on_folder_edited)
        self.folder_button.clicked.connect(self._browse_folder)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        for edit in (
            self.noise_sigma,
            self.jpeg_quality,
            self.rain_density,
            self.rain_length,
            self.rain_angle,
            self.rain_width,
            self.rain_brightness,
            self.blur_sigma,
        ):
            edit.changed.connect(self._on_degradation_changed)
        self.gray_spin.valueChanged.connect(self._on_degradation_changed)
        self.blur_check.toggled.connect(self._on_degradation_changed)
        self.patch_spin.valueChanged.connect(schedule)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.output_edit.editingFinished.connect(self._fill_runs)
        self.output_button.clicked.connect(self._browse_output)
        self.name_combo.currentTextChanged.connect(lambda _text: self._update_buttons())
        self.shuffle_button.clicked.connect(self._shuffle_preview)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.export_button.clicked.connect(self.export_interactively)

    def showEvent(self, event: QShowEvent) -> None:
        self._fit_settings_width()
        super().showEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.StyleChange:  # a theme changes paddings and fonts
            self._fit_settings_width()
        super().changeEvent(event)

    def _fit_settings_width(self) -> None:
        """The settings column as wide as its content (which depends on the style) plus a scroll bar."""
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        content = self.settings_area.widget().sizeHint().width()
        self.settings_area.setFixedWidth(max(SETTINGS_WIDTH, content) + scrollbar + 2)

    # ------------------------------------------------------------------ the form

    def form(self) -> TrainingForm:
        """The current values."""
        try:
            lr = float(self.lr_edit.text())
        except ValueError:  # "2,5e-4" in a locale with a decimal comma
            lr, ok = QLocale().toDouble(self.lr_edit.text())
            lr = lr if ok else math.nan
        choice = self.current_model()
        return TrainingForm(
            folder=self.folder_edit.text().strip(),
            paired=bool(self.kind_combo.currentData()),
            task=self.task_combo.currentData(),
            noise_sigma=self.noise_sigma.value(),
            gray_probability=self.gray_spin.value() / 100,
            jpeg_quality=tuple(int(v) for v in self.jpeg_quality.value()),  # type: ignore[arg-type]
            rain_density=self.rain_density.value(),
            rain_length=self.rain_length.value(),
            rain_angle=self.rain_angle.value(),
            rain_width=self.rain_width.value(),
            rain_brightness=self.rain_brightness.value(),
            blur=self.blur_check.isChecked(),
            blur_sigma=self.blur_sigma.value(),
            model_id=choice.spec.id if choice is not None else "",
            weights=str(choice.weights) if choice is not None and choice.kind == LIBRARY else "",
            steps=self.steps_spin.value(),
            patch=self.patch_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=lr,
            loss=self.loss_combo.currentData(),
            validate_every=self.validate_spin.value(),
            checkpoint_every=self.checkpoint_spin.value(),
            device=self.device_combo.currentData(),
            output_dir=self.output_edit.text().strip(),
            name=self.name_combo.currentText().strip(),
        )

    def set_form(self, form: TrainingForm) -> None:
        """Show ``form``'s values (a device or model that is not available keeps the current one)."""
        blockers = [QSignalBlocker(w) for w in (self.kind_combo, self.task_combo, self.model_combo)]
        self.folder_edit.setText(form.folder)
        self.kind_combo.setCurrentIndex(1 if form.paired else 0)
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(task_choice(form.task).key)))
        for edit, value in (
            (self.noise_sigma, form.noise_sigma),
            (self.jpeg_quality, form.jpeg_quality),
            (self.rain_density, form.rain_density),
            (self.rain_length, form.rain_length),
            (self.rain_angle, form.rain_angle),
            (self.rain_width, form.rain_width),
            (self.rain_brightness, form.rain_brightness),
            (self.blur_sigma, form.blur_sigma),
        ):
            edit.set_value(value)
        for widget, value in (
            (self.gray_spin, round(form.gray_probability * 100)),
            (self.steps_spin, form.steps),
            (self.patch_spin, form.patch),
            (self.batch_spin, form.batch_size),
            (self.validate_spin, form.validate_every),
            (self.checkpoint_spin, form.checkpoint_every),
        ):
            with QSignalBlocker(widget):
                widget.setValue(value)
        with QSignalBlocker(self.blur_check):
            self.blur_check.setChecked(form.blur)
        self.lr_edit.setText(f"{form.lr:g}")
        self.loss_combo.setCurrentIndex(max(0, self.loss_combo.findData(form.loss)))
        device = self.device_combo.findData(form.device)
        if device >= 0:
            self.device_combo.setCurrentIndex(device)
        self.output_edit.setText(form.output_dir)
        self._fill_models(form.model_id, form.weights)
        for blocker in blockers:
            blocker.unblock()
        self._fill_runs()
        self._set_name(form.name)
        self._show_task_page()
        self._describe_degradation()
        self._describe_model()
        self.schedule_preview()

    def current_model(self) -> ModelChoice | None:
        index = self.model_combo.currentData()
        return self._choices[index] if isinstance(index, int) and 0 <= index < len(self._choices) else None

    def model_choices(self) -> list[ModelChoice]:
        """The base models offered for the current task (learned models only)."""
        return list(self._choices)

    def select_model(self, model_id: str, weights: str = "") -> bool:
        """Select the base model ``model_id`` (with library ``weights``, when given); False if not offered."""
        for position, choice in enumerate(self._choices):
            mine = str(choice.weights) if choice.kind == LIBRARY else ""
            if choice.spec.id == model_id and mine == weights:
                self.model_combo.setCurrentIndex(self.model_combo.findData(position))
                return True
        return False

    def refresh_models(self) -> None:
        """Re-read the manifest and the library (after an export); keeps the selection when listed."""
        current = self.form()
        self._fill_models(current.model_id, current.weights)

    def _fill_models(self, model_id: str, weights: str) -> None:
        task = task_choice(self.task_combo.currentData())
        library = library_models(self.library_dir)
        offered = choices_for(task, manifest=read_manifest(self._manifest_path), library=library)
        self._choices = [choice for choice in offered if choice.spec.learned]
        with QSignalBlocker(self.model_combo):
            self.model_combo.clear()
            for position, choice in enumerate(self._choices):  # where it starts: the line below
                self.model_combo.addItem(choice.label, position)
            if not self.select_model(model_id, weights) and self._choices:
                self.model_combo.setCurrentIndex(0)
        self._describe_model()

    def _fill_runs(self) -> None:
        name = self.name_combo.currentText()
        with QSignalBlocker(self.name_combo):
            self.name_combo.clear()
            output = self.output_edit.text().strip()
            self.name_combo.addItems(list_runs(output) if output else [])
            self.name_combo.setEditText(name)
        self._update_buttons()

    def _set_name(self, name: str) -> None:
        if not name:
            form = self.form()
            name = self._auto_name = default_run_name(form.model_id or "model", form.task, form.output_dir)
        self.name_combo.setEditText(name)
        self._update_buttons()

    def _refresh_auto_name(self) -> None:
        """A name the user did not type follows the model and task."""
        if self.name_combo.currentText().strip() in ("", self._auto_name):
            self._set_name("")

    # ------------------------------------------------------------------ settings persistence

    def _stored_form(self) -> TrainingForm:
        if self._settings is None:
            return TrainingForm()
        text = self._settings.value(SETTINGS_KEY, "")
        try:
            data = json.loads(text) if isinstance(text, str) and text else {}
        except ValueError:
            data = {}
        return TrainingForm.from_dict(data) if isinstance(data, dict) else TrainingForm()

    def save_settings(self) -> None:
        """Keep the current values for the next session (no-op without a settings store)."""
        if self._settings is not None:
            form = self.form()
            if form.name == self._auto_name:  # a generated name is generated afresh next time
                form = replace(form, name="")
            self._settings.setValue(SETTINGS_KEY, json.dumps(form.to_dict()))

    # ------------------------------------------------------------------ reactions to the settings

    def _on_folder_edited(self) -> None:
        self._detect_pairs(self.folder_edit.text().strip())
        self.schedule_preview()

    def _detect_pairs(self, folder: str) -> None:
        """A folder with input/ and target/ subfolders is paired data; any other holds clean photos."""
        if folder:
            paired = all(sub.is_dir() for sub in paired_folders(folder))
            self.kind_combo.setCurrentIndex(1 if paired else 0)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self._on_folder_edited()

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for training runs", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)
            self._fill_runs()

    def _on_kind_changed(self, _index: int) -> None:
        for widget in self.degradation_inputs:  # paired data brings its own inputs
            widget.setEnabled(not self.kind_combo.currentData())
        self._describe_degradation()
        self.schedule_preview()

    def _on_task_changed(self, _index: int) -> None:
        current = self.current_model()
        self._fill_models(current.spec.id if current else "", "")
        self._show_task_page()
        self._describe_degradation()
        self._refresh_auto_name()
        self.schedule_preview()

    def _on_model_changed(self, _index: int) -> None:
        self._describe_model()
        self._refresh_auto_name()

    def _on_degradation_changed(self) -> None:
        self._describe_degradation()
        self.schedule_preview()

    def _show_task_page(self) -> None:
        task = task_choice(self.task_combo.currentData())
        for kind, widgets in self._task_rows.items():
            for widget in widgets:
                self.degradation_form.setRowVisible(widget, kind is task.task)
        box = self.degradation_form.parentWidget()
        box.updateGeometry()  # the column re-reads the box's height even before it was ever shown
        self.sr_label.setText(f"MATLAB bicubic ÷{task.scale} of the photo")
        smaller = f", then ÷{task.scale}" if task.scale > 1 else ""
        self.real_label.setText(f"Blur, resize, noise and JPEG, twice, at random (Real-ESRGAN){smaller}")

    def _describe_degradation(self) -> None:
        if self.kind_combo.currentData():
            _set_line(self.degradation_label, "Paired data: the images in input/ are the inputs.")
            return
        try:
            _set_line(self.degradation_label, f"Pipeline: {degradation_for(self.form()).describe()}")
        except ConfigError as error:
            _set_line(self.degradation_label, str(error).removeprefix("degradation: "), error=True)

    def _describe_model(self) -> None:
        choice = self.current_model()
        if choice is None:
            _set_line(self.model_info, "No trainable model for this task.", error=True)
            return
        start = {SHIPPED: "shipped weights", LIBRARY: "your weights"}.get(choice.kind, "random weights")
        params = choice.spec.params / 1e6
        _set_line(self.model_info, f"{choice.spec.arch} · {params:.2f} M parameters · {start}")
        self.model_combo.setToolTip(self.model_combo.currentText())

    # ------------------------------------------------------------------ live preview

    def schedule_preview(self) -> None:
        """Recompute the preview strip shortly (settings changes in a row make one preview)."""
        self._preview_timer.start()

    def refresh_preview(self) -> None:
        """Recompute the preview strip now (off the main thread)."""
        self._preview_timer.stop()
        form = self.form()
        if not form.folder:
            self.preview_strip.show_message("Choose a folder to see training pairs.")
            _set_line(self.data_info, "Clean photos, or a folder with input/ and target/")
            return
        try:
            self.runner.submit(PREVIEW_KEY, preview_work(form, seed=self._preview_seed), lane=PREVIEW_LANE)
        except RuntimeError:  # the runner was shut down (the window is closing)
            return

    def _shuffle_preview(self) -> None:
        self._preview_seed += 1
        self.refresh_preview()

    def _show_preview(self, result: PreviewResult) -> None:
        if result.pairs:
            self.preview_strip.set_columns(result.pairs)
            _set_line(self.data_info, result.summary)
        else:
            self.preview_strip.show_message(result.message)
            _set_line(self.data_info, result.message, error=True)
        self.preview_updated.emit(len(result.pairs))

    # ------------------------------------------------------------------ commands

    def start(self) -> bool:
        """Start a new run with the current settings; False (and a message) when they are not usable."""
        if self._running:
            return False
        self._refresh_auto_name()
        form = self.form()
        try:
            self._check_numbers(form)
            check_folder(form)
            config = build_config(form)
            if latest_checkpoint(config.run_dir) is not None:
                raise ConfigError(
                    f"The run '{config.name}' already has checkpoints: press Resume to continue it, "
                    f"or give the new run another name."
                )
        except (ValueError, OSError) as error:
            self.show_message(str(error), error=True)
            return False
        self._clear_curves()
        self._launch(config, resume=False)
        return True

    def resume(self) -> bool:
        """Continue the named run from its latest checkpoint (up to Iterations); False with a message
        when there is nothing to continue."""
        if self._running:
            return False
        form = self.form()
        try:
            config = resume_config(form)
        except (ValueError, OSError) as error:
            self.show_message(str(error), error=True)
            return False
        self._launch(config, resume=True)
        return True

    def stop(self) -> None:
        """Ask the run to stop after its current step (it writes a checkpoint); a run still waiting
        for the device is dropped."""
        if not self._running or self._stop is None:
            return
        self._stop.cancel()
        self.stop_button.setEnabled(False)
        if self._job_started:
            self.status.setText("Stopping: finishing the step and writing a checkpoint…")
        else:
            self.runner.cancel(TRAIN_KEY)

    def export(self, name: str, *, overwrite: bool = False) -> bool:
        """Export the named run's latest checkpoint as ``name`` into the library (off the main
        thread); ``model_exported`` follows. False (and a message) when there is nothing to export
        or the file exists and ``overwrite`` is False."""
        if self._running:
            self.show_message("Stop the run before exporting it.", error=True)
            return False
        run_dir = run_dir_of(self.form())
        if not self.form().name or latest_checkpoint(run_dir) is None:
            self.show_message(f"{run_dir}: no checkpoint to export yet.", error=True)
            return False
        target = export_path(self.library_dir, name)
        if target.exists() and not overwrite:
            self.show_message(f"{target} already exists: choose another name.", error=True)
            return False
        self.export_button.setEnabled(False)
        work = export_work(run_dir, name=name, library_dir=self.library_dir, overwrite=overwrite)
        self.runner.submit(EXPORT_KEY, work, lane=EXPORT_LANE)
        return True

    def export_interactively(self) -> None:
        """Ask for a name (and before replacing a file), then export."""
        form = self.form()
        checkpoint = latest_checkpoint(run_dir_of(form)) if form.name else None
        if checkpoint is None:
            self.show_message("This run has no checkpoint to export yet.", error=True)
            return
        default = f"{form.name}-{checkpoint_step(checkpoint)}"
        name, accepted = QInputDialog.getText(
            self, "Export model", "Name in your model library:", QLineEdit.EchoMode.Normal, default
        )
        name = name.strip()
        if not accepted or not name:
            return
        target = export_path(self.library_dir, name)
        overwrite = False
        if target.exists():
            answer = QMessageBox.question(
                self, "Export model", f"{target.name} is already in your library. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        self.export(name, overwrite=overwrite)

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` above the progress bar (errors in red); "" hides it."""
        self.message.setText(text)
        self.message.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.message.setVisible(bool(text))
        if text:
            self.message_shown.emit(text)

    def message_text(self) -> str:
        """The message shown ("" when none)."""
        return "" if self.message.isHidden() else self.message.text()

    def is_running(self) -> bool:
        return self._running

    def loss_points(self) -> list[tuple[int, float]]:
        return list(self._loss_points)

    def psnr_points(self) -> list[tuple[int, float]]:
        return list(self._psnr_points)

    # ------------------------------------------------------------------ running

    @staticmethod
    def _check_numbers(form: TrainingForm) -> None:
        if not math.isfinite(form.lr):
            raise ConfigError("Learning rate: enter a number such as 2e-4.")

    def _launch(self, config: TrainConfig, *, resume: bool) -> None:
        self.save_settings()
        self.show_message("")
        self._stop = CancelToken()
        self._job_started = False
        self.validation_strip.show_message("The validation crops appear at the first validation.")
        self.validation_label.setText("")
        self._set_running(True)
        self.progress.setRange(0, config.train.steps)
        self.progress.setFormat("%v / %m steps")
        self.status.setText("Waiting for the device (another job is running)…")
        work = training_work(config, resume=resume, stop=self._stop)
        self.runner.submit(TRAIN_KEY, work, lane=self.train_lane)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.settings_area.widget().setEnabled(not running)
        self._update_buttons()

    def _update_buttons(self) -> None:
        form_name = self.name_combo.currentText().strip()
        has_checkpoint = (
            bool(form_name)
            and latest_checkpoint(Path(self.output_edit.text().strip() or ".").expanduser() / form_name)
            is not None
        )
        self.start_button.setEnabled(not self._running)
        self.stop_button.setEnabled(self._running and not (self._stop and self._stop.cancelled))
        self.resume_button.setEnabled(not self._running and has_checkpoint)
        self.export_button.setEnabled(
            not self._running and has_checkpoint and not self.runner.is_busy(EXPORT_KEY)
        )

    def _clear_curves(self) -> None:
        self._loss_points, self._psnr_points = [], []
        self._redraw_curves()

    def _redraw_curves(self) -> None:
        _show_points(self.loss_plot, self._loss_points)
        _show_points(self.psnr_plot, self._psnr_points)

    # ------------------------------------------------------------------ runner reports

    def _on_started(self, key: str) -> None:
        if key == TRAIN_KEY:
            self._job_started = True
            self.status.setText("Preparing: reading the images and building the model…")

    def _on_progressed(self, key: str, event: object) -> None:
        if key != TRAIN_KEY:
            return
        if isinstance(event, StepLog):
            self._on_step(event)
        elif isinstance(event, Validation):
            self._on_validation(event)
        elif isinstance(event, Started):
            self._on_run_started(event)
        elif isinstance(event, CheckpointSaved):
            self._update_buttons()
        elif isinstance(event, Notice):
            self.show_message(f"Step {event.step}: {event.message}")

    def _on_run_started(self, event: Started) -> None:
        self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.start_step)
        if event.start_step > 0:
            self._loss_points, self._psnr_points = read_history(event.run_dir, event.start_step)
            self._redraw_curves()
        verb = f"Resumed at step {event.start_step:,}" if event.start_step else "Training"
        self.status.setText(
            f"{verb}: {event.model_id} ({event.task}) on {event.device}, {event.precision}; "
            f"{event.train_images} training / {event.val_images} validation images"
        )
        if event.skipped:
            self.show_message(f"{len(event.skipped)} file(s) skipped, e.g. {event.skipped[0]}")
        self._fill_runs()

    def _on_step(self, event: StepLog) -> None:
        self.progress.setValue(event.step)
        if math.isfinite(event.loss):
            self._loss_points.append((event.step, event.loss))
            self._redraw_curves()
        left = (event.total_steps - event.step) / event.steps_per_second if event.steps_per_second > 0 else 0
        eta = f" · {format_eta(left)}" if event.step < event.total_steps else ""
        stopping = " · stopping…" if self._stop is not None and self._stop.cancelled else ""
        self.status.setText(
            f"Step {event.step:,} / {event.total_steps:,} · loss {event.loss:.4g} · lr {event.lr:.2e} · "
            f"{event.steps_per_second:.2f} it/s{eta}{stopping}"
        )

    def _on_validation(self, event: Validation) -> None:
        if math.isfinite(event.psnr):
            self._psnr_points.append((event.step, event.psnr))
            self._redraw_curves()
        self.validation_label.setText(
            f"Step {event.step:,}: PSNR {event.psnr:.2f} dB, SSIM {event.ssim:.4f} "
            f"on {event.images} crop{'s' if event.images != 1 else ''} (EMA weights)"
        )
        if event.previews:
            self.validation_strip.set_columns(event.previews)

    def _on_finished(self, key: str, result: object) -> None:
        if key == PREVIEW_KEY and isinstance(result, PreviewResult):
            self._show_preview(result)
        elif key == EXPORT_KEY:
            self._on_exported(Path(str(result)))
        elif key == TRAIN_KEY:
            self._set_running(False)
            if isinstance(result, TrainSummary):
                self._report_summary(result)
                self.run_finished.emit(result)
            self._fill_runs()

    def _report_summary(self, summary: TrainSummary) -> None:
        self.progress.setValue(summary.final_step)
        scores = f"; PSNR {summary.psnr:.2f} dB" if summary.psnr is not None else ""
        if summary.stopped:
            self.status.setText(
                f"Stopped at step {summary.final_step:,} / {summary.total_steps:,} (checkpoint written): "
                f"Resume continues it{scores}."
            )
        else:
            self.status.setText(
                f"Finished {summary.total_steps:,} steps ({summary.steps_run:,} in "
                f"{summary.elapsed_s:.0f} s){scores}. Export it to use it in the app."
            )

    def _on_exported(self, path: Path) -> None:
        self.show_message(f"Exported to {path}: it is in the model list now.")
        self.refresh_models()
        self._update_buttons()
        self.model_exported.emit(str(path))

    def _on_failed(self, key: str, message: str) -> None:
        if key == TRAIN_KEY:
            self._set_running(False)
            self.status.setText("Training failed.")
            self.show_message(f"Training failed: {message}", error=True)
            self._fill_runs()
        elif key == EXPORT_KEY:
            self._update_buttons()
            self.show_message(f"Export failed: {message}", error=True)
        elif key == PREVIEW_KEY:
            self.preview_strip.show_message(f"No preview: {message}")
            self.preview_updated.emit(0)

    def _on_cancelled(self, key: str) -> None:
        if key == TRAIN_KEY:
            self._set_running(False)
            started = self._job_started
            self.status.setText(
                "Training stopped; Resume continues it." if started else "Training cancelled."
            )
            self._fill_runs()
        elif key == EXPORT_KEY:
            self._update_buttons()
