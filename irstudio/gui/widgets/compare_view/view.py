"""``CompareView``: the comparison area (the contract is in the ``compare_view`` package docstring).

It binds three parts: ``CompareContents`` (what is held and what each mode shows), ``ComparePages``
(the canvases of every mode) and ``ViewSync`` (one zoom and centre for the canvases of a mode), and
handles the keys 1-6 and Space. Main thread only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import methodcaller

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from irstudio.gui.widgets.compare_view.color_bar import ColorBar
from irstudio.gui.widgets.compare_view.contents import (
    MAX_GRID_RESULTS,
    ORIGINAL_LABEL,
    CompareContents,
    CompareMode,
    Shown,
)
from irstudio.gui.widgets.compare_view.pages import ComparePages
from irstudio.gui.widgets.compare_view.sync import ViewSync
from irstudio.gui.widgets.image_canvas import CanvasImage, ImageCanvas, ViewStateReadout

__all__ = ["CompareView"]

_RESULT_KEYS = {getattr(Qt.Key, f"Key_{n}"): n - 1 for n in range(1, MAX_GRID_RESULTS + 1)}


class CompareView(ViewStateReadout, QWidget):
    """The comparison area; see the package docstring for the contract."""

    visible_region_changed = Signal(QRectF)
    pixel_clicked = Signal(int, int)
    mode_changed = Signal(str)
    active_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._contents = CompareContents()
        self._mode = CompareMode.SINGLE
        self._sync = ViewSync()
        self._view = self._sync.view  # what zoom(), centre() and is_fit() read
        self._last_region = QRectF()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pages = ComparePages()
        for canvas in self._pages.all_canvases():
            canvas.view_changed.connect(lambda _z, _c, source=canvas: self._on_canvas_view_changed(source))
            canvas.scene_clicked.connect(self._on_scene_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._pages)

    # ------------------------------------------------------------------ images

    def set_original(
        self, image: np.ndarray | None, *, picture: CanvasImage | None = None, label: str = ORIGINAL_LABEL
    ) -> None:
        """The input photo (None clears it); a new size refits the view. ``picture``: the display copy
        of ``image`` made in advance (e.g. by the worker that read the file), so nothing is converted
        here; ValueError when its size is not the image's. ``label``: its caption ("Original", or
        what a degraded input is)."""
        if self._contents.set_original(image, picture, label):
            self._sync.refit()
        self._images_changed()

    def set_reference(self, image: np.ndarray | None) -> None:
        """The ground truth (None: there is none); differences are then taken against it."""
        self._contents.set_reference(image)
        self._images_changed()

    def set_result(self, key: str, label: str, image: np.ndarray) -> None:
        """Add or replace result ``key``; a new key becomes the active result."""
        before = self._contents.active
        shown = self._contents.set_result(key, label, image)
        self._images_changed()
        self._prepare_pixmap(shown)
        self._announce_active(before)

    def remove_result(self, key: str) -> None:
        if key not in self._contents.results:
            return
        before = self._contents.active
        self._contents.remove_result(key)
        self._images_changed()
        self._announce_active(before)

    def clear_results(self) -> None:
        before = self._contents.active
        self._contents.clear_results()
        self._images_changed()
        self._announce_active(before)

    def result_keys(self) -> list[str]:
        return list(self._contents.results)

    def set_active(self, key: str) -> None:
        """Show result ``key`` in single, split, side-by-side, flicker and difference modes."""
        if key not in self._contents.results:
            raise KeyError(f"no result {key!r}")
        before = self._contents.active
        if key != before:
            self._contents.active = key
            self._refresh()
            self._announce_active(before)

    def active_key(self) -> str | None:
        return self._contents.active

    def activate_index(self, index: int) -> None:
        """Make the ``index``-th result (0-based, in ``result_keys`` order) active; ignored if absent."""
        keys = self.result_keys()
        if 0 <= index < len(keys):
            self.set_active(keys[index])

    def hold_original(self, holding: bool) -> None:
        """While ``holding``, single, flicker and difference modes show the original."""
        if holding != self._contents.holding_original:
            self._contents.holding_original = holding
            self._refresh()

    def is_holding_original(self) -> bool:
        return self._contents.holding_original

    def _announce_active(self, before: str | None) -> None:
        """Emit ``active_changed`` (after the canvases show the change) when the active key moved."""
        if self._contents.active != before:
            self.active_changed.emit(self._contents.active or "")

    def _images_changed(self) -> None:
        old = self._contents.update_frame()
        self._sync.reframe(old, self._contents.frame)
        self._refresh()

    def _prepare_pixmap(self, shown: Shown) -> None:
        """Make the pixmap for the current zoom now, so the first flicker to ``shown`` is instant too."""
        frame = self._contents.frame
        if 0 in frame:
            return
        device_scale = self._view.zoom * min(frame[0] / shown.size[0], frame[1] / shown.size[1])
        shown.picture.pixmap(shown.picture.level_for(device_scale))

    # ------------------------------------------------------------------ modes

    def set_mode(self, mode: CompareMode | str) -> None:
        mode = CompareMode(mode)
        if mode == self._mode:
            return
        self._mode = mode
        self._contents.holding_original = False
        self._pages.show_mode(mode)
        self._refresh()
        self.mode_changed.emit(mode.value)

    def mode(self) -> CompareMode:
        return self._mode

    def canvases(self) -> list[ImageCanvas]:
        """The canvases of the current mode, in reading order (for the grid: the cells in use)."""
        return self._pages.canvases(self._mode, self._contents)

    def split_position(self) -> float:
        return self._pages.split.split_position()

    def set_split_position(self, fraction: float) -> None:
        self._pages.split.set_split_position(fraction)

    def shown_label(self) -> str:
        """The label of what the single or flicker canvas shows ("" when empty)."""
        shown = self._contents.main_shown()
        return shown.label if shown else ""

    def flicker_hint(self) -> str:
        """The plain text of the key strip under the flicker canvas."""
        return self._pages.flicker_hint_text()

    def difference_map(self) -> np.ndarray | None:
        """The float32 HxW map of the active result's difference (None without a result or original)."""
        difference = self._contents.active_difference()
        return None if difference is None else difference.values

    def difference_maximum(self) -> float | None:
        difference = self._contents.active_difference()
        return None if difference is None else difference.maximum

    def colour_bar(self) -> ColorBar:
        return self._pages.colour_bar

    def _refresh(self) -> None:
        """Put the current mode's images on its canvases and apply the shared view to them."""
        with self._sync.applying():
            self._pages.fill(self._mode, self._contents)
            self._sync.apply_to(self._canvases_with_image())
        self._emit_region()

    # ------------------------------------------------------------------ view (zoom(), centre(), is_fit()
    # come from ViewStateReadout; the actions start on the lead canvas and reach the others by syncing)

    def zoom_fit(self) -> None:
        self._on_lead(methodcaller("zoom_fit"))

    def zoom_actual(self) -> None:
        self._on_lead(methodcaller("zoom_actual"))

    def zoom_pixel_peep(self) -> None:
        """Zoom to ``PIXEL_PEEP_ZOOM`` (800 %, nearest neighbour) around the current centre."""
        self._on_lead(methodcaller("zoom_pixel_peep"))

    def zoom_in(self) -> None:
        self._on_lead(methodcaller("zoom_in"))

    def zoom_out(self) -> None:
        self._on_lead(methodcaller("zoom_out"))

    def visible_region(self) -> QRectF:
        """The visible part of the original, in original-image pixels (empty when nothing is shown)."""
        canvases = self._canvases_with_image()
        if not canvases:
            return QRectF()
        seen = canvases[0].visible_rect()
        sx, sy = self._contents.to_original_factors()
        return QRectF(seen.x() * sx, seen.y() * sy, seen.width() * sx, seen.height() * sy)

    def _canvases_with_image(self) -> list[ImageCanvas]:
        """The current mode's canvases that show an image; the first one leads."""
        return [canvas for canvas in self.canvases() if canvas.has_image()]

    def _on_lead(self, action: Callable[[ImageCanvas], None]) -> None:
        canvases = self._canvases_with_image()
        if canvases:
            action(canvases[0])

    def _on_canvas_view_changed(self, source: ImageCanvas) -> None:
        if self._sync.busy or source not in self.canvases():
            return
        self._sync.follow(source, self.canvases())
        self._emit_region()

    def _emit_region(self) -> None:
        region = self.visible_region()
        if region != self._last_region:
            self._last_region = region
            self.visible_region_changed.emit(QRectF(region))

    def _on_scene_clicked(self, scene_point: QPointF) -> None:
        sx, sy = self._contents.to_original_factors()
        x, y = math.floor(scene_point.x() * sx), math.floor(scene_point.y() * sy)
        width, height = self._contents.base_size()
        if 0 <= x < width and 0 <= y < height:
            self.pixel_clicked.emit(x, y)

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
