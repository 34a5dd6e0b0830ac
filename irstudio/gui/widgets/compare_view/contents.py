"""What a ``CompareView`` holds and what each mode shows of it (no widgets, main thread).

``CompareMode``: the modes. ``Shown``: one held image (label, array, display picture).
``CompareContents``: the original, the reference, the results in the order added, the active
result, whether the original is held (Space), the cached difference maps, and the display frame
(the largest width and height among the held images; every image is scaled into it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from irstudio.gui.widgets.compare_view.difference import Difference, difference_of
from irstudio.gui.widgets.image_canvas import CanvasImage

__all__ = ["MAX_GRID_RESULTS", "ORIGINAL_LABEL", "REFERENCE_LABEL", "CompareContents", "CompareMode", "Shown"]

MAX_GRID_RESULTS = 6
ORIGINAL_LABEL = "Original"
REFERENCE_LABEL = "Reference"

Frame = tuple[int, int]  # (width, height) in pixels; (0, 0) when nothing is held


class CompareMode(str, Enum):
    SINGLE = "single"
    SIDE_BY_SIDE = "side_by_side"
    SPLIT = "split"
    FLICKER = "flicker"
    GRID = "grid"
    DIFFERENCE = "difference"


@dataclass
class Shown:
    """An image the view holds: its label, the array (float32 HxWx3 [0,1]) and its display copy."""

    label: str
    image: np.ndarray
    picture: CanvasImage

    @property
    def held_caption(self) -> str:
        """The caption while the original is held on screen (Space)."""
        return f"{self.label} (Space held)"

    @property
    def size(self) -> Frame:
        return self.picture.width, self.picture.height


def _shown(label: str, image: np.ndarray | None, picture: CanvasImage | None = None) -> Shown | None:
    if image is None:
        return None
    return Shown(label, image, picture if picture is not None else CanvasImage(image))


class CompareContents:
    """The held images, the active result and the display frame; see the module docstring."""

    def __init__(self) -> None:
        self.original: Shown | None = None
        self.reference: Shown | None = None
        self.results: dict[str, Shown] = {}
        self.active: str | None = None
        self.holding_original = False
        self.frame: Frame = (0, 0)
        self._differences: dict[str, Difference] = {}

    # ------------------------------------------------------------------ changes

    def set_original(
        self, image: np.ndarray | None, picture: CanvasImage | None = None, label: str = ORIGINAL_LABEL
    ) -> bool:
        """Hold ``image`` as the original (``picture``: its display copy, made here when None;
        ``label``: its caption, e.g. "Degraded input: noise σ 25 (seed 0)"); True when there is
        one now and its size differs from the previous original's."""
        if picture is not None and image is not None:
            height, width = np.shape(image)[:2]
            if (picture.width, picture.height) != (width, height):
                raise ValueError(f"the prepared picture is not {width}x{height} like the image")
        old = self.original.size if self.original else None
        self.original = _shown(label, image, picture)
        self._differences.clear()
        return self.original is not None and self.original.size != old

    def set_reference(self, image: np.ndarray | None) -> None:
        self.reference = _shown(REFERENCE_LABEL, image)
        self._differences.clear()

    def set_result(self, key: str, label: str, image: np.ndarray) -> Shown:
        """Add or replace result ``key`` (a new key, or the first, becomes active); returns it."""
        is_new = key not in self.results
        self.results[key] = shown = Shown(label, image, CanvasImage(image))
        self._differences.pop(key, None)
        if is_new or self.active is None:
            self.active = key
        return shown

    def remove_result(self, key: str) -> None:
        """Drop result ``key`` (it must be held); the next one (or the last) becomes active."""
        index = list(self.results).index(key)
        del self.results[key]
        self._differences.pop(key, None)
        if self.active == key:
            remaining = list(self.results)
            self.active = remaining[min(index, len(remaining) - 1)] if remaining else None

    def clear_results(self) -> None:
        self.results.clear()
        self._differences.clear()
        self.active = None

    def update_frame(self) -> Frame:
        """Recompute the display frame from the held images; returns the previous frame."""
        shown = [s for s in (self.original, self.reference, *self.results.values()) if s is not None]
        old = self.frame
        self.frame = (max(s.size[0] for s in shown), max(s.size[1] for s in shown)) if shown else (0, 0)
        return old

    # ------------------------------------------------------------------ geometry

    def scale_of(self, shown: Shown) -> tuple[float, float]:
        """Frame pixels per pixel of ``shown`` (the display scale its canvas uses)."""
        return self.frame[0] / shown.size[0], self.frame[1] / shown.size[1]

    def base_size(self) -> Frame:
        """The size clicks and regions are reported in: the original's, else the frame's."""
        return self.original.size if self.original else self.frame

    def to_original_factors(self) -> tuple[float, float]:
        """Original-image pixels per frame pixel, along x and y (1, 1 while the frame is empty)."""
        if 0 in self.frame:
            return 1.0, 1.0
        base = self.base_size()
        return base[0] / self.frame[0], base[1] / self.frame[1]

    # ------------------------------------------------------------------ what the modes show

    def main_shown(self) -> Shown | None:
        """What single/flicker show: the original while held, else the active result, else the original."""
        if self.holding_original or self.active is None:
            return self.original
        return self.results[self.active]

    def active_shown(self) -> Shown | None:
        return None if self.active is None else self.results[self.active]

    def grid_contents(self) -> list[Shown]:
        """The grid's cells in reading order: original, reference (if any), the first results."""
        first = [s for s in (self.original, self.reference) if s is not None]
        return first + list(self.results.values())[:MAX_GRID_RESULTS]

    def caption(self, shown: Shown | None) -> str:
        """A canvas caption: the label of the original or reference, "n · label" for result n."""
        if shown is None:
            return ""
        if shown is self.original or shown is self.reference:
            return shown.label
        number = list(self.results.values()).index(shown) + 1
        return f"{number} · {shown.label}"

    def numbered_results(self) -> list[tuple[int, str, Shown]]:
        """(number from 1, key, result) of the results keys 1-6 reach."""
        first = list(self.results.items())[:MAX_GRID_RESULTS]
        return [(number, key, shown) for number, (key, shown) in enumerate(first, start=1)]

    def active_difference(self) -> Difference | None:
        """The active result's difference against the reference (else the original), cached."""
        active = self.active_shown()
        target = self.reference or self.original
        if active is None or self.active is None or target is None:
            return None
        if self.active not in self._differences:
            self._differences[self.active] = difference_of(active.image, target.image, target.label)
        return self._differences[self.active]
