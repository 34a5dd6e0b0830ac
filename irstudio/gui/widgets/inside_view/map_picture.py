"""Pure helpers of the Inside view (no widgets): what part of a map is drawn and how, where a click
lands, the visible region as a ``Region``, the text describing a result, and the PNG export.

Coordinates: a ``MapImage``'s values are an HxW array over the result's crop (``grid == "image"``:
one value per crop pixel; ``"feature"``: a coarser grid stretched over the crop; others, e.g.
``"matrix"``, are not in image coordinates). A display box ``(x0, y0, x1, y1)`` is the part of the
map array that is drawn, in map-array pixels; the scene shows it from (0, 0) at ``scene_scale``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF

from irstudio.core import Region
from irstudio.core.image_io import write_image
from irstudio.gui.qimage import colormap
from irstudio.inference.maps import MapImage, MapsResult, render_map

__all__ = [
    "Box",
    "composed",
    "crop_pixel_at",
    "describe",
    "display_box",
    "family",
    "region_of",
    "scene_scale",
    "write_map_png",
]

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), map-array pixels, end exclusive
_DIM = 0.45  # brightness of the photo under cells without a value
_MISSING_GREY = 48  # cells without a value on maps without a photo under them
_LUMA = np.array([0.299, 0.587, 0.114])


def family(key: str) -> str:
    """``spatial/h2`` -> ``spatial``: the same map for another head."""
    head, _, rest = key.rpartition("/h")
    return head if rest.isdigit() else key


def display_box(map_image: MapImage, zoom_to_window: bool) -> Box:
    """The whole map, or (``zoom_to_window`` and a focus) the focus window with half its size around it."""
    height, width = map_image.values.shape
    if map_image.focus is None or not zoom_to_window:
        return 0, 0, width, height
    x0, y0, x1, y1 = map_image.focus
    margin = max(x1 - x0, y1 - y0) // 2
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


def composed(map_image: MapImage, background: np.ndarray | None) -> np.ndarray:
    """uint8 RGB HxWx3 of the map; cells without a value show the dimmed ``background`` photo (float
    HxWx3 [0, 1], the crop) on image grids, else dark grey."""
    colours = colormap(map_image.values, map_image.cmap, map_image.vmin, map_image.vmax)
    missing = ~np.isfinite(map_image.values)
    if not missing.any():
        return colours
    if map_image.grid == "image" and background is not None and background.shape[:2] == missing.shape:
        grey = np.clip(background, 0, 1) @ _LUMA * (_DIM * 255)
        colours[missing] = grey.astype(np.uint8)[missing][:, None]
    else:
        colours[missing] = _MISSING_GREY
    return colours


def scene_scale(map_image: MapImage, result: MapsResult | None) -> tuple[float, float]:
    """Scene units (crop pixels) per map pixel: feature maps are stretched over the crop, others are 1:1."""
    if map_image.grid != "feature" or result is None:
        return 1.0, 1.0
    height, width = map_image.values.shape
    return result.crop.width / width, result.crop.height / height


def crop_pixel_at(
    point: QPointF, map_image: MapImage, box: Box, result: MapsResult
) -> tuple[int, int] | None:
    """The original-image pixel (x, y) under scene ``point`` of a map drawn in image coordinates
    (image or feature grid) from display ``box``; None outside the drawn part or on other maps."""
    if map_image.grid not in ("image", "feature"):
        return None
    sx, sy = scene_scale(map_image, result)
    x0, y0, x1, y1 = box
    col, row = math.floor(point.x() / sx), math.floor(point.y() / sy)
    if not (0 <= col < x1 - x0 and 0 <= row < y1 - y0):
        return None
    crop_x = round((col + x0 + 0.5) * sx - 0.5)
    crop_y = round((row + y0 + 0.5) * sy - 0.5)
    return result.crop.x0 + crop_x, result.crop.y0 + crop_y


def region_of(rect: QRectF) -> Region:
    """Whole pixels covered by ``rect`` (original-image px)."""
    x0, y0 = max(0, math.floor(rect.left())), max(0, math.floor(rect.top()))
    x1, y1 = math.ceil(rect.right()), math.ceil(rect.bottom())
    return Region(y0, x0, max(y0 + 1, y1), max(x0 + 1, x1))


def describe(result: MapsResult, shown: MapImage | None) -> str:
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


def write_map_png(map_image: MapImage, result: MapsResult, path: Path, *, overwrite: bool) -> Path:
    """Write ``map_image`` whole, with title and colour bar (``render_map``), as a PNG at ``path``;
    ``OutputExistsError`` when it exists and not ``overwrite``. Returns the path written."""
    return write_image(path, render_map(map_image, result.background), overwrite=overwrite)
