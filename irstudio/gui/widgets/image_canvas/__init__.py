"""A zoomable, pannable image view (``ImageCanvas``), its split-wipe variant (``SplitCanvas``) and the
display-ready image they share (``CanvasImage``). GUI only; widgets are used on the main thread.

Modules: ``canvas`` (``ImageCanvas``), ``split`` (``SplitCanvas``), ``picture`` (``CanvasImage`` and the
scene layer showing one), ``view_state`` (zoom ladder, ``ViewState``), ``painting`` (overlay labels,
the wipe divider). Import the public names from this package.

Coordinates
    The image lies in the scene at (0, 0)-(W*sx, H*sy), where (sx, sy) is the optional display
    ``scale`` given to ``set_image`` (1 by default, so scene units are image pixels). ``view_changed``,
    ``set_view``, ``centre`` and ``visible_rect`` speak scene units ("image px" when the scale is 1).
    ``zoom`` is device pixels per scene unit, so 1.0 (100 %) is one screen pixel per image pixel also
    on HiDPI screens. Extra items (markers, grids) can be added to ``canvas.scene()`` in scene units.

``CanvasImage(image: np.ndarray | QImage)``
    Converts once (``irstudio.gui.qimage.to_qimage``) and keeps a pyramid of halved copies, built
    lazily, so zoomed-out views are area-averaged (no aliasing) and cheap. Build one per image and pass
    it to any number of canvases: switching between prepared images costs no conversion. ``width``,
    ``height``, ``qimage``, ``build_pyramid()``. A worker thread may build one (QImages only) and hand
    it to the main thread, which alone makes its QPixmaps.

``ImageCanvas(QGraphicsView)``
    ``set_image(image: np.ndarray | CanvasImage | None, *, scale: float | tuple[float, float] = 1.0)``:
    shows ``image`` (numpy arrays are converted once here). A new scene size (or the first image)
    zooms to fit; an image of the same scene size keeps the current zoom and centre.
    ``zoom_fit()`` (and keeps fitting on resize until the user zooms or pans), ``zoom_actual()``
    (100 %, same centre), ``zoom_pixel_peep()`` (800 %, same centre), ``set_zoom(factor, anchor:
    QPointF | None = None)`` (``anchor``: a viewport point that stays over the same image point),
    ``zoom_in()`` / ``zoom_out()`` (next step on the
    ladder 1/128 ... 1/2, 3/4, 1, 3/2, 2, 3, 4, 6, 8 ... 64), ``zoom() -> float``, ``centre() -> QPointF``,
    ``is_fit() -> bool``, ``set_view(zoom, centre, *, fit=False)`` (applies a view without emitting:
    for syncing canvases; ``fit=True`` makes this canvas keep fitting on resize), ``visible_rect() ->
    QRectF`` (the visible part of the image, scene units; empty when none), ``image_size() -> QSizeF``
    (scene units), ``has_image()``, ``set_caption(text)`` / ``caption()`` (a label drawn top-left),
    ``map_to_scene(viewport_point: QPointF) -> QPointF``.
    Mouse: the wheel zooms around the cursor (one ladder step per notch); dragging with the left or
    middle button pans; a left click without a drag emits the clicked pixel. Arrow keys pan; other
    keys are ignored so they reach the parent (the compare view's 1-6 and Space).
    Rendering: nearest neighbour when a pixel covers at least one device pixel (zoom >= 100 %, pixels
    stay crisp squares), smooth (from the pyramid) below. Neutral grey background.
    Signals: ``view_changed(float zoom, QPointF centre)`` after every user or API change of the view
    (never from ``set_view``); ``pixel_clicked(int x, int y)`` in pixels of the shown image (scene /
    scale, only inside the image); ``scene_clicked(QPointF)`` (extension) the same click in scene
    units, also outside the image.

``SplitCanvas(ImageCanvas)`` (extension)
    A wipe: the image of ``set_image`` on the left of a vertical divider, the one of
    ``set_overlay(image, *, scale=...)`` on the right. The divider sits at a fraction of the viewport
    width (``split_position()``, ``set_split_position(fraction)``; 0.5 at start), so it stays where it
    is on screen when zooming or panning; drag it (or anywhere within 8 px of it) with the mouse.
    ``set_captions(left, right)`` labels both sides. Signal ``split_changed(float fraction)``.
    ``pixel_clicked`` reports pixels of the left image; ``scene_clicked`` is the same for both sides.
"""

from __future__ import annotations

from irstudio.gui.widgets.image_canvas.canvas import ARROW_PAN_PX, BACKGROUND, DRAG_THRESHOLD_PX, ImageCanvas
from irstudio.gui.widgets.image_canvas.painting import paint_divider, paint_label
from irstudio.gui.widgets.image_canvas.picture import CanvasImage
from irstudio.gui.widgets.image_canvas.split import SplitCanvas
from irstudio.gui.widgets.image_canvas.view_state import (
    MAX_ZOOM,
    MIN_ZOOM,
    PIXEL_PEEP_ZOOM,
    ZOOM_STEPS,
    ViewState,
    ViewStateReadout,
)

__all__ = [
    "ARROW_PAN_PX",
    "BACKGROUND",
    "DRAG_THRESHOLD_PX",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "PIXEL_PEEP_ZOOM",
    "ZOOM_STEPS",
    "CanvasImage",
    "ImageCanvas",
    "SplitCanvas",
    "ViewState",
    "ViewStateReadout",
    "paint_divider",
    "paint_label",
]
