"""``CompareView``: the original and the restored results side by side, wiped, flickered, in a grid or
as a difference heat map, with every canvas of a mode locked to the same zoom and centre.

Modules: ``view`` (``CompareView``), ``contents`` (``CompareMode``, what is held and what each mode
shows), ``pages`` (the canvases of each mode), ``sync`` (the shared zoom and centre), ``difference``
(``difference_map``), ``color_bar`` (the difference legend). Import the public names from here.

Contract (see also the GUI contract, issue 5)
    ``CompareMode(str, Enum)``: ``SINGLE`` ("single"), ``SIDE_BY_SIDE``, ``SPLIT``, ``FLICKER``, ``GRID``,
    ``DIFFERENCE``; the values are the lower-case names.
    ``CompareView(QWidget)``:
    ``set_original(image | None, *, picture: CanvasImage | None = None)``: the input, float32 HxWx3 in
    [0, 1] (uint8, grey also accepted); ``picture`` (extension): its display copy made in advance, e.g.
    on the worker thread that read the file, so the view converts nothing.
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

from irstudio.gui.widgets.compare_view.color_bar import ColorBar
from irstudio.gui.widgets.compare_view.contents import MAX_GRID_RESULTS, CompareMode
from irstudio.gui.widgets.compare_view.difference import DIFFERENCE_COLORMAP, difference_map
from irstudio.gui.widgets.compare_view.view import CompareView

__all__ = [
    "DIFFERENCE_COLORMAP",
    "MAX_GRID_RESULTS",
    "ColorBar",
    "CompareMode",
    "CompareView",
    "difference_map",
]
