"""Where a clicked pixel lands inside a network, and how token maps go back onto the photo.

Conventions: feature maps are (height, width) after the model's bottom/right padding; ``downscale`` is
input pixels per feature pixel at a level (1 at full resolution). A *window* layout cuts the map into
``window x window`` squares, windows in row-major order, tokens row-major inside a window; a Swin-style
shift first rolls the map by ``-shift`` on both axes (``torch.roll``), so feature pixel (y, x) sits at
rolled position ((y - shift) mod height, (x - shift) mod width). A *grid* layout (ASID's SGA) puts
pixel (i * height/window + a, j * width/window + b) at token (i, j) of group (a, b).
"""

from __future__ import annotations

import numpy as np

from irstudio.core.tiling import Region

__all__ = [
    "choose_crop",
    "grid_token",
    "grid_token_positions",
    "local_focus",
    "place_tokens",
    "round_up",
    "window_token",
    "window_token_positions",
]


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


def _crop_axis(extent: int, lo: int, hi: int, point: int, side: int, multiple: int) -> tuple[int, int]:
    """[start, stop) on one axis: about ``side`` long inside [lo, hi) around ``point``, on the grid.

    The start is aligned down to ``multiple`` and the length rounded up to one (unless the image ends
    first), so the aligned block holding ``point`` - its attention window - lies wholly in the crop.
    """
    size = min(side, hi - lo)
    start = min(max(point - size // 2, lo), hi - size)
    start -= start % multiple
    stop = min(extent, start + round_up(max(size, point + 1 - start), multiple))
    return start, stop


def choose_crop(
    height: int,
    width: int,
    region: Region | None,
    pixel: tuple[int, int] | None,
    max_side: int,
    multiple: int = 1,
) -> Region:
    """The rectangle (input px) to run a model on for maps.

    About ``max_side`` per axis, inside ``region`` (clipped to the image; None = whole image) as far as
    possible, containing ``pixel`` = (x, y) (None = the region's centre) and the whole ``multiple``-block
    around it, with its corner on multiples of ``multiple`` and its size a multiple of it where the image
    allows (the model pads to one anyway), so windows fall where they fall in a whole-image run. A side
    is at most ``round_up(max_side, multiple) + multiple``. Raises ValueError for a pixel outside the image.
    """
    if max_side < 1 or multiple < 1:
        raise ValueError(f"max_side and multiple must be >= 1, got {max_side}, {multiple}")
    bounds = Region(0, 0, height, width)
    clipped = bounds if region is None else region.intersection(bounds)
    if clipped is None:
        clipped = bounds
    if pixel is None:
        pixel = ((clipped.x0 + clipped.x1 - 1) // 2, (clipped.y0 + clipped.y1 - 1) // 2)
    x, y = pixel
    if not (0 <= x < width and 0 <= y < height):
        raise ValueError(f"pixel ({x}, {y}) is outside the {width}x{height} image")
    if not (clipped.x0 <= x < clipped.x1 and clipped.y0 <= y < clipped.y1):
        clipped = bounds  # the query wins over the region
    y0, y1 = _crop_axis(height, clipped.y0, clipped.y1, y, max_side, multiple)
    x0, x1 = _crop_axis(width, clipped.x0, clipped.x1, x, max_side, multiple)
    return Region(y0, x0, y1, x1)


def window_token(y: int, x: int, *, height: int, width: int, window: int, shift: int = 0) -> tuple[int, int]:
    """(window index, token index) of feature pixel (y, x) in a (height, width) map, rolled by ``-shift``.

    Window index is row-major over the (height / window) x (width / window) windows of one image.
    """
    _check_divisible(height, width, window)
    rolled_y, rolled_x = (y - shift) % height, (x - shift) % width
    index = (rolled_y // window) * (width // window) + rolled_x // window
    return index, (rolled_y % window) * window + rolled_x % window


def window_token_positions(index: int, *, height: int, width: int, window: int, shift: int = 0) -> np.ndarray:
    """(window**2, 2) int64 (y, x) feature positions of the tokens of window ``index``, shift undone."""
    _check_divisible(height, width, window)
    row, col = divmod(index, width // window)
    ty, tx = np.divmod(np.arange(window * window), window)
    ys = (row * window + ty + shift) % height
    xs = (col * window + tx + shift) % width
    return np.stack([ys, xs], axis=1).astype(np.int64)


def grid_token(y: int, x: int, *, height: int, width: int, window: int) -> tuple[int, int]:
    """(group index, token index) of feature pixel (y, x) in the grid layout (see the module doc)."""
    _check_divisible(height, width, window)
    rows, cols = height // window, width // window
    i, a = divmod(y, rows)
    j, b = divmod(x, cols)
    return a * cols + b, i * window + j


def grid_token_positions(index: int, *, height: int, width: int, window: int) -> np.ndarray:
    """(window**2, 2) int64 (y, x) feature positions of the tokens of grid group ``index``."""
    _check_divisible(height, width, window)
    rows, cols = height // window, width // window
    a, b = divmod(index, cols)
    i, j = np.divmod(np.arange(window * window), window)
    return np.stack([i * rows + a, j * cols + b], axis=1).astype(np.int64)


def place_tokens(
    values: np.ndarray, positions: np.ndarray, *, downscale: int, shape: tuple[int, int]
) -> np.ndarray:
    """Paint token ``values`` (n,) at feature ``positions`` (n, 2) onto an image of ``shape`` (h, w).

    Each token covers the ``downscale x downscale`` input pixels of its feature pixel; parts outside
    ``shape`` (the model's padding) are dropped. Returns float32 (h, w), NaN where no token lies.
    """
    out = np.full(shape, np.nan, dtype=np.float32)
    for value, (fy, fx) in zip(np.asarray(values, dtype=np.float32), positions, strict=True):
        out[fy * downscale : (fy + 1) * downscale, fx * downscale : (fx + 1) * downscale] = value
    return out


def local_focus(
    positions: np.ndarray, query: tuple[int, int], *, downscale: int, reach: int, shape: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) bounding the token squares within ``reach`` feature pixels of the query.

    ``query`` is the (y, x) feature position. Wrapped tokens of a shifted window (far across the map)
    are left out, so the box frames the window around the clicked pixel. Clipped to ``shape``.
    """
    near = np.all(np.abs(positions - np.asarray(query)) < reach, axis=1)
    chosen = positions[near] if near.any() else positions
    y0, x0 = chosen.min(axis=0) * downscale
    y1, x1 = (chosen.max(axis=0) + 1) * downscale
    height, width = shape
    return int(min(x0, width - 1)), int(min(y0, height - 1)), int(min(x1, width)), int(min(y1, height))


def _check_divisible(height: int, width: int, window: int) -> None:
    if height % window or width % window:
        raise ValueError(f"a {height}x{width} map does not divide into {window}x{window} windows")
