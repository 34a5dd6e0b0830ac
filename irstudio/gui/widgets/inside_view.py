"""The "Inside" dock: attention, feature-energy, spectrum and error maps of the current model (GUI only).

``InsideView(QWidget)`` takes plain data and asks for work through a signal; it never computes on the
main thread. Wiring (the main window does it):

- inputs: ``set_model(spec_or_id, weights=None)``, ``set_image(rgb)``, ``set_output(rgb)`` (the current
  model's whole result, or None), ``set_reference(rgb)``, ``set_region(QRectF | Region | None)`` (the part
  of the original image on screen, original-image pixels), ``set_device(name)``, ``set_active(bool)``
  (a hidden dock does not ask for work), and the slot ``set_query(x, y)`` (a clicked original-image
  pixel, e.g. from ``CompareView.pixel_clicked``).
- ``compute_requested(object)`` carries an ``irstudio.inference.maps.MapRequest``; run
  ``compute_maps(request, token)`` in the worker and hand the ``MapsResult`` to ``show_result``;
  progress text to ``show_progress``, failures to ``show_error``.

What it shows: kind (attention / feature energy / spectrum / error), layer and head selectors, one map
at a time in an ``ImageCanvas`` (colour map from ``irstudio.gui.qimage.colormap``; cells without a value
show the dimmed photo), its colour-bar legend, the query and the attention window outlined, optional
zoom to that window, a pyqtgraph chart (fusion / filter / gate / energy bars, radial spectra curves),
the numbers and notes of the result, and export of the shown map (with title and colour bar) as PNG.
Clicking a map drawn in image coordinates chooses a new query there.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from irstudio.core.image_io import write_image
from irstudio.core.tiling import Region
from irstudio.gui.qimage import colormap, colormap_lut
from irstudio.gui.widgets.image_canvas import ImageCanvas
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
from irstudio.inference.maps.render import render_map
from irstudio.models.catalog import resolve_id
from irstudio.models.registry import UnknownModelError
from irstudio.models.spec import ModelSpec

__all__ = ["ColorBar", "InsideView"]

KIND_LABELS = {
    MapKind.ATTENTION: "Attention",
    MapKind.ENERGY: "Feature energy",
    MapKind.FFT: "Spectrum (FFT)",
    MapKind.ERROR: "Error map",
}
_REGION_DELAY_MS = 400  # a pan or zoom settles before spectra / energy are recomputed
_SERIES_COLOURS = ("#56b4e9", "#e69f00", "#009e73", "#cc79a7", "#f0e442")
_DIM = 0.45  # brightness of the photo under cells without a value


def _family(key: str) -> str:
    """``spatial/h2`` -> ``spatial``: the same map for another head."""
    head, _, rest = key.rpartition("/h")
    return head if rest.isdigit() else key


class ColorBar(QWidget):
    """A vertical legend: the colour map from ``vmin`` (bottom) to ``vmax`` (top), three values, units."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._map: MapImage | None = None
        self.setFixedWidth(96)

    def set_map(self, map_image: MapImage | None) -> None:
        self._map = map_image
        self.setToolTip(
            "" if map_image is None else f"{map_image.units}: {map_image.vmin:.4g} .. {map_image.vmax:.4g}"
        )
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """The three tick texts (bottom, middle, top)."""
        if self._map is None:
            return "", "", ""
        low, high = self._map.vmin, self._map.vmax
        return f"{low:.3g}", f"{(low + high) / 2:.3g}", f"{high:.3g}"

    def paintEvent(self, event) -> None:
        if self._map is None:
            return
        painter = QPainter(self)
        lut = np.ascontiguousarray(colormap_lut(self._map.cmap)[::-1][:, None, :])
        ramp = QImage(lut.data, 1, 256, 3, QImage.Format.Format_RGB888).copy()
        top, bottom = 12, self.height() - 30
        painter.drawImage(QRectF(6, top, 18, max(1, bottom - top)), ramp)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        for fraction, text in zip((0.0, 0.5, 1.0), self.labels(), strict=True):
            y = bottom - fraction * (bottom - top)
            painter.drawLine(24, round(y), 29, round(y))
            painter.drawText(QRectF(32, y - 8, 64, 16), Qt.AlignmentFlag.AlignVCenter, text)
        painter.drawText(
            QRectF(2, bottom + 4, 92, 26),
            Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft,
            self._map.units,
        )
        painter.end()


class InsideView(QWidget):
    """The maps dock; see the module docstring for the wiring contract."""

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
        self._box = (0, 0, 0, 0)  # (x0, y0, x1, y1) of the shown map, in its own array pixels
        self._scene_items: list[QGraphicsRectItem] = []
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
        self.kind_combo = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind.value)
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumContentsLength(14)
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.head_spin = QSpinBox()
        self.head_spin.setPrefix("head ")
        self.map_combo = QComboBox()
        self.map_combo.setMinimumContentsLength(18)
        self.map_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.zoom_check = QCheckBox("Zoom to window")
        self.zoom_check.setChecked(True)
        self.export_button = QPushButton("Export PNG…")
        self.update_button = QPushButton("Update")
        self.canvas = ImageCanvas()
        self.color_bar = ColorBar()
        self.chart_combo = QComboBox()
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setBackground("#202020")
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setMinimumHeight(self.info.fontMetrics().lineSpacing() * 5)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setWordWrap(True)

        controls = QHBoxLayout()
        for widget in (self.kind_combo, self.layer_combo, self.head_spin, self.update_button):
            controls.addWidget(widget)
        second = QHBoxLayout()
        second.addWidget(self.map_combo, 1)
        second.addWidget(self.zoom_check)
        second.addWidget(self.export_button)
        maps = QHBoxLayout()
        maps.addWidget(self.canvas, 1)
        maps.addWidget(self.color_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(second)
        layout.addLayout(maps, 3)
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
        self.chart_combo.currentIndexChanged.connect(self._chart_selected)
        self.export_button.clicked.connect(self._export_clicked)
        self.update_button.clicked.connect(self.request_maps)
        self.canvas.scene_clicked.connect(self._canvas_clicked)

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
        choices = layer_choices(model) if model is not None else ()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for choice in choices:
            self.layer_combo.addItem(choice.label, choice)
        self.layer_combo.blockSignals(False)
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
            region = None if region.isEmpty() else _region_of(region)
        if region == self._region:
            return
        self._region = region
        if self.kind() in (MapKind.FFT, MapKind.ERROR, MapKind.ENERGY) and self._result is not None:
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
        return MapKind(self.kind_combo.currentData())

    def layer(self) -> LayerChoice | None:
        return self.layer_combo.currentData()

    def head(self) -> int:
        return self.head_spin.value()

    def query(self) -> tuple[int, int] | None:
        return self._query

    def result(self) -> MapsResult | None:
        return self._result

    def current_map(self) -> MapImage | None:
        """The map on screen (None when none is shown)."""
        return self._shown

    def set_kind(self, kind: MapKind | str) -> None:
        index = self.kind_combo.findData(MapKind(kind).value)
        if index >= 0:
            self.kind_combo.setCurrentIndex(index)

    def set_layer(self, name: str) -> None:
        for index in range(self.layer_combo.count()):
            if self.layer_combo.itemData(index).name == name:
                self.layer_combo.setCurrentIndex(index)
                return
        raise ValueError(f"no layer {name!r}")

    def select_map(self, key: str) -> None:
        """Show the result's map ``key`` (e.g. ``"channel"``); ValueError when it is not listed."""
        index = self.map_combo.findData(key)
        if index < 0:
            raise ValueError(f"no map {key!r} for the current head")
        self.map_combo.setCurrentIndex(index)

    def _refresh_controls(self) -> None:
        spec = self._spec
        model = self.kind_combo.model()
        enabled = {
            MapKind.ATTENTION: spec is not None and has_attention_maps(spec),
            MapKind.ENERGY: spec is not None and spec.learned,
            MapKind.FFT: spec is not None,
            MapKind.ERROR: spec is not None,
        }
        for row in range(self.kind_combo.count()):
            model.item(row).setEnabled(enabled[MapKind(self.kind_combo.itemData(row))])
        if not enabled[self.kind()] and spec is not None:
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(MapKind.FFT.value))
        attention = self.kind() is MapKind.ATTENTION
        self.layer_combo.setEnabled(attention and self.layer_combo.count() > 0)
        self.head_spin.setEnabled(attention and self.head_spin.maximum() > 0)

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
        if self._active and not self._missing():
            self.request_maps()
        else:
            self.status.setText(self._missing())

    def _layer_changed(self, _index: int, *, request: bool = True) -> None:
        choice = self.layer()
        self.head_spin.blockSignals(True)
        self.head_spin.setMaximum(max(0, (choice.heads if choice else 1) - 1))
        self.head_spin.blockSignals(False)
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
        if result.heads - 1 != self.head_spin.maximum():
            self.head_spin.blockSignals(True)
            self.head_spin.setMaximum(result.heads - 1)
            self.head_spin.blockSignals(False)
        self._fill_map_combo()
        self._fill_charts(result.charts)
        crop = result.crop
        self.status.setText(
            f"{result.model_id}: {KIND_LABELS[result.kind].lower()} of a {crop.width}x{crop.height} crop "
            f"at ({crop.x0}, {crop.y0})"
        )

    def _fill_map_combo(self) -> None:
        assert self._result is not None
        previous = _family(self._shown.key) if self._shown is not None else None
        maps = self._result.maps_for_head(self.head())
        self.map_combo.blockSignals(True)
        self.map_combo.clear()
        for map_image in maps:
            self.map_combo.addItem(map_image.title, map_image.key)
            self.map_combo.setItemData(
                self.map_combo.count() - 1, map_image.note, Qt.ItemDataRole.ToolTipRole
            )
        families = [_family(m.key) for m in maps]
        self.map_combo.setCurrentIndex(families.index(previous) if previous in families else 0)
        self.map_combo.blockSignals(False)
        self._map_selected(self.map_combo.currentIndex())

    def _map_selected(self, _index: int) -> None:
        key = self.map_combo.currentData()
        self._shown = None if key is None or self._result is None else self._result.map(key)
        self._redraw()

    def _clear_display(self, message: str) -> None:
        self._shown = None
        self.map_combo.clear()
        self.chart_combo.clear()
        self.plot.clear()
        self.canvas.set_image(None)
        self._remove_scene_items()
        self.color_bar.set_map(None)
        self.info.clear()
        self.status.setText(message)

    # ------------------------------------------------------------------ drawing the map

    def _display_box(self, map_image: MapImage) -> tuple[int, int, int, int]:
        height, width = map_image.values.shape
        if map_image.focus is None or not self.zoom_check.isChecked():
            return 0, 0, width, height
        x0, y0, x1, y1 = map_image.focus
        margin = max(x1 - x0, y1 - y0) // 2
        return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)

    def _composed(self, map_image: MapImage) -> np.ndarray:
        """uint8 RGB of the map; cells without a value show the dimmed photo (image grids) or grey."""
        colours = colormap(map_image.values, map_image.cmap, map_image.vmin, map_image.vmax)
        missing = ~np.isfinite(map_image.values)
        if not missing.any():
            return colours
        background = self._result.background if self._result is not None else None
        if map_image.grid == "image" and background is not None and background.shape[:2] == missing.shape:
            grey = np.clip(background, 0, 1) @ np.array([0.299, 0.587, 0.114]) * (_DIM * 255)
            colours[missing] = grey.astype(np.uint8)[missing][:, None]
        else:
            colours[missing] = 48
        return colours

    def _redraw(self, *_args) -> None:
        map_image = self._shown
        self._remove_scene_items()
        self.color_bar.set_map(map_image)
        if self._result is not None:
            self.info.setText(_describe(self._result, map_image))
        if map_image is None:
            self.canvas.set_image(None)
            return
        x0, y0, x1, y1 = self._box = self._display_box(map_image)
        picture = np.ascontiguousarray(self._composed(map_image)[y0:y1, x0:x1])
        self.canvas.set_image(picture, scale=self._scene_scale(map_image))
        self.canvas.zoom_fit()
        self.zoom_check.setEnabled(map_image.focus is not None)
        self._add_outlines(map_image)

    def _scene_scale(self, map_image: MapImage) -> tuple[float, float]:
        """Scene units per map pixel: feature maps are stretched over the crop, others are 1:1."""
        if map_image.grid != "feature" or self._result is None:
            return 1.0, 1.0
        height, width = map_image.values.shape
        return self._result.crop.width / width, self._result.crop.height / height

    def _add_outlines(self, map_image: MapImage) -> None:
        x0, y0 = self._box[:2]
        scene = self.canvas.scene()
        if map_image.focus is not None:
            fx0, fy0, fx1, fy1 = map_image.focus
            self._add_rect(scene, QRectF(fx0 - x0, fy0 - y0, fx1 - fx0, fy1 - fy0), QColor(255, 255, 255))
        if map_image.marker is not None:
            mx, my = map_image.marker
            self._add_rect(scene, QRectF(mx - x0, my - y0, 1, 1), QColor(0, 255, 255))

    def _add_rect(self, scene, rect: QRectF, colour: QColor) -> None:
        pen = QPen(colour, 2)
        pen.setCosmetic(True)
        item = scene.addRect(rect, pen)
        item.setZValue(10)
        self._scene_items.append(item)

    def _remove_scene_items(self) -> None:
        for item in self._scene_items:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._scene_items.clear()

    def _canvas_clicked(self, point: QPointF) -> None:
        """A click on a map in image coordinates (or a feature map) chooses the query there."""
        map_image, result = self._shown, self._result
        if map_image is None or result is None or map_image.grid not in ("image", "feature"):
            return
        sx, sy = self._scene_scale(map_image)
        x0, y0, x1, y1 = self._box
        col, row = math.floor(point.x() / sx), math.floor(point.y() / sy)
        if not (0 <= col < x1 - x0 and 0 <= row < y1 - y0):
            return
        crop_x = round((col + x0 + 0.5) * sx - 0.5)
        crop_y = round((row + y0 + 0.5) * sy - 0.5)
        self.set_query(result.crop.x0 + crop_x, result.crop.y0 + crop_y)

    # ------------------------------------------------------------------ charts

    def _fill_charts(self, charts: tuple[Chart, ...]) -> None:
        previous = self.chart_combo.currentData()
        self.chart_combo.blockSignals(True)
        self.chart_combo.clear()
        for chart in charts:
            self.chart_combo.addItem(chart.title, chart.key)
        keys = [chart.key for chart in charts]
        self.chart_combo.setCurrentIndex(keys.index(previous) if previous in keys else 0)
        self.chart_combo.blockSignals(False)
        self.chart_combo.setVisible(bool(charts))
        self.chart_combo.setEnabled(len(charts) > 1)
        self.plot.setVisible(bool(charts))
        self.layout().activate()  # the map gets the chart's room at once (and fits it)
        self._chart_selected(self.chart_combo.currentIndex())

    def current_chart(self) -> Chart | None:
        key = self.chart_combo.currentData()
        return None if key is None or self._result is None else self._result.chart(key)

    def _chart_selected(self, _index: int) -> None:
        self.plot.clear()
        chart = self.current_chart()
        if chart is None:
            return
        item = self.plot.getPlotItem()
        if item.legend is None:
            item.addLegend(offset=(-10, 10))
        item.legend.clear()
        self.plot.setLabel("bottom", chart.x_label)
        self.plot.setLabel("left", chart.y_label)
        if chart.style == "bars":
            _draw_bars(self.plot, chart)
        else:
            _draw_curves(self.plot, chart)
        self.plot.enableAutoRange()

    # ------------------------------------------------------------------ export

    def export_map(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the shown map (whole, with title and colour bar) as PNG; ``OutputExistsError`` if it exists
        and not ``overwrite``. Raises ValueError when no map is shown."""
        if self._shown is None or self._result is None:
            raise ValueError("no map to export")
        picture = render_map(self._shown, self._result.background)
        return write_image(Path(path), picture, overwrite=overwrite)

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


# ---------------------------------------------------------------------------------------------- helpers


def _region_of(rect: QRectF) -> Region:
    """Whole pixels covered by ``rect`` (original-image px)."""
    x0, y0 = max(0, math.floor(rect.left())), max(0, math.floor(rect.top()))
    x1, y1 = math.ceil(rect.right()), math.ceil(rect.bottom())
    return Region(y0, x0, max(y0 + 1, y1), max(x0 + 1, x1))


def _describe(result: MapsResult, shown: MapImage | None) -> str:
    """The result's numbers and notes, and the shown map's note, as a few lines of text."""
    lines = [f"{shown.title}: {shown.note}"] if shown is not None and shown.note else []
    if result.pixel is not None:
        lines.append(
            f"query ({result.pixel[0]}, {result.pixel[1]})" + (f", {result.layer}" if result.layer else "")
        )
    numbers = [f"{name}: {value:.4g}" for name, value in result.numbers.items()]
    if numbers:
        lines.append("; ".join(numbers))
    lines.extend(result.notes)
    return "\n".join(lines)


def _draw_bars(plot: pg.PlotWidget, chart: Chart) -> None:
    count, groups = len(chart.categories), len(chart.series)
    width = 0.8 / max(groups, 1)
    for index, series in enumerate(chart.series):
        x = np.arange(count) - 0.4 + width * (index + 0.5)
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        bars = pg.BarGraphItem(x=x, height=np.nan_to_num(series.values), width=width, brush=colour)
        plot.addItem(bars)
        if groups > 1:
            plot.getPlotItem().legend.addItem(bars, series.name)
    step = max(1, math.ceil(count / 16))
    plot.getAxis("bottom").setTicks([[(i, chart.categories[i]) for i in range(0, count, step)]])


def _draw_curves(plot: pg.PlotWidget, chart: Chart) -> None:
    plot.getAxis("bottom").setTicks(None)
    x = chart.x if chart.x is not None else np.arange(len(chart.series[0].values))
    for index, series in enumerate(chart.series):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        keep = np.isfinite(series.values)
        plot.plot(x[keep], series.values[keep], pen=pg.mkPen(colour, width=2), name=series.name)
    if chart.vline is not None:
        line = pg.InfiniteLine(
            pos=chart.vline, angle=90, pen=pg.mkPen("#bbbbbb", style=Qt.PenStyle.DashLine),
            label=f"cut-off {chart.vline:g}", labelOpts={"position": 0.9, "color": "#bbbbbb"},
        )  # fmt: skip
        plot.addItem(line)
