"""The view of an image canvas: the zoom ladder and limits, and ``ViewState`` with its accessors.

Units: ``zoom`` is device pixels per scene unit (1.0 = 100 %: one screen pixel per image pixel,
also on HiDPI screens); ``centre`` is the scene point at the middle of the viewport; ``fit`` says
the view keeps fitting the whole image when the widget is resized.

``ViewStateReadout`` is the one implementation of ``zoom()``, ``centre()`` and ``is_fit()`` shared by
``ImageCanvas`` and ``CompareView``: a mixin that reads the object's ``_view: ViewState``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF

__all__ = [
    "MAX_ZOOM",
    "MIN_ZOOM",
    "PIXEL_PEEP_ZOOM",
    "ZOOM_STEPS",
    "ViewState",
    "ViewStateReadout",
    "clamp",
    "nearly_equal",
    "next_zoom_step",
]

MIN_ZOOM = 1.0 / 128.0
MAX_ZOOM = 64.0
ZOOM_STEPS: tuple[float, ...] = tuple(
    sorted({2.0**k for k in range(-7, 7)} | {1.5 * 2.0**k for k in range(-7, 6)})
)
"""The zoom ladder (``zoom_in`` / ``zoom_out``, the wheel): 1/128 ... 1/2, 3/4, 1, 3/2, 2, 3 ... 64."""
PIXEL_PEEP_ZOOM = 8.0


@dataclass
class ViewState:
    """Zoom (device px per scene unit), centre (scene units) and whether the view keeps fitting."""

    zoom: float = 1.0
    centre: QPointF = field(default_factory=QPointF)
    fit: bool = True


class ViewStateReadout:
    """Mixin: ``zoom()``, ``centre()`` (a copy) and ``is_fit()`` of ``self._view``."""

    _view: ViewState

    def zoom(self) -> float:
        return self._view.zoom

    def centre(self) -> QPointF:
        return QPointF(self._view.centre)

    def is_fit(self) -> bool:
        return self._view.fit


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to [low, high]."""
    return min(max(value, low), high)


def nearly_equal(a: float, b: float) -> bool:
    """True when ``a`` and ``b`` differ by at most one part in a million (of the larger, or 1)."""
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def next_zoom_step(zoom: float, direction: int) -> float:
    """The next zoom on the ladder above (direction +1) or below (-1) ``zoom``; clamps at the ends."""
    if direction > 0:
        return next((step for step in ZOOM_STEPS if step > zoom * 1.001), ZOOM_STEPS[-1])
    return next((step for step in reversed(ZOOM_STEPS) if step < zoom / 1.001), ZOOM_STEPS[0])
