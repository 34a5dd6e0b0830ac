"""``ViewSync``: one zoom and centre shared by every canvas of the current compare mode.

The shared ``ViewState`` is in display-frame units (see the ``compare_view`` package docstring). The
first canvas that shows an image leads: fitting is computed there and its (clamped) view is copied
to the others. While ``applying`` is active, view changes the canvases report are echoes of our own
``set_view`` calls and must be ignored (``busy``). Main thread only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtCore import QPointF

from irstudio.gui.widgets.image_canvas import ImageCanvas, ViewState

__all__ = ["ViewSync"]


class ViewSync:
    """The shared view and how it reaches the canvases; see the module docstring."""

    def __init__(self) -> None:
        self.view = ViewState()  # mutated in place: readers may hold it
        self._depth = 0

    @property
    def busy(self) -> bool:
        """True while the canvases are being set from the shared view (their reports are echoes)."""
        return self._depth > 0

    @contextmanager
    def applying(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def refit(self) -> None:
        """Fit the image again the next time the view is applied."""
        self.view.fit = True

    def reframe(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        """The display frame changed from ``old`` to ``new`` (width, height): keep what is on screen."""
        if new == old or 0 in new:
            return
        if 0 in old:
            self.view.fit = True
            return
        ratio_x, ratio_y = new[0] / old[0], new[1] / old[1]
        self.view.zoom /= ratio_x
        self.view.centre = QPointF(self.view.centre.x() * ratio_x, self.view.centre.y() * ratio_y)

    def apply_to(self, canvases: Sequence[ImageCanvas]) -> None:
        """Give ``canvases`` (those showing an image, the lead first) the shared view."""
        if not canvases:
            return
        lead, view = canvases[0], self.view
        with self.applying():
            if view.fit:
                lead.zoom_fit()
            else:
                lead.set_view(view.zoom, view.centre)
            view.zoom, view.centre = lead.zoom(), lead.centre()  # clamped to the image
            for canvas in canvases[1:]:
                canvas.set_view(view.zoom, view.centre, fit=view.fit)

    def follow(self, source: ImageCanvas, canvases: Sequence[ImageCanvas]) -> None:
        """The user moved ``source``: take its view and give it to the other ``canvases``."""
        view = self.view
        view.zoom, view.centre, view.fit = source.zoom(), source.centre(), source.is_fit()
        with self.applying():
            for canvas in canvases:
                if canvas is not source:
                    canvas.set_view(view.zoom, view.centre, fit=view.fit)
