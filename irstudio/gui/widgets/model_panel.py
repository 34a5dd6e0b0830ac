"""``ModelPanel``: pick a task, then a model for it; see its card; set device, precision and tiling.

The model list is grouped (trained, your library, classical, untrained presets; see
``models.choices``, which ``irstudio models`` lists too). A damaged weights manifest is logged and
shows no shipped models (``manifest_records``); the app goes on. The card shows architecture,
parameters, MACs, and training data and scores when known; untrained presets carry a clear warning.
The panel keeps no state beyond its widgets: it emits ``task_selected``, ``model_selected``,
``device_selected`` and the requests ``run_requested`` (whole image) and ``preview_requested`` (the
visible region); the window reads ``current_choice()`` and ``run_options()`` when it runs. Precision
"Auto" (the default) lets the run measure it (fp32 on the CPU); the others are the model's
``spec.precisions`` (``core.Precision``: name shown, description as tooltip). ``show_plan(text)``
shows how the last run actually ran (backend, precision, tile) under the run options.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from irstudio.core import DeviceInfo, Precision, list_devices
from irstudio.gui.restore_jobs import AUTO_PRECISION, RunOptions
from irstudio.gui.widgets.collapsible import Collapsible
from irstudio.models import (
    KIND_TITLES,
    TASKS,
    ModelChoice,
    TaskChoice,
    choices_for,
    library_models,
    manifest_records,
    model_card,
    task_choice,
)

__all__ = ["ModelPanel"]

HEADER_BRUSH = QBrush(QColor(58, 128, 196))  # section headers: readable on the dark and the light theme
_CHOICE_ROLE = Qt.ItemDataRole.UserRole
AUTO = "auto"


def _spin(minimum: int, maximum: int, step: int, tooltip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setSpecialValueText("Auto")  # shown at the minimum
    spin.setSuffix(" px")
    spin.setToolTip(tooltip)
    return spin


class ModelPanel(QWidget):
    """Task, model list, model card and run options, with Preview and Run buttons."""

    task_selected = Signal(str)
    model_selected = Signal(str)
    device_selected = Signal(str)
    run_requested = Signal()
    preview_requested = Signal()

    def __init__(
        self,
        *,
        library_dir: Path,
        manifest_path: Path,
        devices: list[DeviceInfo] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._library_dir, self._manifest_path = library_dir, manifest_path
        self._manifest = manifest_records(manifest_path)
        self._library = library_models(library_dir)
        self._build(devices if devices is not None else list_devices())
        self._fill_models()

    # ------------------------------------------------------------------ building

    def _build(self, devices: list[DeviceInfo]) -> None:
        self.task_combo = QComboBox()
        for task in TASKS:
            self.task_combo.addItem(task.label, task.key)
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        self.model_list = QListWidget()
        self.model_list.setMinimumHeight(96)
        # Its size hint would not count; it takes the height left over (and scrolls itself).
        self.model_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.model_list.currentItemChanged.connect(self._on_model_changed)
        self.model_list.itemDoubleClicked.connect(lambda _item: self.run_requested.emit())
        self.card = QLabel()
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card_section = Collapsible("Model card", self.card)  # folded: one line
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Task"))
        layout.addWidget(self.task_combo)
        layout.addWidget(QLabel("Model"))
        layout.addWidget(self.model_list, 1)
        layout.addWidget(self.card_section)
        layout.addWidget(self._options_box(devices))
        layout.addLayout(self._buttons())

    def _options_box(self, devices: list[DeviceInfo]) -> QGroupBox:
        self.device_combo = QComboBox()
        self.device_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device_combo.setMinimumContentsLength(14)  # long CPU names must not widen the panel
        self.device_combo.addItem(f"Auto ({devices[0].spec})", AUTO)
        for device in devices:
            self.device_combo.addItem(device.describe(), device.spec)
            self.device_combo.setItemData(
                self.device_combo.count() - 1, device.describe(), Qt.ItemDataRole.ToolTipRole
            )
        self.device_combo.currentIndexChanged.connect(
            lambda _i: self.device_selected.emit(self.device_combo.currentData())
        )
        self.precision_combo = QComboBox()
        self.precision_combo.setToolTip(
            "Auto: measured once per model and device (fp32 on the CPU); "
            "bf16/fp16 only where the model allows it"
        )
        self.tile_spin = _spin(0, 4096, 32, "Largest tile side in input pixels (Auto: by device)")
        self.context_spin = _spin(-1, 256, 8, "Real image pixels read around each tile (Auto: model's)")
        self.context_spin.setValue(-1)
        box = QGroupBox("Run options")
        form = QFormLayout(box)
        form.addRow("Device", self.device_combo)
        advanced = QWidget()
        advanced_form = QFormLayout(advanced)
        advanced_form.setContentsMargins(0, 0, 0, 0)
        advanced_form.addRow("Precision", self.precision_combo)
        advanced_form.addRow("Tile size", self.tile_spin)
        advanced_form.addRow("Overlap", self.context_spin)
        self.advanced_section = Collapsible("Precision and tiles", advanced)  # Auto suits nearly everyone
        self.precision_combo.currentIndexChanged.connect(self._summarise_options)
        self.tile_spin.valueChanged.connect(self._summarise_options)
        self.context_spin.valueChanged.connect(self._summarise_options)
        self._summarise_options()
        form.addRow(self.advanced_section)
        self.plan_label = QLabel()
        self.plan_label.setWordWrap(True)
        self.plan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plan_label.setToolTip("How the last run ran: device, backend, precision and tiles")
        self.plan_label.hide()
        form.addRow(self.plan_label)
        return box

    def _buttons(self) -> QHBoxLayout:
        self.preview_button = QPushButton("Preview region")
        self.preview_button.setToolTip("Restore only what is visible now (same pixels as a full run)")
        self.preview_button.clicked.connect(self.preview_requested)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Restore the whole image (Ctrl+R)")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run_requested)
        row = QHBoxLayout()
        row.addWidget(self.preview_button)
        row.addWidget(self.run_button)
        return row

    # ------------------------------------------------------------------ queries

    def task(self) -> TaskChoice:
        return task_choice(self.task_combo.currentData())

    def choices(self) -> list[ModelChoice]:
        """The models listed for the current task, in list order."""
        items = (self.model_list.item(i) for i in range(self.model_list.count()))
        return [c for item in items if (c := item.data(_CHOICE_ROLE)) is not None]

    def current_choice(self) -> ModelChoice | None:
        item = self.model_list.currentItem()
        return item.data(_CHOICE_ROLE) if item is not None else None

    def run_options(self) -> RunOptions:
        tile, context = self.tile_spin.value(), self.context_spin.value()
        return RunOptions(
            device=self.device_combo.currentData(),
            precision=self.precision_combo.currentData() or AUTO_PRECISION,
            tile=tile or None,
            context=None if context < 0 else context,
        )

    def _summarise_options(self, *_args: object) -> None:
        """The folded options' line: "auto", or what differs from it ("bf16, tile 128 px")."""
        options = self.run_options()
        parts = [options.precision] if options.precision != AUTO_PRECISION else []
        parts += [f"tile {options.tile} px"] if options.tile else []
        parts += [f"overlap {options.context} px"] if options.context is not None else []
        self.advanced_section.set_summary(", ".join(parts) or "auto")

    # ------------------------------------------------------------------ commands

    def set_task(self, key: str) -> None:
        """Select the task ``key`` (unknown keys select the first task)."""
        index = self.task_combo.findData(task_choice(key).key)
        self.task_combo.setCurrentIndex(index)

    def select_model(self, key: str) -> bool:
        """Select the listed model ``key``; False (selection unchanged) when it is not listed."""
        for i in range(self.model_list.count()):
            choice = self.model_list.item(i).data(_CHOICE_ROLE)
            if choice is not None and choice.key == key:
                self.model_list.setCurrentRow(i)
                return True
        return False

    def set_device(self, spec: str) -> bool:
        index = self.device_combo.findData(spec)
        if index >= 0:
            self.device_combo.setCurrentIndex(index)
        return index >= 0

    def set_tiling(self, tile: int | None, context: int | None) -> None:
        self.tile_spin.setValue(tile or 0)
        self.context_spin.setValue(-1 if context is None else context)

    def refresh_library(self) -> None:
        """Re-read the manifest and the library folder; keeps the selection when still listed."""
        current = self.current_choice()
        self._manifest = manifest_records(self._manifest_path)
        self._library = library_models(self._library_dir)
        self._fill_models(keep=current.key if current else None)

    def show_plan(self, text: str) -> None:
        """Show how the last run ran (e.g. its ``RestoreOutcome.details()``); empty hides the line."""
        self.plan_label.setText(f"Last run: {text}" if text else "")
        self.plan_label.setVisible(bool(text))

    def set_can_run(self, enabled: bool) -> None:
        self.run_button.setEnabled(enabled)
        self.preview_button.setEnabled(enabled)

    # ------------------------------------------------------------------ reactions

    def _on_task_changed(self, _index: int) -> None:
        self._fill_models()
        self.task_selected.emit(self.task().key)

    def _fill_models(self, keep: str | None = None) -> None:
        with QSignalBlocker(self.model_list):
            self.model_list.clear()
            kind = None
            for choice in choices_for(self.task(), manifest=self._manifest, library=self._library):
                if choice.kind != kind:
                    kind = choice.kind
                    self._add_header(KIND_TITLES[kind])
                item = QListWidgetItem(choice.label)
                item.setData(_CHOICE_ROLE, choice)
                item.setToolTip(choice.spec.description or choice.label)
                self.model_list.addItem(item)
        if not (keep and self.select_model(keep)):
            self._select_first()
        self._on_model_changed(self.model_list.currentItem(), None)

    def _add_header(self, title: str) -> None:
        header = QListWidgetItem(title)
        header.setFlags(Qt.ItemFlag.NoItemFlags)
        header.setForeground(HEADER_BRUSH)  # not the disabled grey, which vanishes on the light theme
        font = header.font()
        font.setBold(True)
        header.setFont(font)
        self.model_list.addItem(header)

    def _select_first(self) -> None:
        for i in range(self.model_list.count()):
            if self.model_list.item(i).data(_CHOICE_ROLE) is not None:
                with QSignalBlocker(self.model_list):
                    self.model_list.setCurrentRow(i)
                return

    def _on_model_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        choice = current.data(_CHOICE_ROLE) if current is not None else None
        self.card.setText(_card_html(choice) if choice is not None else "No model for this task yet.")
        self.card_section.set_summary(_card_summary(choice) if choice is not None else "none")
        self._fill_precisions(choice)
        if choice is not None:
            self.model_selected.emit(choice.key)

    def _fill_precisions(self, choice: ModelChoice | None) -> None:
        previous = self.precision_combo.currentData()
        self.precision_combo.clear()
        self.precision_combo.addItem("Auto", AUTO_PRECISION)
        allowed = choice.spec.precisions if choice is not None else (Precision.FP32.value,)
        for name in allowed:
            precision = Precision(name)
            self.precision_combo.addItem(precision.label, precision.value)
            self.precision_combo.setItemData(
                self.precision_combo.count() - 1, precision.description, Qt.ItemDataRole.ToolTipRole
            )
        self.precision_combo.setCurrentIndex(max(0, self.precision_combo.findData(previous)))


def _card_summary(choice: ModelChoice) -> str:
    """The folded card's line: parameters and whether the weights are trained."""
    state = "untrained" if choice.untrained else "trained" if choice.spec.learned else "classical"
    params = f"{choice.spec.params / 1000:.0f} k parameters · " if choice.spec.params else ""
    return f"{params}{state}"


def _card_html(choice: ModelChoice) -> str:
    rows = model_card(choice)
    cells = []
    for label, value in rows:
        text = html.escape(value).replace("\n", "<br>")
        if (label == "Status" and choice.untrained) or label == "Caution":
            text = f'<b style="color:#e8a33d">⚠ {text}</b>'
        cells.append(f"<tr><td><i>{html.escape(label)}</i>&nbsp;</td><td>{text}</td></tr>")
    return f"<b>{html.escape(choice.label)}</b><table>{''.join(cells)}</table>"
