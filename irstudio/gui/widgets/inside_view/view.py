"""``InsideView``: the "Inside" dock (the wiring contract is in the ``inside_view`` package docstring).

It holds the inputs (model, image, output, reference, region, query), decides when to ask for maps
(``compute_requested``) and shows results through its parts: ``MapControls`` (choices),
``MapPanel`` (the map and its legend), ``ChartPanel`` (charts), an info label and a status line.
Main thread only; it never computes maps itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QLabel, QVBoxLayout, QWidget

from irstudio.core import Region
from irstudio.gui.widgets.inside_view.charts import ChartPanel
from irstudio.gui.widgets.inside_view.controls import KIND_LABELS, MapControls
from irstudio.gui.widgets.inside_view.map_panel import MapPanel
from irstudio.gui.widgets.inside_view.map_picture import describe, family, region_of, write_map_png
from irstudio.inference.maps import (
    Chart,
    LayerChoice,
    MapImage,
    MapKind,
    MapRequest,
    MapsResult,
    has_attention_maps,
    layer_choices,
)
from irstudio.models import ModelSpec, UnknownModelError, resolve_id

__all__ = ["InsideView"]

_REGION_DELAY_MS = 400  # a pan or zoom settles before spectra / energy are recomputed
_REGION_KINDS = (MapKind.FFT, MapKind.ERROR, MapKind.ENERGY)  # maps that follow the visible region


class InsideView(QWidget):
    """The maps dock; see the package docstring for the wiring contract."""

    compute_requested = Signal(object)
    query_changed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._spec: ModelSpec | None = None
        self._weights: str | None = None
        self._device = "auto"
        self._image: np.ndarray | None = None
        self._output: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self._region: Region | None = None
        self._query: tuple[int, int] | None = None
        self._result: MapsResult | None = None
        self._shown: MapImage | None = None
        self._active = True
        self._region_timer = QTimer(self)
        self._region_timer.setSingleShot(True)
        self._region_timer.setInterval(_REGION_DELAY_MS)
        self._region_timer.timeout.connect(self._region_settled)
        self._build()
        self._connect()
        self._refresh_controls()

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.controls, self.map_panel, self.charts = MapControls(), MapPanel(), ChartPanel()
        c = self.controls  # its widgets are attributes of the view too (as before the split)
        self.kind_combo, self.layer_combo, self.head_spin = c.kind_combo, c.layer_combo, c.head_spin
        self.map_combo, self.zoom_check = c.map_combo, c.zoom_check
        self.export_button, self.update_button = c.export_button, c.update_button
        self.canvas, self.color_bar = self.map_panel.canvas, self.map_panel.color_bar
        self.chart_combo, self.plot = self.charts.chart_combo, self.charts.plot
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setMinimumHeight(self.info.fontMetrics().lineSpacing() * 5)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.map_panel, 3)
        layout.addWidget(self.chart_combo)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.info)
        layout.addWidget(self.status)

    def _connect(self) -> None:
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        self.head_spin.valueChanged.connect(self._head_changed)
        self.map_combo.currentIndexChanged.connect(self._map_selected)
        self.zoom_check.toggled.connect(self._redraw)
        self.export_button.clicked.connect(self._export_clicked)
        self.update_button.clicked.connect(self.request_maps)
        self.map_panel.pixel_chosen.connect(self.set_query)

    # ------------------------------------------------------------------ inputs

    def set_model(self, model: ModelSpec | str | None, weights: str | None = None) -> None:
        """The model whose insides are shown (a spec or a registry id; None or unknown: none)."""
        if isinstance(model, str):
            try:
                model = resolve_id(model)
            except UnknownModelError:
                model = None
        self._spec, self._weights = model, weights
        self._result = None
        self.controls.set_layers(layer_choices(model) if model is not None else ())
        self._layer_changed(self.layer_combo.currentIndex(), request=False)
        self._refresh_controls()
        self._clear_display(
            "Choose a query pixel: click the photo." if model is not None else "No model chosen."
        )

    def set_image(self, image: np.ndarray | None) -> None:
        """The original (input) image, float32 (H, W, 3) in [0, 1]; clears the maps and the query."""
        self._image = image
        self._output = None
        self._query = None
        self._result = None
        self._clear_display("Click the photo to choose a query pixel." if image is not None else "No image.")

    def set_output(self, output: np.ndarray | None) -> None:
        """The current model's whole output for the image ((H * scale, W * scale, 3)), or None."""
        self._output = output

    def set_reference(self, reference: np.ndarray | None) -> None:
        """Ground truth at output size, or None (the error map needs it)."""
        self._reference = reference
        self._refresh_controls()

    def set_device(self, device: str) -> None:
        self._device = device

    def set_active(self, active: bool) -> None:
        """Inactive (a hidden dock): queries are remembered but no work is requested."""
        self._active = active

    def set_region(self, region: QRectF | Region | None) -> None:
        """The visible part of the original image (original pixels); spectra and energy follow it."""
        if isinstance(region, QRectF):
            region = None if region.isEmpty() else region_of(region)
        if region == self._region:
            return
        self._region = region
        if self.kind() in _REGION_KINDS and self._result is not None:
            self._region_timer.start()

    def set_query(self, x: int, y: int) -> None:
        """Slot: the clicked original-image pixel becomes the query; maps are requested for it."""
        if self._image is not None:
            height, width = self._image.shape[:2]
            if not (0 <= x < width and 0 <= y < height):
                return
        self._query = (int(x), int(y))
        self.query_changed.emit(int(x), int(y))
        if self._active:
            self.request_maps()

    # ------------------------------------------------------------------ state

    def kind(self) -> MapKind:
        return self.controls.kind()

    def layer(self) -> LayerChoice | None:
        return self.controls.layer()

    def head(self) -> int:
        return self.controls.head()

    def query(self) -> tuple[int, int] | None:
        return self._query

    def result(self) -> MapsResult | None:
        return self._result

    def current_map(self) -> MapImage | None:
        """The map on screen (None when none is shown)."""
        return self._shown

    def current_chart(self) -> Chart | None:
        return self.charts.current_chart()

    def set_kind(self, kind: MapKind | str) -> None:
        self.controls.set_kind(kind)

    def set_layer(self, name: str) -> None:
        self.controls.set_layer(name)

    def select_map(self, key: str) -> None:
        """Show the result's map ``key`` (e.g. ``"channel"``); ValueError when it is not listed."""
        index = self.map_combo.findData(key)
        if index < 0:
            raise ValueError(f"no map {key!r} for the current head")
        self.map_combo.setCurrentIndex(index)

    def _refresh_controls(self) -> None:
        spec = self._spec
        enabled = {
            MapKind.ATTENTION: spec is not None and has_attention_maps(spec),
            MapKind.ENERGY: spec is not None and spec.learned,
            MapKind.FFT: spec is not None,
            MapKind.ERROR: spec is not None,
        }
        if not self.controls.enable_kinds(enabled) and spec is not None:
            self.set_kind(MapKind.FFT)
        self.controls.enable_attention_choices()

    # ------------------------------------------------------------------ requests

    def request_maps(self) -> MapRequest | None:
        """Emit ``compute_requested`` for the current choices; None (and a hint) when something is missing."""
        problem = self._missing()
        if problem:
            self.status.setText(problem)
            return None
        assert self._spec is not None and self._image is not None
        layer = self.layer()
        request = MapRequest(
            kind=self.kind(),
            model_id=self._spec.id,
            image=self._image,
            region=self._region,
            pixel=self._query,
            layer=layer.name if layer is not None and self.kind() is MapKind.ATTENTION else None,
            head=self.head(),
            output=self._output,
            reference=self._reference,
            weights=self._weights,
            device=self._device,
        )
        self.status.setText("Computing…")
        self.compute_requested.emit(request)
        return request

    def _missing(self) -> str:
        if self._spec is None:
            return "Choose a model to look inside."
        if self._image is None:
            return "Open an image first."
        if self.kind() is MapKind.ATTENTION and self._query is None:
            return "Click the photo to choose a query pixel."
        if self.kind() is MapKind.ERROR and self._reference is None:
            return "The error map needs a reference (ground truth): add one in the ground-truth panel."
        return ""

    def _kind_changed(self, _index: int) -> None:
        self._refresh_controls()
        if self._result is not None and self._result.kind is not self.kind():
            self._result = None  # another kind's maps must not stay on screen under this one's name
            self._clear_display(self._missing())
        if self._active and not self._missing():
            self.request_maps()
        else:
            self.status.setText(self._missing())

    def _layer_changed(self, _index: int, *, request: bool = True) -> None:
        choice = self.layer()
        self.controls.set_head_count(choice.heads if choice else 1)
        self._refresh_controls()
        if request and self._active and self.kind() is MapKind.ATTENTION and not self._missing():
            self.request_maps()

    def _head_changed(self, _value: int) -> None:
        if self._result is not None:
            self._fill_map_combo()

    def _region_settled(self) -> None:
        if self._active and not self._missing():
            self.request_maps()

    # ------------------------------------------------------------------ results

    def show_progress(self, text: str) -> None:
        self.status.setText(str(text))

    def show_error(self, message: str) -> None:
        self.status.setText(f"Could not compute the maps: {message}")

    def show_result(self, result: MapsResult) -> None:
        """Display ``result`` (from the worker); keeps the chosen map family and chart when present."""
        self._result = result
        self.controls.set_head_count(result.heads)
        self._fill_map_combo()
        self.charts.show_charts(result.charts)
        self.layout().activate()  # the map gets the chart's room at once (and fits it)
        crop = result.crop
        self.status.setText(
            f"{result.model_id}: {KIND_LABELS[result.kind].lower()} of a {crop.width}x{crop.height} crop "
            f"at ({crop.x0}, {crop.y0})"
        )

    def _fill_map_combo(self) -> None:
        assert self._result is not None
        previous = family(self._shown.key) if self._shown is not None else None
        self.controls.set_maps(self._result.maps_for_head(self.head()), previous)
        self._map_selected(self.map_combo.currentIndex())

    def _map_selected(self, _index: int) -> None:
        key = self.map_combo.currentData()
        self._shown = None if key is None or self._result is None else self._result.map(key)
        self._redraw()

    def _clear_display(self, message: str) -> None:
        self._shown = None
        self.map_combo.clear()
        self.charts.clear()
        self.map_panel.clear()
        self.info.clear()
        self.status.setText(message)

    def _redraw(self, *_args: object) -> None:
        map_image = self._shown
        if self._result is not None:
            self.info.setText(describe(self._result, map_image))
        self.map_panel.show_map(map_image, self._result, zoom_to_window=self.zoom_check.isChecked())
        if map_image is not None:
            self.zoom_check.setEnabled(map_image.focus is not None)

    # ------------------------------------------------------------------ export

    def export_map(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the shown map (whole, with title and colour bar) as PNG; ``OutputExistsError`` if it exists
        and not ``overwrite``. Raises ValueError when no map is shown."""
        if self._shown is None or self._result is None:
            raise ValueError("no map to export")
        return write_map_png(self._shown, self._result, Path(path), overwrite=overwrite)

    def _export_clicked(self) -> None:
        if self._shown is None or self._result is None:
            self.status.setText("Nothing to export yet.")
            return
        suggested = f"{self._result.model_id}_{self._shown.key.replace('/', '-')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export map", suggested, "PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:  # the dialog asked before replacing an existing file
            written = self.export_map(path, overwrite=True)
        except (OSError, ValueError) as error:
            self.status.setText(f"Export failed: {error}")
            return
        self.status.setText(f"Saved {written}")
