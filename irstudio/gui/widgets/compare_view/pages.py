"""``ComparePages``: the canvases of every compare mode on a stack, and how each mode fills them.

One page per ``CompareMode``: SINGLE (one canvas), SIDE_BY_SIDE (two), SPLIT (a ``SplitCanvas``),
FLICKER (a canvas over a key strip), GRID (up to ``MAX_GRID_RESULTS + 2`` labelled cells) and
DIFFERENCE (a heat-map canvas over a ``ColorBar``). ``fill(mode, contents)`` puts what
``CompareContents`` says the mode shows on its canvases; the shared zoom is applied by the caller.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from irstudio.gui.widgets.compare_view.color_bar import ColorBar
from irstudio.gui.widgets.compare_view.contents import (
    MAX_GRID_RESULTS,
    CompareContents,
    CompareMode,
    Shown,
)
from irstudio.gui.widgets.image_canvas import ImageCanvas, SplitCanvas

__all__ = ["ComparePages"]

_SPACE_HINT = "hold Space: original"
_GRID_CELLS = MAX_GRID_RESULTS + 2  # the original, the reference and the results


class ComparePages(QStackedWidget):
    """The mode pages and their canvases; see the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.single, self.left, self.right = ImageCanvas(), ImageCanvas(), ImageCanvas()
        self.split = SplitCanvas()
        self.flicker = ImageCanvas()
        self.grid_cells = [ImageCanvas() for _ in range(_GRID_CELLS)]
        self.difference = ImageCanvas()
        self.flicker_hint = QLabel()
        self.flicker_hint.setTextFormat(Qt.TextFormat.RichText)
        self.flicker_hint.setContentsMargins(6, 3, 6, 3)
        self.colour_bar = ColorBar()
        self._grid_count = -1
        self._grid_page = QWidget()
        self._grid_layout = QGridLayout(self._grid_page)
        self._grid_layout.setContentsMargins(0, 0, 0, 0)
        self._grid_layout.setSpacing(2)
        self._pages = {
            CompareMode.SINGLE: self.single,
            CompareMode.SIDE_BY_SIDE: _side_by_side(self.left, self.right),
            CompareMode.SPLIT: self.split,
            CompareMode.FLICKER: _stacked(self.flicker, self.flicker_hint),
            CompareMode.GRID: self._grid_page,
            CompareMode.DIFFERENCE: _stacked(self.difference, self.colour_bar),
        }
        for page in self._pages.values():
            self.addWidget(page)

    def all_canvases(self) -> list[ImageCanvas]:
        """Every canvas of every page (for wiring their signals)."""
        return [
            self.single,
            self.left,
            self.right,
            self.split,
            self.flicker,
            *self.grid_cells,
            self.difference,
        ]

    def show_mode(self, mode: CompareMode) -> None:
        self.setCurrentWidget(self._pages[mode])

    def canvases(self, mode: CompareMode, contents: CompareContents) -> list[ImageCanvas]:
        """The canvases of ``mode`` in reading order (for the grid: the cells in use)."""
        by_mode: dict[CompareMode, list[ImageCanvas]] = {
            CompareMode.SINGLE: [self.single],
            CompareMode.SIDE_BY_SIDE: [self.left, self.right],
            CompareMode.SPLIT: [self.split],
            CompareMode.FLICKER: [self.flicker],
            CompareMode.DIFFERENCE: [self.difference],
        }
        if mode is CompareMode.GRID:
            return self.grid_cells[: len(contents.grid_contents())]
        return by_mode[mode]

    def flicker_hint_text(self) -> str:
        """The plain text of the key strip under the flicker canvas."""
        return self.flicker_hint.text().replace("<b>", "").replace("</b>", "")

    # ------------------------------------------------------------------ filling

    def fill(self, mode: CompareMode, contents: CompareContents) -> None:
        """Show on ``mode``'s canvases what ``contents`` says that mode shows."""
        filler = {
            CompareMode.SINGLE: self._fill_single,
            CompareMode.SIDE_BY_SIDE: self._fill_side_by_side,
            CompareMode.SPLIT: self._fill_split,
            CompareMode.FLICKER: self._fill_flicker,
            CompareMode.GRID: self._fill_grid,
            CompareMode.DIFFERENCE: self._fill_difference,
        }[mode]
        filler(contents)

    @staticmethod
    def _show(canvas: ImageCanvas, contents: CompareContents, shown: Shown | None, caption: str) -> None:
        if shown is None:
            canvas.set_image(None)
        else:
            canvas.set_image(shown.picture, scale=contents.scale_of(shown))
        canvas.set_caption(caption)

    @staticmethod
    def _main_caption(contents: CompareContents, shown: Shown | None) -> str:
        if contents.holding_original and shown is not None:
            return shown.held_caption
        return contents.caption(shown)

    def _fill_single(self, contents: CompareContents) -> None:
        shown = contents.main_shown()
        self._show(self.single, contents, shown, self._main_caption(contents, shown))

    def _fill_side_by_side(self, contents: CompareContents) -> None:
        original = contents.original
        self._show(self.left, contents, original, original.label if original else "")
        active = contents.active_shown()
        self._show(self.right, contents, active, contents.caption(active) if active else "No result yet")

    def _fill_split(self, contents: CompareContents) -> None:
        active = contents.active_shown()
        base = contents.original or active
        self._show(self.split, contents, base, contents.caption(base))
        overlay = active if contents.original is not None else None
        if overlay is None:
            self.split.set_overlay(None)
            self.split.set_captions(contents.caption(base), "")
        else:
            self.split.set_overlay(overlay.picture, scale=contents.scale_of(overlay))
            self.split.set_captions(contents.original.label, contents.caption(overlay))

    def _fill_flicker(self, contents: CompareContents) -> None:
        shown = contents.main_shown()
        self._show(self.flicker, contents, shown, self._main_caption(contents, shown))
        parts = []
        for number, key, result in contents.numbered_results():
            text = f"[{number}] {result.label}"
            current = key == contents.active and not contents.holding_original
            parts.append(f"<b>{text}</b>" if current else text)
        parts.append(f"<b>{_SPACE_HINT}</b>" if contents.holding_original else _SPACE_HINT)
        self.flicker_hint.setText(
            " · ".join(parts) if contents.results else "No results yet · " + _SPACE_HINT
        )

    def _fill_grid(self, contents: CompareContents) -> None:
        cells = contents.grid_contents()
        self._layout_grid(len(cells))
        for index, canvas in enumerate(self.grid_cells):
            if index < len(cells):
                self._show(canvas, contents, cells[index], contents.caption(cells[index]))
            else:
                canvas.set_image(None)

    def _layout_grid(self, count: int) -> None:
        """Place ``count`` cells: one row up to three, else two rows; unused cells are hidden."""
        if count == self._grid_count:
            return
        self._grid_count = count
        for canvas in self.grid_cells:
            self._grid_layout.removeWidget(canvas)
            canvas.hide()
        rows = 1 if count <= 3 else 2
        columns = max(1, math.ceil(count / rows))
        for index in range(count):
            self._grid_layout.addWidget(self.grid_cells[index], index // columns, index % columns)
            self.grid_cells[index].show()
        for row in range(2):
            self._grid_layout.setRowStretch(row, 1 if row < rows else 0)
        for column in range(_GRID_CELLS):
            self._grid_layout.setColumnStretch(column, 1 if column < columns else 0)

    def _fill_difference(self, contents: CompareContents) -> None:
        if contents.holding_original and contents.original is not None:
            self._show(self.difference, contents, contents.original, contents.original.held_caption)
            return
        difference = contents.active_difference()
        active = contents.active_shown()
        if difference is None or active is None:
            self.difference.set_image(None)
            self.difference.set_caption("No result to compare yet")
            self.colour_bar.set_range(0.0, "")
            return
        picture = difference.picture
        scale = (contents.frame[0] / picture.width, contents.frame[1] / picture.height)
        self.difference.set_image(picture, scale=scale)
        self.difference.set_caption(f"|{active.label} − {difference.against}|")
        self.colour_bar.set_range(difference.maximum, "|Δ| per pixel, mean over RGB")


def _side_by_side(left: QWidget, right: QWidget) -> QWidget:
    page = QWidget()
    layout = QHBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(left)
    layout.addWidget(right)
    return page


def _stacked(top: QWidget, bottom: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(top, 1)
    layout.addWidget(bottom, 0)
    return page
