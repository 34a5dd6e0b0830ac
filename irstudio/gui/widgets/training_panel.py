"""``TrainingPanel``: the Training panel's widgets (fine-tune a model on your own folder of photos).

Left, the settings: the data folder (clean photos degraded on the fly, or paired ``input/`` and
``target/`` subfolders), the task and its degradation ranges (noise σ, JPEG quality, rain streaks,
optional blur), the base model (shipped, your library, or an untrained preset for the task),
iterations, patch and batch size, learning rate, loss, validation and checkpoint intervals,
device, and where the run is written (``<runs folder>/<run name>``). Right, what happens: the
preview of generated training pairs, loss and validation-PSNR curves (pyqtgraph), the validation
strip (input / output / target of the latest validation), the message line, the status line,
progress, and Start / Stop / Resume / Export.

The panel runs nothing and reads no run folder, library or settings: it shows what it is given
(``set_form``, ``set_model_choices``, ``set_run_names``, ``set_run_name``, ``set_paired``,
``show_preview``, ``show_curves``, ``show_validation``, ``set_status``, ``set_progress``,
``show_message``, ``set_commands``, ``set_running``) and emits requests: ``folder_chosen(str)``,
``runs_folder_chosen(str)``, ``task_changed(str)``, ``model_changed()``, ``run_name_changed(str)``,
``preview_needed()``, ``shuffle_requested()``, ``start_requested()``, ``stop_requested()``,
``resume_requested()``, ``export_requested()``. ``TrainingPanelController``
(``gui/training_panel_controller.py``) answers them: it submits the work, follows the runner and
keeps the settings. The Browse… folder pickers are the panel's own. The form's own descriptions
(the degradation pipeline, the base model's size) are drawn here from ``training_form``.

Main thread only, like every widget.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLocale, QSignalBlocker, Qt, Signal
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
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from irstudio.core import DeviceInfo, list_devices
from irstudio.gui.qimage import to_qimage
from irstudio.gui.training_form import LOSSES, PreviewResult, TrainingForm, degradation_for
from irstudio.models import LIBRARY, SHIPPED, TASKS, ModelChoice, Task, task_choice
from irstudio.training import ConfigError

__all__ = ["EMPTY_CURVE_TEXT", "THUMB", "ImageStrip", "RangeEdit", "TrainingPanel"]

THUMB = 84
EMPTY_CURVE_TEXT = "Starts with the first steps"
NO_FOLDER_TEXT = "Choose a folder to see training pairs."
NO_VALIDATION_TEXT = "The validation crops appear at the first validation."
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
    """The Training panel's widgets (see the module docstring). ``devices`` (default: this
    computer's) fill the Device list. Emits requests; a ``TrainingPanelController`` answers them."""

    folder_chosen = Signal(str)  # the data folder was typed (editing finished) or browsed
    runs_folder_chosen = Signal(str)  # the runs folder was typed (editing finished) or browsed
    task_changed = Signal(str)  # a ``TASKS`` key, picked by the user; its rows are shown already
    model_changed = Signal()  # the user picked another base model
    run_name_changed = Signal(str)  # the run name's text (typed, picked or set)
    preview_needed = Signal()  # the data kind, the degradation or the patch changed
    shuffle_requested = Signal()  # "Other samples"
    start_requested = Signal()
    stop_requested = Signal()
    resume_requested = Signal()
    export_requested = Signal()
    message_shown = Signal(str)  # ``show_message`` showed this (non-empty) text

    def __init__(self, *, devices: list[DeviceInfo] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices: list[ModelChoice] = []
        self._build(devices if devices is not None else list_devices())
        self._connect()

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
        self.preview_strip = ImageStrip(("Input", "Target"), empty=NO_FOLDER_TEXT)
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
        self.validation_strip = ImageStrip(("Input", "Output", "Target"), empty=NO_VALIDATION_TEXT)
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
        self.folder_edit.editingFinished.connect(self._emit_folder)
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
        self.patch_spin.valueChanged.connect(self.preview_needed)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.output_edit.editingFinished.connect(self._emit_runs_folder)
        self.output_button.clicked.connect(self._browse_output)
        self.name_combo.currentTextChanged.connect(self.run_name_changed)
        self.shuffle_button.clicked.connect(self.shuffle_requested)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        self.export_button.clicked.connect(self.export_requested)

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
        """The current values (``lr`` is NaN when the learning rate is not a number)."""
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
        """Show ``form``'s values without emitting requests (a device that is not offered keeps the
        current one). The base model and the run name are not set here: ``set_model_choices`` and
        ``set_run_name`` (the controller knows which models and runs there are)."""
        blockers = [QSignalBlocker(w) for w in (self.kind_combo, self.task_combo)]
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
        for blocker in blockers:
            blocker.unblock()
        self._show_task_page()
        self._describe_degradation()

    def task(self) -> str:
        """The selected task's ``TASKS`` key."""
        return self.task_combo.currentData()

    def set_paired(self, paired: bool) -> None:
        """Select paired data (``input/`` and ``target/``) or clean photos; a change is handled as
        the user's (the degradation rows follow, ``preview_needed``)."""
        self.kind_combo.setCurrentIndex(1 if paired else 0)

    def current_model(self) -> ModelChoice | None:
        index = self.model_combo.currentData()
        return self._choices[index] if isinstance(index, int) and 0 <= index < len(self._choices) else None

    def model_choices(self) -> list[ModelChoice]:
        """The base models offered (given by ``set_model_choices``)."""
        return list(self._choices)

    def set_model_choices(self, choices: Sequence[ModelChoice], model_id: str, weights: str) -> None:
        """Offer ``choices`` as base models and select ``model_id`` (with library ``weights``), else
        the first; silent (no ``model_changed``)."""
        self._choices = list(choices)
        with QSignalBlocker(self.model_combo):
            self.model_combo.clear()
            for position, choice in enumerate(self._choices):  # where it starts: the line below
                self.model_combo.addItem(choice.label, position)
            if not self.select_model(model_id, weights) and self._choices:
                self.model_combo.setCurrentIndex(0)
        self._describe_model()

    def select_model(self, model_id: str, weights: str = "") -> bool:
        """Select the base model ``model_id`` (with library ``weights``, when given); False if not offered."""
        for position, choice in enumerate(self._choices):
            mine = str(choice.weights) if choice.kind == LIBRARY else ""
            if choice.spec.id == model_id and mine == weights:
                self.model_combo.setCurrentIndex(self.model_combo.findData(position))
                return True
        return False

    def runs_folder(self) -> str:
        """The runs folder as typed (stripped)."""
        return self.output_edit.text().strip()

    def run_name(self) -> str:
        """The run name as typed (stripped)."""
        return self.name_combo.currentText().strip()

    def set_run_name(self, name: str) -> None:
        """Show ``name`` as the run name (``run_name_changed`` when it differs)."""
        self.name_combo.setEditText(name)

    def set_run_names(self, names: Sequence[str]) -> None:
        """List ``names`` (existing runs) under the run name, which is kept; silent."""
        name = self.name_combo.currentText()
        with QSignalBlocker(self.name_combo):
            self.name_combo.clear()
            self.name_combo.addItems(list(names))
            self.name_combo.setEditText(name)

    # ------------------------------------------------------------------ reactions to the settings

    def _emit_folder(self) -> None:
        self.folder_chosen.emit(self.folder_edit.text().strip())

    def _emit_runs_folder(self) -> None:
        self.runs_folder_chosen.emit(self.runs_folder())

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self._emit_folder()

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for training runs", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)
            self._emit_runs_folder()

    def _on_kind_changed(self, _index: int) -> None:
        for widget in self.degradation_inputs:  # paired data brings its own inputs
            widget.setEnabled(not self.kind_combo.currentData())
        self._describe_degradation()
        self.preview_needed.emit()

    def _on_task_changed(self, _index: int) -> None:
        self._show_task_page()
        self._describe_degradation()
        self.task_changed.emit(self.task())

    def _on_model_changed(self, _index: int) -> None:
        self._describe_model()
        self.model_changed.emit()

    def _on_degradation_changed(self) -> None:
        self._describe_degradation()
        self.preview_needed.emit()

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

    # ------------------------------------------------------------------ what happens

    def show_no_folder(self) -> None:
        """No data folder yet: the preview strip and the data line say what to do."""
        self.preview_strip.show_message(NO_FOLDER_TEXT)
        _set_line(self.data_info, "Clean photos, or a folder with input/ and target/")

    def show_preview(self, result: PreviewResult) -> None:
        """Show ``result``'s pairs and data summary, or its message (in red on the data line)."""
        if result.pairs:
            self.preview_strip.set_columns(result.pairs)
            _set_line(self.data_info, result.summary)
        else:
            self.preview_strip.show_message(result.message)
            _set_line(self.data_info, result.message, error=True)

    def show_preview_message(self, text: str) -> None:
        """``text`` in the preview strip instead of pairs."""
        self.preview_strip.show_message(text)

    def show_curves(self, loss: list[tuple[int, float]], psnr: list[tuple[int, float]]) -> None:
        """Draw the loss and validation-PSNR curves, (step, value) points; none: a waiting text."""
        _show_points(self.loss_plot, loss)
        _show_points(self.psnr_plot, psnr)

    def reset_validation(self) -> None:
        """Empty the validation strip and line (a run begins)."""
        self.validation_strip.show_message(NO_VALIDATION_TEXT)
        self.validation_label.setText("")

    def show_validation(self, text: str, previews: Sequence[Sequence[np.ndarray]]) -> None:
        """``text`` over the validation strip; ``previews`` (input, output, target per column)
        replace its images when there are any."""
        self.validation_label.setText(text)
        if previews:
            self.validation_strip.set_columns(previews)

    def set_status(self, text: str) -> None:
        """The status line above the buttons."""
        self.status.setText(text)

    def set_progress_range(self, maximum: int, text_format: str | None = None) -> None:
        """Progress from 0 to ``maximum`` (steps), with ``text_format`` when given."""
        self.progress.setRange(0, maximum)
        if text_format is not None:
            self.progress.setFormat(text_format)

    def set_progress(self, value: int) -> None:
        self.progress.setValue(value)

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` above the progress bar (errors in red); "" hides it. ``message_shown``
        follows a text."""
        self.message.setText(text)
        self.message.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.message.setVisible(bool(text))
        if text:
            self.message_shown.emit(text)

    def message_text(self) -> str:
        """The message shown ("" when none)."""
        return "" if self.message.isHidden() else self.message.text()

    def set_commands(
        self,
        *,
        start: bool | None = None,
        stop: bool | None = None,
        resume: bool | None = None,
        export: bool | None = None,
    ) -> None:
        """Enable or disable Start, Stop, Resume and Export (None: leave that button as it is)."""
        for button, enabled in (
            (self.start_button, start),
            (self.stop_button, stop),
            (self.resume_button, resume),
            (self.export_button, export),
        ):
            if enabled is not None:
                button.setEnabled(enabled)

    def set_running(self, running: bool) -> None:
        """While a run is on, the settings column is read-only."""
        self.settings_area.widget().setEnabled(not running)
