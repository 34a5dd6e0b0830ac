"""Ground-truth mode panel: "Degrade this photo" controls and the PSNR/SSIM table per model.

The panel holds no images and runs nothing. The user picks one degradation (Gaussian noise, bicubic
downscale x2/x3/x4, JPEG, synthetic rain), its parameters and a seed; "Degrade this photo" emits
``degrade_requested(GroundTruthSpec)`` (``irstudio.inference.ground_truth``: a one-step
``data.degradations.Degradation`` plus the seed). The window makes the pair with
``make_ground_truth`` and fills the table with ``set_protocol(pair.header)`` and
``set_scores([(label, psnr, ssim), ...])`` (``score_result`` / ``score_input``). The best value of
each column is shown bold on a green tint (ties: every best cell).

Main thread only, like every widget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irstudio.data.pipeline import Degradation, Downscale, Jpeg, Noise, Rain, RealPhoto
from irstudio.inference import GroundTruthSpec
from irstudio.models import Task

__all__ = ["KINDS", "GroundTruthPanel"]

KINDS: tuple[tuple[str, str], ...] = (
    ("noise", "Gaussian noise (denoise)"),
    ("downscale", "Downscale (super-resolution)"),
    ("jpeg", "JPEG compression (artifacts)"),
    ("rain", "Synthetic rain (derain)"),
    ("real_photo", "Real-photo mix (blind)"),
)
"""(kind, label) in the order of the degradation combo box."""

SCALES = (2, 3, 4)
_KIND_FOR_TASK = {
    Task.DENOISE: "noise",
    Task.SR: "downscale",
    Task.JPEG: "jpeg",
    Task.DERAIN: "rain",
    Task.REALPHOTO: "real_photo",
}
REAL_SCALES = (1, 2, 4)
BEST_BRUSH = QBrush(QColor(46, 160, 67, 110))  # readable on the dark and the light theme
SCORE_COLUMNS = ("Model", "PSNR (dB)", "SSIM")


def _spin(
    low: float, high: float, value: float, step: float, decimals: int, suffix: str = ""
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    if suffix:
        box.setSuffix(suffix)
    return box


def format_psnr(value: float) -> str:
    """``32.41``; ``∞`` for identical images; ``–`` when not a number."""
    if math.isnan(value):
        return "–"
    return "∞" if math.isinf(value) else f"{value:.2f}"


def format_ssim(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"


class GroundTruthPanel(QWidget):
    """Choose a degradation, request it, and show PSNR/SSIM per model under the stated protocol."""

    degrade_requested = Signal(object)  # GroundTruthSpec

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_degrade_box()
        self._build_score_box()
        layout = QVBoxLayout(self)
        layout.addWidget(self.degrade_box)
        layout.addWidget(self.score_box, stretch=1)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.degrade_button.clicked.connect(self._emit_request)
        self._on_kind_changed(self.kind_combo.currentIndex())

    # ------------------------------------------------------------------------------------ building

    def _build_degrade_box(self) -> None:
        """One form: the kind, then every kind's parameter rows (only the chosen kind's are shown, so
        the labels stay aligned and no space is left for hidden ones), the seed, the button."""
        self.degrade_box = QGroupBox("Degrade this photo")
        self.kind_combo = QComboBox()
        for kind, label in KINDS:
            self.kind_combo.addItem(label, kind)
        self.form = QFormLayout()
        self.form.addRow("Degradation", self.kind_combo)
        self._rows: dict[str, list[QWidget]] = {
            "noise": self._noise_rows(),
            "downscale": self._downscale_rows(),
            "jpeg": self._jpeg_rows(),
            "rain": self._rain_rows(),
            "real_photo": self._real_photo_rows(),
        }
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.form.addRow("Seed", self.seed_spin)
        self.degrade_button = QPushButton("Degrade this photo")
        self.degrade_button.setToolTip(
            "Replace the input by a degraded copy of this photo and keep the photo as the reference"
        )
        layout = QVBoxLayout(self.degrade_box)
        layout.addLayout(self.form)
        layout.addWidget(self.degrade_button)

    def _add_rows(self, *rows: tuple[str, QWidget]) -> list[QWidget]:
        for label, field in rows:
            self.form.addRow(label, field)
        return [field for _, field in rows]

    def _noise_rows(self) -> list[QWidget]:
        self.sigma_spin = _spin(1.0, 100.0, 25.0, 5.0, 1)
        self.sigma_spin.setToolTip("Standard deviation on the 0-255 scale (benchmarks use 15, 25, 50)")
        self.gray_noise_check = QCheckBox("Same noise on R, G and B")
        self.gray_noise_check.setToolTip("Luminance noise: one noise plane added to the three channels")
        return self._add_rows(("Noise σ", self.sigma_spin), ("", self.gray_noise_check))

    def _downscale_rows(self) -> list[QWidget]:
        self.scale_combo = QComboBox()
        for scale in SCALES:
            self.scale_combo.addItem(f"×{scale}", scale)
        self.scale_combo.setCurrentIndex(SCALES.index(4))
        self.scale_combo.setToolTip("MATLAB bicubic downscale, as the super-resolution benchmarks")
        return self._add_rows(("Factor", self.scale_combo))

    def _jpeg_rows(self) -> list[QWidget]:
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(10)
        self.quality_spin.setToolTip("1 = worst; the benchmarks use 10, 20, 30 and 40")
        return self._add_rows(("Quality", self.quality_spin))

    def _rain_rows(self) -> list[QWidget]:
        self.density_spin = _spin(0.0005, 0.05, 0.003, 0.0005, 4)
        self.density_spin.setToolTip("Chance that a pixel starts a streak")
        self.length_spin = _spin(2.0, 100.0, 20.0, 1.0, 0, " px")
        self.angle_spin = _spin(-60.0, 60.0, 10.0, 5.0, 0, "°")
        self.angle_spin.setToolTip("Degrees from vertical; positive leans the lower end to the right")
        self.width_spin = _spin(0.5, 5.0, 1.5, 0.5, 1, " px")
        self.brightness_spin = _spin(0.1, 1.0, 0.7, 0.05, 2)
        self.brightness_spin.setToolTip("Peak light a streak adds (0-1)")
        return self._add_rows(
            ("Density", self.density_spin),
            ("Streak length", self.length_spin),
            ("Angle", self.angle_spin),
            ("Streak width", self.width_spin),
            ("Brightness", self.brightness_spin),
        )

    def _real_photo_rows(self) -> list[QWidget]:
        self.real_scale_combo = QComboBox()
        for scale in REAL_SCALES:
            self.real_scale_combo.addItem("same size" if scale == 1 else f"÷{scale}", scale)
        self.real_scale_combo.setToolTip(
            "Blur, resizing, sensor noise and JPEG, twice, drawn from the seed (Real-ESRGAN's mix); "
            "÷2 and ÷4 also make the photo smaller, for the real-photo ×2/×4 models"
        )
        return self._add_rows(("Output size", self.real_scale_combo))

    def _build_score_box(self) -> None:
        self.score_box = QGroupBox("Scores against the reference")
        self.protocol_label = QLabel("Degrade a photo, then restore it: scores appear here.")
        self.protocol_label.setWordWrap(True)
        self.protocol_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(SCORE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(SCORE_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self.score_box)
        layout.addWidget(self.protocol_label)
        layout.addWidget(self.table)

    # ------------------------------------------------------------------------------------ the spec

    def parameter_fields(self) -> list[QWidget]:
        """The parameter inputs of the chosen kind (the rows shown)."""
        return list(self._rows[self.kind()])

    def kind(self) -> str:
        """The selected degradation kind: "noise", "downscale", "jpeg", "rain" or "real_photo"."""
        return str(self.kind_combo.currentData())

    def spec(self) -> GroundTruthSpec:
        """The degradation described by the controls (fixed values, not ranges) and the seed."""
        kind, seed = self.kind(), self.seed_spin.value()
        if kind == "noise":
            gray = 1.0 if self.gray_noise_check.isChecked() else 0.0
            return GroundTruthSpec.of(Noise(sigma=self.sigma_spin.value(), gray_probability=gray), seed)
        if kind == "downscale":
            return GroundTruthSpec.of(Downscale(scale=int(self.scale_combo.currentData())), seed)
        if kind == "jpeg":
            return GroundTruthSpec.of(Jpeg(quality=self.quality_spin.value()), seed)
        if kind == "real_photo":
            scale = int(self.real_scale_combo.currentData())
            return GroundTruthSpec(Degradation.for_task(Task.REALPHOTO, scale), seed)
        rain = Rain(
            density=self.density_spin.value(),
            length=self.length_spin.value(),
            angle=self.angle_spin.value(),
            width=self.width_spin.value(),
            brightness=self.brightness_spin.value(),
        )
        return GroundTruthSpec.of(rain, seed)

    def set_spec(self, spec: GroundTruthSpec) -> None:
        """Show ``spec`` in the controls (ranges show their lower end); e.g. restored from settings."""
        step = spec.step
        self.seed_spin.setValue(spec.seed)
        if isinstance(step, Noise):
            self.sigma_spin.setValue(step.sigma[0])
            self.gray_noise_check.setChecked(step.gray_probability >= 1.0)
        elif isinstance(step, Downscale):
            self.scale_combo.setCurrentIndex(SCALES.index(step.scale))
        elif isinstance(step, Jpeg):
            self.quality_spin.setValue(step.quality[0])
        elif isinstance(step, RealPhoto):
            position = REAL_SCALES.index(step.scale) if step.scale in REAL_SCALES else 0
            self.real_scale_combo.setCurrentIndex(position)
        else:
            for box, bounds in (
                (self.density_spin, step.density),
                (self.length_spin, step.length),
                (self.angle_spin, step.angle),
                (self.width_spin, step.width),
                (self.brightness_spin, step.brightness),
            ):
                box.setValue(bounds[0])
        self.kind_combo.setCurrentIndex([k for k, _ in KINDS].index(step.kind))

    def follow_task(self, task: Task, scale: int) -> None:
        """Choose the degradation that makes inputs for ``task`` (and the SR ``scale``), so the
        panel never offers noise while the user restores JPEG artifacts; the other settings stay."""
        kind = _KIND_FOR_TASK[task]
        if kind == "downscale" and scale in SCALES:
            self.scale_combo.setCurrentIndex(SCALES.index(scale))
        if kind == "real_photo" and scale in REAL_SCALES:
            self.real_scale_combo.setCurrentIndex(REAL_SCALES.index(scale))
        self.kind_combo.setCurrentIndex([k for k, _ in KINDS].index(kind))

    def _on_kind_changed(self, _index: int) -> None:
        for kind, fields in self._rows.items():
            for field in fields:
                self.form.setRowVisible(field, kind == self.kind())
        random = self.kind() in ("noise", "rain", "real_photo")
        self.seed_spin.setEnabled(random)
        self.seed_spin.setToolTip(
            "Noise, rain and the real-photo mix are drawn from this seed: the same seed gives the same input."
            if random
            else "This degradation is deterministic: no seed needed."
        )

    def _emit_request(self) -> None:
        self.degrade_requested.emit(self.spec())

    # ------------------------------------------------------------------------------------ the table

    def set_protocol(self, text: str) -> None:
        """The line above the table that says what was degraded and how scores are measured."""
        self.protocol_label.setText(text)

    def protocol(self) -> str:
        return self.protocol_label.text()

    def clear_scores(self) -> None:
        self.table.setRowCount(0)

    def set_scores(self, rows: Sequence[tuple[str, float, float]], protocol: str | None = None) -> None:
        """Show one row per (label, PSNR dB, SSIM), in the given order; the best per column highlighted."""
        if protocol is not None:
            self.set_protocol(protocol)
        self.table.setRowCount(len(rows))
        for row, (label, psnr, ssim) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(label))
            self.table.setItem(row, 1, self._number_item(format_psnr(psnr)))
            self.table.setItem(row, 2, self._number_item(format_ssim(ssim)))
        for column, values in ((1, [r[1] for r in rows]), (2, [r[2] for r in rows])):
            for row in _best_rows(values):
                self._highlight(self.table.item(row, column))

    def best_cells(self) -> list[tuple[int, int]]:
        """(row, column) of the highlighted cells, in row order (for tests and accessibility)."""
        return [
            (row, column)
            for row in range(self.table.rowCount())
            for column in (1, 2)
            if self.table.item(row, column).font().bold()
        ]

    @staticmethod
    def _number_item(text: str) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    @staticmethod
    def _highlight(item: QTableWidgetItem) -> None:
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
        item.setBackground(BEST_BRUSH)
        item.setToolTip("best in this column")


def _best_rows(values: Sequence[float]) -> list[int]:
    """Rows holding the column's maximum (NaN ignored); empty when there is no number."""
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        return []
    best = max(numbers)
    return [row for row, value in enumerate(values) if value == best]
