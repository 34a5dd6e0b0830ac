"""The DIFFERENCE mode's data: per-pixel |result - target| maps and their heat-map pictures (no widgets).

``difference_map(result, target) -> np.ndarray``: float32 HxW, the per-pixel mean over RGB of
``|result - target|``; the target is resized to the result's size first when they differ.
``Difference``: such a map with its maximum, what it was taken against and its inferno picture;
``difference_of(result, target, target_label)`` makes one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from irstudio.gui.qimage import colormap
from irstudio.gui.widgets.image_canvas import CanvasImage

__all__ = ["DIFFERENCE_COLORMAP", "Difference", "as_float_rgb", "difference_map", "difference_of"]

DIFFERENCE_COLORMAP = "inferno"
_ROWS_BUDGET = 1 << 20  # values per block of rows: bounded temporaries for large images


@dataclass(frozen=True)
class Difference:
    """A difference map: ``values`` float32 HxW (mean over RGB of |result - target|, [0, 1]), its
    ``maximum``, ``against`` (what the result was compared with, e.g. "bicubic(original)") and
    ``picture`` (the map coloured from 0 to the maximum)."""

    values: np.ndarray
    maximum: float
    against: str
    picture: CanvasImage


def difference_of(result: np.ndarray, target: np.ndarray, target_label: str) -> Difference:
    """The ``Difference`` of ``result`` against ``target`` (labelled ``target_label``), see above."""
    against = target_label.lower()
    result_hw, target_hw = np.shape(result)[:2], np.shape(target)[:2]
    if target_hw != result_hw:
        against = f"bicubic({against})" if target_hw[1] < result_hw[1] else f"resized({against})"
    values = difference_map(result, target)
    maximum = float(values.max()) if values.size else 0.0
    colours = colormap(values, DIFFERENCE_COLORMAP, vmin=0.0, vmax=maximum if maximum > 0 else 1.0)
    return Difference(values, maximum, against, CanvasImage(colours))


def difference_map(result: np.ndarray, target: np.ndarray) -> np.ndarray:
    """float32 HxW: per-pixel mean over RGB of |result - target| (values in [0, 1] for [0, 1] inputs).

    ``result`` and ``target`` are float [0, 1] or uint8 (scaled by 1/255), HxWx3 or HxW (grey);
    ``target`` is resized to ``result``'s size first when they differ (bicubic up, area down).
    """
    result_rgb, target_rgb = as_float_rgb(result), as_float_rgb(target)
    height, width = result_rgb.shape[:2]
    if target_rgb.shape[:2] != (height, width):
        upscale = target_rgb.shape[1] < width
        interpolation = cv2.INTER_CUBIC if upscale else cv2.INTER_AREA
        target_rgb = np.clip(cv2.resize(target_rgb, (width, height), interpolation=interpolation), 0.0, 1.0)
    values = np.empty((height, width), dtype=np.float32)
    rows = max(1, _ROWS_BUDGET // max(1, width))
    for start in range(0, height, rows):
        stop = min(height, start + rows)
        block = np.abs(result_rgb[start:stop] - target_rgb[start:stop])
        values[start:stop] = block.mean(axis=2)
    return values


def as_float_rgb(image: np.ndarray) -> np.ndarray:
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
