"""``CompareView``: the original and the restored results side by side, wiped, flickered, in a grid or
as a difference heat map, with every canvas of a mode locked to the same zoom and centre.

Contract (see also the GUI contract, issue 5)
    ``CompareMode(str, Enum)``: ``SINGLE`` ("single"), ``SIDE_BY_SIDE``, ``SPLIT``, ``FLICKER``, ``GRID``,
    ``DIFFERENCE``; the values are the lower-case names.
    ``CompareView(QWidget)``:
    ``set_original(image | None)``: the input, float32 HxWx3 in [0, 1] (uint8, grey also accepted).
    ``set_reference(image | None)``: the ground truth, optional. ``set_result(key, label, image)``:
    adds or replaces a result (a new key becomes the active result; replacing keeps its place in the
    order and the current view). ``remove_result(key)``, ``clear_results()``, ``result_keys()`` (in the
    order added), ``set_active(key)`` / ``active_key()``, ``set_mode(mode: CompareMode | str)`` /
    ``mode()``, ``zoom_fit()``, ``zoom_actual()`` (100 % of the display frame, see below),
    ``zoom_in()``, ``zoom_out()``, ``zoom_pixel_peep()`` (extension: 800 %), ``canvases() ->
    list[ImageCanvas]`` (the canvases of the current mode, in reading order). Arrays are kept by
    reference, not copied: do not write into them later.
    Signals: ``visible_region_changed(QRectF)`` (visible part, ORIGINAL-image pixels), ``pixel_clicked
    (int x, int y)`` (original-image pixels, from a click on any canvas), ``mode_changed(str)`` (the
    mode's value), ``active_changed(str)`` (extension: the active key, "" when none).
    Extensions: ``activate_index(i)`` (0-based, what keys 1-6 do), ``hold_original(bool)`` /
    ``is_holding_original()`` (what holding Space does), ``split_position()`` /
    ``set_split_position(fraction)``, ``zoom()`` / ``centre()`` / ``is_fit()`` (the shared view, display
    frame units), ``visible_region()``, ``difference_map() -> np.ndarray | None`` (the float32 HxW map
    shown in DIFFERENCE mode), ``difference_maximum() -> float | None``, ``shown_label()`` (what the
    single/flicker canvas shows), ``flicker_hint() -> str`` (the key strip under the flicker canvas).

Display frame (SR results)
    All images are drawn in one frame: the largest width and height among the original, the reference
    and the results (the SR output size). Each image is scaled into it with nearest-neighbour
    pixels (the original of a x4 result shows each pixel as a 4x4 block), so pixels line up in every
    mode and zoom 1.0 is one screen pixel per output pixel. Clicks and the visible region are mapped
    back to original-image pixels.

Modes
    SINGLE: the active result (the original when there is none). SIDE_BY_SIDE: original | active
    result. SPLIT: one canvas, original left of a draggable divider, active result right; the divider
    stays at its place on screen across zoom, pan and mode changes. FLICKER: one canvas; keys 1-6
    show result 1-6 instantly (images are converted once, when added), holding Space shows the
    original; a caption and the key strip below say what is shown. GRID: the original, the
    reference (if any) and the first 6 results, each canvas labelled. DIFFERENCE: heat map (inferno)
    of the per-pixel mean over RGB of |result - reference|, or |result - original| without a
    reference, from 0 (black) to the map's maximum (light yellow), with a colour bar that states the
    maximum. The image compared against is resized to the result size when they differ (bicubic: an
    SR result is compared with the bicubic upscale of its input). Holding Space shows the original
    in SINGLE, FLICKER and DIFFERENCE; keys 1-6 pick the active result in every mode.
    Keys reach the view when it or one of its canvases has focus (a click on a canvas gives it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QKeyEvent, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from irstudio.gui.qimage import colormap, colormap_lut
from irstudio.gui.widgets.image_canvas import CanvasImage, ImageCanvas, SplitCanvas

MAX_GRID_RESULTS = 6
DIFFERENCE_COLORMAP = "inferno"
_RESULT_KEYS = {getattr(Qt.Key, f"Key_{n}"): n - 1 for n in range(1, MAX_GRID_RESULTS + 1)}
_ORIGINAL_LABEL = "Original"
_REFERENCE_LABEL = "Reference"


class CompareMode(str, Enum):
    SINGLE = "single"
    SIDE_BY_SIDE = "side_by_side"
    SPLIT = "split"
    FLICKER = "flicker"
    GRID = "grid"
    DIFFERENCE = "difference"


@dataclass
class _Shown:
    """An image the view holds: its label, the array (float32 HxWx3 [0,1]) and its display copy."""

    label: str
    image: np.ndarray
    picture: CanvasImage

    @property
    def size(self) -> tuple[int, int]:
        return self.picture.width, self.picture.height


@dataclass
class _Difference:
    values: np.ndarray  # float32 HxW, mean over RGB of |result - target|
    maximum: float
    against: str
    picture: CanvasImage


class ColorBar(QWidget):
    """A horizontal legend: the colour map from 0 to ``maximum``, with the values and a title."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._maximum = 0.0
        self._title = ""
        self._lut = colormap_lut(DIFFERENCE_COLORMAP)
        self.setMinimumHeight(30)

    def set_range(self, maximum: float, title: str) -> None:
        self._maximum, self._title = maximum, title
        self.setToolTip(f"{title}: 0 (black) to {self.maximum_text()}")
        self.update()

    def maximum(self) -> float:
        return self._maximum

    def maximum_text(self) -> str:
        """The maximum as shown: on the [0, 1] scale and in 8-bit levels."""
        return f"max {self._maximum:.4f} ({self._maximum * 255:.1f}/255)"

    def title(self) -> str:
        return self._title

    def sizeHint(self) -> QSize:
        return QSize(400, 30)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(36, 36, 36))
        painter.setPen(QColor(230, 230, 230))
        metrics = QFontMetrics(painter.font())
        right_text = self.maximum_text()
        title_w = metrics.horizontalAdvance(self._title) + 12
        right_w = metrics.horizontalAdvance(right_text) + 12
        zero_w = metrics.horizontalAdvance("0") + 12
        height = self.height()
        painter.drawText(QRectF(6, 0, title_w, height), Qt.AlignmentFlag.AlignVCenter, self._title)
        bar_left = 6 + title_w + zero_w
        bar_right = self.width() - right_w - 6
        painter.drawText(
            QRectF(bar_left - zero_w, 0, zero_w - 4, height),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            "0",
        )
        if bar_right > bar_left:
            bar = QRectF(bar_left, 7, bar_right - bar_left, height - 14)
            gradient = QLinearGradient(bar.topLeft(), bar.topRight())
            for i in range(0, 256, 15):
                r, g, b = (int(v) for v in self._lut[i])
                gradient.setColorAt(i / 255.0, QColor(r, g, b))
            gradient.setColorAt(1.0, QColor(*(int(v) for v in self._lut[255])))
            painter.fillRect(bar, gradient)
        painter.drawText(
            QRectF(self.width() - right_w, 0, right_w - 6, height),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            right_text,
        )
        painter.end()


class CompareView(QWidget):
    """The comparison area; see the module docstring for the contract."""

    visible_region_changed = Signal(QRectF)
    pixel_clicked = Signal(int, int)
    mode_changed = Signal(str)
    active_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._original: _Shown | None = None
        self._reference: _Shown | None = None
        self._results: dict[str, _Shown] = {}
        self._active: str | None = None
        self._holding_original = False
        self._mode = CompareMode.SINGLE
        self._differences: dict[str, _Difference] = {}
        self._frame = (0, 0)
        self._zoom, self._centre, self._fit = 1.0, QPointF(), True
        self._syncing = 0
        self._last_region = QRectF()
        self._grid_count = -1
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build_pages()

    # ------------------------------------------------------------------ construction

    def _build_pages(self) -> None:
        self._single = self._new_canvas(ImageCanvas())
        self._left, self._right = self._new_canvas(ImageCanvas()), self._new_canvas(ImageCanvas())
        self._split = self._new_canvas(SplitCanvas())
        self._flicker = self._new_canvas(ImageCanvas())
        self._grid_cells = [self._new_canvas(ImageCanvas()) for _ in range(MAX_GRID_RESULTS + 2)]
        self._difference_canvas = self._new_canvas(ImageCanvas())
        self._flicker_hint = QLabel()
        self._flicker_hint.setTextFormat(Qt.TextFormat.RichText)
        self._flicker_hint.setContentsMargins(6, 3, 6, 3)
        self._colour_bar = ColorBar()

        side = QWidget()
        side_layout = QHBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(2)
        side_layout.addWidget(self._left)
        side_layout.addWidget(self._right)
        self._grid_page = QWidget()
        self._grid_layout = QGridLayout(self._grid_page)
        self._grid_layout.setContentsMargins(0, 0, 0, 0)
        self._grid_layout.setSpacing(2)

        self._pages = {
            CompareMode.SINGLE: self._single,
            CompareMode.SIDE_BY_SIDE: side,
            CompareMode.SPLIT: self._split,
            CompareMode.FLICKER: _stacked(self._flicker, self._flicker_hint),
            CompareMode.GRID: self._grid_page,
            CompareMode.DIFFERENCE: _stacked(self._difference_canvas, self._colour_bar),
        }
        self._stack = QStackedWidget()
        for page in self._pages.values():
            self._stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

    def _new_canvas(self, canvas: ImageCanvas) -> ImageCanvas:
        canvas.view_changed.connect(lambda _z, _c, source=canvas: self._on_canvas_view_changed(source))
        canvas.scene_clicked.connect(self._on_scene_clicked)
        return canvas

    # ------------------------------------------------------------------ images

    def set_original(self, image: np.ndarray | None) -> None:
        """The input photo (None clears it); a new size refits the view."""
        old = self._original.size if self._original else None
        self._original = None if image is None else _Shown(_ORIGINAL_LABEL, image, CanvasImage(image))
        self._differences.clear()
        if self._original is not None and self._original.size != old:
            self._fit = True
        self._images_changed()

    def set_reference(self, image: np.ndarray | None) -> None:
        """The ground truth (None: there is none); differences are then taken against it."""
        self._reference = None if image is None else _Shown(_REFERENCE_LABEL, image, CanvasImage(image))
        self._differences.clear()
        self._images_changed()

    def set_result(self, key: str, label: str, image: np.ndarray) -> None:
        """Add or replace result ``key``; a new key becomes the active result."""
        before = self._active
        is_new = key not in self._results
        self._results[key] = shown = _Shown(label, image, CanvasImage(image))
        self._differences.pop(key, None)
        if is_new or self._active is None:
            self._active = key
        self._images_changed()
        self._prepare_pixmap(shown)
        self._announce_active(before)

    def remove_result(self, key: str) -> None:
        if key not in self._results:
            return
        before = self._active
        index = list(self._results).index(key)
        del self._results[key]
        self._differences.pop(key, None)
        if self._active == key:
            remaining = list(self._results)
            self._active = remaining[min(index, len(remaining) - 1)] if remaining else None
        self._images_changed()
        self._announce_active(before)

    def clear_results(self) -> None:
        before = self._active
        self._results.clear()
        self._differences.clear()
        self._active = None
        self._images_changed()
        self._announce_active(before)

    def result_keys(self) -> list[str]:
        return list(self._results)

    def set_active(self, key: str) -> None:
        """Show result ``key`` in single, split, side-by-side, flicker and difference modes."""
        if key not in self._results:
            raise KeyError(f"no result {key!r}")
        if key != self._active:
            before, self._active = self._active, key
            self._refresh()
            self._announce_active(before)

    def active_key(self) -> str | None:
        return self._active

    def activate_index(self, index: int) -> None:
        """Make the ``index``-th result (0-based, in ``result_keys`` order) active; ignored if absent."""
        keys = self.result_keys()
        if 0 <= index < len(keys):
            self.set_active(keys[index])

    def hold_original(self, holding: bool) -> None:
        """While ``holding``, single, flicker and difference modes show the original."""
        if holding != self._holding_original:
            self._holding_original = holding
            self._refresh()

    def is_holding_original(self) -> bool:
        return self._holding_original

    def _announce_active(self, before: str | None) -> None:
        """Emit ``active_changed`` (after the canvases show the change) when the active key moved."""
        if self._active != before:
            self.active_changed.emit(self._active or "")

    def _images_changed(self) -> None:
        self._update_frame()
        self._refresh()

    # ------------------------------------------------------------------ modes

    def set_mode(self, mode: CompareMode | str) -> None:
        mode = CompareMode(mode)
        if mode == self._mode:
            return
        self._mode = mode
        self._holding_original = False
        self._stack.setCurrentWidget(self._pages[mode])
        self._refresh()
        self.mode_changed.emit(mode.value)

    def mode(self) -> CompareMode:
        return self._mode

    def canvases(self) -> list[ImageCanvas]:
        """The canvases of the current mode, in reading order (for the grid: the cells in use)."""
        if self._mode == CompareMode.SINGLE:
            return [self._single]
        if self._mode == CompareMode.SIDE_BY_SIDE:
            return [self._left, self._right]
        if self._mode == CompareMode.SPLIT:
            return [self._split]
        if self._mode == CompareMode.FLICKER:
            return [self._flicker]
        if self._mode == CompareMode.GRID:
            return self._grid_cells[: len(self._grid_contents())]
        return [self._difference_canvas]

    def split_position(self) -> float:
        return self._split.split_position()

    def set_split_position(self, fraction: float) -> None:
        self._split.set_split_position(fraction)

    def shown_label(self) -> str:
        """The label of what the single or flicker canvas shows ("" when empty)."""
        shown = self._main_shown()
        return shown.label if shown else ""

    def flicker_hint(self) -> str:
        """The plain text of the key strip under the flicker canvas."""
        return self._flicker_hint.text().replace("<b>", "").replace("</b>", "")

    def difference_map(self) -> np.ndarray | None:
        """The float32 HxW map of the active result's difference (None without a result or original)."""
        difference = self._active_difference()
        return None if difference is None else difference.values

    def difference_maximum(self) -> float | None:
        difference = self._active_difference()
        return None if difference is None else difference.maximum

    def colour_bar(self) -> ColorBar:
        return self._colour_bar

    # ------------------------------------------------------------------ view

    def zoom(self) -> float:
        return self._zoom

    def centre(self) -> QPointF:
        return QPointF(self._centre)

    def is_fit(self) -> bool:
        return self._fit

    def zoom_fit(self) -> None:
        if lead := self._lead_canvas():
            lead.zoom_fit()

    def zoom_actual(self) -> None:
        if lead := self._lead_canvas():
            lead.zoom_actual()

    def zoom_pixel_peep(self) -> None:
        """Zoom to ``PIXEL_PEEP_ZOOM`` (800 %, nearest neighbour) around the current centre."""
        if lead := self._lead_canvas():
            lead.zoom_pixel_peep()

    def zoom_in(self) -> None:
        if lead := self._lead_canvas():
            lead.zoom_in()

    def zoom_out(self) -> None:
        if lead := self._lead_canvas():
            lead.zoom_out()

    def visible_region(self) -> QRectF:
        """The visible part of the original, in original-image pixels (empty when nothing is shown)."""
        canvases = [canvas for canvas in self.canvases() if canvas.has_image()]
        if not canvases:
            return QRectF()
        seen = canvases[0].visible_rect()
        sx, sy = self._to_original_factors()
        return QRectF(seen.x() * sx, seen.y() * sy, seen.width() * sx, seen.height() * sy)

    def _lead_canvas(self) -> ImageCanvas | None:
        """The first canvas of the mode that shows an image (zoom actions start there and sync)."""
        with_image = [canvas for canvas in self.canvases() if canvas.has_image()]
        return with_image[0] if with_image else None

    # ------------------------------------------------------------------ frame and mapping

    def _all_shown(self) -> list[_Shown]:
        return [s for s in (self._original, self._reference, *self._results.values()) if s is not None]

    def _update_frame(self) -> None:
        """The display frame is the largest image extent; rescale the shared view when it changes."""
        shown = self._all_shown()
        frame = (max(s.size[0] for s in shown), max(s.size[1] for s in shown)) if shown else (0, 0)
        old = self._frame
        self._frame = frame
        if frame == old or 0 in frame:
            return
        if 0 in old:
            self._fit = True
            return
        ratio_x, ratio_y = frame[0] / old[0], frame[1] / old[1]
        self._zoom /= ratio_x
        self._centre = QPointF(self._centre.x() * ratio_x, self._centre.y() * ratio_y)

    def _prepare_pixmap(self, shown: _Shown) -> None:
        """Make the pixmap for the current zoom now, so the first flicker to ``shown`` is instant too."""
        if 0 in self._frame:
            return
        device_scale = self._zoom * min(self._frame[0] / shown.size[0], self._frame[1] / shown.size[1])
        shown.picture.pixmap(shown.picture.level_for(device_scale))

    def _scale_of(self, shown: _Shown) -> tuple[float, float]:
        return self._frame[0] / shown.size[0], self._frame[1] / shown.size[1]

    def _base_size(self) -> tuple[int, int]:
        return self._original.size if self._original else self._frame

    def _to_original_factors(self) -> tuple[float, float]:
        base = self._base_size()
        if 0 in self._frame:
            return 1.0, 1.0
        return base[0] / self._frame[0], base[1] / self._frame[1]

    def _on_scene_clicked(self, scene_point: QPointF) -> None:
        sx, sy = self._to_original_factors()
        x, y = math.floor(scene_point.x() * sx), math.floor(scene_point.y() * sy)
        width, height = self._base_size()
        if 0 <= x < width and 0 <= y < height:
            self.pixel_clicked.emit(x, y)

    # ------------------------------------------------------------------ contents per mode

    def _main_shown(self) -> _Shown | None:
        """What single/flicker show: the original while held, else the active result, else the original."""
        if self._holding_original or self._active is None:
            return self._original
        return self._results[self._active]

    def _active_shown(self) -> _Shown | None:
        return None if self._active is None else self._results[self._active]

    def _grid_contents(self) -> list[_Shown]:
        first = [s for s in (self._original, self._reference) if s is not None]
        return first + list(self._results.values())[:MAX_GRID_RESULTS]

    def _result_caption(self, shown: _Shown | None) -> str:
        if shown is None:
            return ""
        if shown is self._original or shown is self._reference:
            return shown.label
        number = list(self._results.values()).index(shown) + 1
        return f"{number} · {shown.label}"

    def _refresh(self) -> None:
        """Put the current mode's images on its canvases and apply the shared view to them."""
        self._syncing += 1
        try:
            filler = {
                CompareMode.SINGLE: self._fill_single,
                CompareMode.SIDE_BY_SIDE: self._fill_side_by_side,
                CompareMode.SPLIT: self._fill_split,
                CompareMode.FLICKER: self._fill_flicker,
                CompareMode.GRID: self._fill_grid,
                CompareMode.DIFFERENCE: self._fill_difference,
            }[self._mode]
            filler()
            self._apply_shared_view()
        finally:
            self._syncing -= 1
        self._emit_region()

    def _show(self, canvas: ImageCanvas, shown: _Shown | None, caption: str) -> None:
        if shown is None:
            canvas.set_image(None)
        else:
            canvas.set_image(shown.picture, scale=self._scale_of(shown))
        canvas.set_caption(caption)

    def _fill_single(self) -> None:
        shown = self._main_shown()
        caption = self._result_caption(shown)
        if self._holding_original and shown is not None:
            caption = f"{_ORIGINAL_LABEL} (Space held)"
        self._show(self._single, shown, caption)

    def _fill_side_by_side(self) -> None:
        self._show(self._left, self._original, _ORIGINAL_LABEL if self._original else "")
        active = self._active_shown()
        self._show(self._right, active, self._result_caption(active) if active else "No result yet")

    def _fill_split(self) -> None:
        active = self._active_shown()
        base = self._original or active
        self._show(self._split, base, self._result_caption(base))
        overlay = active if self._original is not None else None
        if overlay is None:
            self._split.set_overlay(None)
            self._split.set_captions(self._result_caption(base), "")
        else:
            self._split.set_overlay(overlay.picture, scale=self._scale_of(overlay))
            self._split.set_captions(_ORIGINAL_LABEL, self._result_caption(overlay))

    def _fill_flicker(self) -> None:
        shown = self._main_shown()
        caption = self._result_caption(shown)
        if self._holding_original and shown is not None:
            caption = f"{_ORIGINAL_LABEL} (Space held)"
        self._show(self._flicker, shown, caption)
        parts = []
        for number, (key, result) in enumerate(list(self._results.items())[:MAX_GRID_RESULTS], start=1):
            text = f"[{number}] {result.label}"
            current = key == self._active and not self._holding_original
            parts.append(f"<b>{text}</b>" if current else text)
        space = "hold Space: original"
        parts.append(f"<b>{space}</b>" if self._holding_original else space)
        self._flicker_hint.setText(" · ".join(parts) if self._results else "No results yet · " + space)

    def _fill_grid(self) -> None:
        contents = self._grid_contents()
        self._layout_grid(len(contents))
        for index, canvas in enumerate(self._grid_cells):
            if index < len(contents):
                self._show(canvas, contents[index], self._result_caption(contents[index]))
            else:
                canvas.set_image(None)

    def _layout_grid(self, count: int) -> None:
        if count == self._grid_count:
            return
        self._grid_count = count
        for canvas in self._grid_cells:
            self._grid_layout.removeWidget(canvas)
            canvas.hide()
        rows = 1 if count <= 3 else 2
        columns = max(1, math.ceil(count / rows))
        for index in range(count):
            self._grid_layout.addWidget(self._grid_cells[index], index // columns, index % columns)
            self._grid_cells[index].show()
        for row in range(2):
            self._grid_layout.setRowStretch(row, 1 if row < rows else 0)
        for column in range(MAX_GRID_RESULTS + 2):
            self._grid_layout.setColumnStretch(column, 1 if column < columns else 0)

    def _fill_difference(self) -> None:
        if self._holding_original and self._original is not None:
            self._show(self._difference_canvas, self._original, f"{_ORIGINAL_LABEL} (Space held)")
            return
        difference = self._active_difference()
        active = self._active_shown()
        if difference is None or active is None:
            self._difference_canvas.set_image(None)
            self._difference_canvas.set_caption("No result to compare yet")
            self._colour_bar.set_range(0.0, "")
            return
        caption = f"|{active.label} − {difference.against}|"
        scale = (self._frame[0] / difference.picture.width, self._frame[1] / difference.picture.height)
        self._difference_canvas.set_image(difference.picture, scale=scale)
        self._difference_canvas.set_caption(caption)
        self._colour_bar.set_range(difference.maximum, "|Δ| per pixel, mean over RGB")

    def _active_difference(self) -> _Difference | None:
        active = self._active_shown()
        if active is None or self._active is None:
            return None
        if self._active not in self._differences:
            difference = self._compute_difference(active)
            if difference is None:
                return None
            self._differences[self._active] = difference
        return self._differences[self._active]

    def _compute_difference(self, result: _Shown) -> _Difference | None:
        target = self._reference or self._original
        if target is None:
            return None
        against = target.label.lower()
        if target.size != result.size:
            against = f"bicubic({against})" if target.size[0] < result.size[0] else f"resized({against})"
        values = difference_map(result.image, target.image)
        maximum = float(values.max()) if values.size else 0.0
        colours = colormap(values, DIFFERENCE_COLORMAP, vmin=0.0, vmax=maximum if maximum > 0 else 1.0)
        return _Difference(values, maximum, against, CanvasImage(colours))

    # ------------------------------------------------------------------ syncing

    def _apply_shared_view(self) -> None:
        canvases = [canvas for canvas in self.canvases() if canvas.has_image()]
        if not canvases:
            return
        lead = canvases[0]
        if self._fit:
            lead.zoom_fit()
            self._zoom, self._centre = lead.zoom(), lead.centre()
        else:
            lead.set_view(self._zoom, self._centre)
            self._zoom, self._centre = lead.zoom(), lead.centre()  # clamped to the image
        for canvas in canvases[1:]:
            canvas.set_view(self._zoom, self._centre, fit=self._fit)

    def _on_canvas_view_changed(self, source: ImageCanvas) -> None:
        if self._syncing or source not in self.canvases():
            return
        self._zoom, self._centre, self._fit = source.zoom(), source.centre(), source.is_fit()
        self._syncing += 1
        try:
            for canvas in self.canvases():
                if canvas is not source:
                    canvas.set_view(self._zoom, self._centre, fit=self._fit)
        finally:
            self._syncing -= 1
        self._emit_region()

    def _emit_region(self) -> None:
        region = self.visible_region()
        if region != self._last_region:
            self._last_region = region
            self.visible_region_changed.emit(QRectF(region))

    # ------------------------------------------------------------------ keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key in _RESULT_KEYS and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.activate_index(_RESULT_KEYS[key])
            event.accept()
        elif key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.hold_original(True)
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if Qt.Key(event.key()) == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.hold_original(False)
            event.accept()
        else:
            super().keyReleaseEvent(event)


def difference_map(result: np.ndarray, target: np.ndarray) -> np.ndarray:
    """float32 HxW: per-pixel mean over RGB of |result - target| (values in [0, 1] for [0, 1] inputs).

    ``result`` and ``target`` are float [0, 1] or uint8 (scaled by 1/255), HxWx3 or HxW (grey);
    ``target`` is resized to ``result``'s size first when they differ (bicubic up, area down).
    """
    result_rgb, target_rgb = _as_float_rgb(result), _as_float_rgb(target)
    height, width = result_rgb.shape[:2]
    if target_rgb.shape[:2] != (height, width):
        upscale = target_rgb.shape[1] < width
        interpolation = cv2.INTER_CUBIC if upscale else cv2.INTER_AREA
        target_rgb = np.clip(cv2.resize(target_rgb, (width, height), interpolation=interpolation), 0.0, 1.0)
    values = np.empty((height, width), dtype=np.float32)
    rows = max(1, (1 << 20) // max(1, width))
    for start in range(0, height, rows):
        stop = min(height, start + rows)
        block = np.abs(result_rgb[start:stop] - target_rgb[start:stop])
        values[start:stop] = block.mean(axis=2)
    return values


def _as_float_rgb(image: np.ndarray) -> np.ndarray:
    """``image`` as float32 HxWx3 in [0, 1] (uint8 scaled by 1/255, grey repeated, alpha dropped)."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif array.dtype != np.float32:
        array = array.astype(np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return array[:, :, :3]


def _stacked(top: QWidget, bottom: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(top, 1)
    layout.addWidget(bottom, 0)
    return page


__all__ = ["CompareMode", "CompareView", "difference_map"]
