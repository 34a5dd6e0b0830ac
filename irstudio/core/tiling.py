"""Tile-plan maths for tiled inference: where each tile's output lives, what it reads, how it blends.

Pure numpy; no torch. All coordinates are integer pixels of the *input* image, half-open
(``[y0, y1) x [x0, x1)``); an SR runner multiplies them by its scale.

A plan splits the image into tiles whose **cores** partition it exactly (every pixel in exactly one
core). Each tile **reads** its core plus ``context`` pixels of real image on every side (clipped to
the image), so the model sees true surroundings; what the model computes from that margin is
cropped away. Neighbouring tiles overlap only in a narrow **blend band** centred on their common
seam (half-width ``blend // 2``, never more than the context), inside which their outputs are mixed
with raised-cosine (Hann, ``sin^2``/``cos^2``) ramps; outside the bands a pixel comes from its own
core's tile only. A tile's **write** region is its core grown by the bands it takes part in; its
blend weight is separable, ``wy(y) * wx(x)``, and the weights of all tiles form a partition of
unity over the image.

Alignment (``multiple``, a model's window size times any internal downsampling): every read region
starts on a multiple and interior reads are whole multiples long, so a window model sees the same
window grid as in a whole-image run. Reads touching the bottom/right border are padded to a multiple
by the runner (see ``padded_extent``). A read is its core grown by ``context`` and then snapped
outward to the grid, so the cores themselves need not be aligned: the seams between cores sit at
``seam_offset`` past a grid line, the offset that makes the two reads around a seam overlap least
(``seam_overlap``). For models whose multiple is small against the context the offset is 0 (seams on
the grid, reads = core +- context rounded up to a multiple); for AST (multiple 128, context 32) the
seams sit mid-cell and the reads overlap by 128 px instead of 256.

Tile counts are balanced (as chaiNNer does): ``n = ceil(length / tile)`` tiles of nearly equal
size, so 1200 px with ``tile=1024`` gives 2 x 600 rather than 1024 + 176.

``subdivide`` splits one planned tile into smaller ones (used when a tile ran out of memory); the
children's weights are the parent's weight times a partition of unity over the parent's write
region, so the plan stays a partition of unity and finished tiles never need re-running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np


@dataclass(frozen=True)
class Region:
    """A half-open pixel rectangle ``[y0, y1) x [x0, x1)``."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def area(self) -> int:
        return max(0, self.height) * max(0, self.width)

    def intersection(self, other: Region) -> Region | None:
        """The common rectangle, or None when the two do not overlap."""
        y0, x0 = max(self.y0, other.y0), max(self.x0, other.x0)
        y1, x1 = min(self.y1, other.y1), min(self.x1, other.x1)
        if y0 >= y1 or x0 >= x1:
            return None
        return Region(y0, x0, y1, x1)

    def scaled(self, scale: int) -> Region:
        """The same rectangle at ``scale`` times the resolution."""
        return Region(self.y0 * scale, self.x0 * scale, self.y1 * scale, self.x1 * scale)


@dataclass(frozen=True)
class Ramp:
    """A raised-cosine transition on one axis across the band ``[start, stop)`` (input pixels).

    A rising ramp is 0 before the band, ``sin^2(pi/2 * t)`` inside it (``t`` in (0, 1) at pixel
    centres) and 1 after it; a falling ramp is ``1 - rising``. The two tiles either side of a seam
    carry the rising and the falling ramp of the same band, so their weights sum to 1.
    """

    start: int
    stop: int
    rising: bool

    def values(self, first: int, count: int, scale: int = 1) -> np.ndarray:
        """The ramp at output pixels ``first .. first + count - 1`` (output = input * scale), float64."""
        centres = (np.arange(first, first + count, dtype=np.float64) + 0.5) / scale
        t = np.clip((centres - self.start) / (self.stop - self.start), 0.0, 1.0)
        rise = np.sin(0.5 * np.pi * t) ** 2
        return rise if self.rising else np.cos(0.5 * np.pi * t) ** 2


@dataclass(frozen=True)
class Tile:
    """One tile of a plan.

    ``core``: the pixels this tile owns (cores partition the image). ``read``: the core grown by the
    context, clipped to the image; what the model is run on (before border padding). ``write``:
    where this tile's output has non-zero blend weight (core plus the blend bands it takes part in;
    always inside ``read``). ``ramps_y`` / ``ramps_x``: the factors of its blend weight along each
    axis (empty: weight 1 on the whole write region).
    """

    index: int
    core: Region
    read: Region
    write: Region
    ramps_y: tuple[Ramp, ...] = ()
    ramps_x: tuple[Ramp, ...] = ()


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


def round_down(value: int, multiple: int) -> int:
    """The largest multiple of ``multiple`` that is <= ``value``."""
    return value // multiple * multiple


def _seam_cost(offset: int, context: int, multiple: int) -> tuple[int, int]:
    """(overlap of the two reads around a seam at ``offset`` past a grid line, their smaller margin)."""
    left_end = round_up(offset + context, multiple)  # where the read before the seam ends
    right_start = round_down(offset - context, multiple)  # where the read after it starts
    return left_end - right_start, min(offset - right_start, left_end - offset)


def seam_offset(context: int, multiple: int) -> int:
    """Where seams between cores sit past a grid line, in [0, multiple): the offset whose reads
    overlap least; ties go to the widest smaller margin (room for the blend band), then to the
    smallest offset (0, seams on the grid, whenever that is as good)."""
    context = max(0, context)

    def rank(offset: int) -> tuple[int, int, int]:
        overlap, margin = _seam_cost(offset, context, multiple)
        return overlap, -margin, offset

    return min(range(multiple), key=rank)


def seam_overlap(context: int, multiple: int) -> int:
    """Pixels two neighbouring reads share across one seam placed at ``seam_offset``: an interior
    read is its core plus this much (a multiple of ``multiple``, at least ``2 * context``)."""
    return _seam_cost(seam_offset(context, multiple), max(0, context), multiple)[0]


def padded_extent(start: int, stop: int, size: int, multiple: int) -> int:
    """End of a read interval ``[start, stop)`` after padding it to a multiple of ``multiple``.

    Only intervals that end at the image border (``stop == size``) need padding; interior read
    intervals already have an aligned length. The result equals what padding the whole image to a
    multiple would give, so tiles see the same border as a whole-image run.
    """
    return start + round_up(stop - start, multiple)


def split_axis(start: int, stop: int, *, tile: int, multiple: int, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``[start, stop)`` into a balanced list of consecutive ``(begin, end)`` intervals.

    Laid out from the grid line at or below ``start``: the count is the fewest whose pieces are at
    most ``max(multiple, tile // multiple * multiple)`` long there, and lengths differ by at most one
    ``multiple`` (the longer ones last, where the border clips them). Then every interior boundary
    moves ``offset`` (in ``[0, multiple)``) past its grid line, unless that would reach the next
    boundary, and the first piece starts at ``start``. With ``offset`` 0 and an aligned ``start``,
    all lengths but the last are multiples.
    """
    if stop <= start:
        raise ValueError(f"empty interval [{start}, {stop})")
    if not 0 <= offset < multiple:
        raise ValueError(f"offset {offset} is not in [0, {multiple})")
    grid_start = round_down(start, multiple)
    units_total = -(-(stop - grid_start) // multiple)
    units_per_tile = max(1, tile // multiple)
    count = -(-units_total // units_per_tile)
    base, extra = divmod(units_total, count)
    lengths = [base] * (count - extra) + [base + 1] * extra
    bounds = [grid_start]
    for units in lengths:
        bounds.append(min(stop, bounds[-1] + units * multiple))
    seams = [b + offset if b + offset < stop else b for b in bounds[1:-1]]
    return list(pairwise([start, *seams, stop]))


def _read_interval(begin: int, end: int, size: int, context: int, multiple: int) -> tuple[int, int]:
    """The read interval of core ``[begin, end)``: grown by ``context``, snapped outward to the grid,
    clipped to ``[0, size)``."""
    return max(0, round_down(begin - context, multiple)), min(size, round_up(end + context, multiple))


def _band_half_width(pieces: list[tuple[int, int]], blend: int, context: int, multiple: int) -> int:
    """Half-width of the blend bands on one axis: ``blend // 2``, inside both reads around every
    seam, and small enough that the two bands of any interior piece do not overlap (needed for a
    partition of unity)."""
    half = max(0, blend) // 2
    for _, seam in pieces[:-1]:
        half = min(half, _seam_cost(seam % multiple, context, multiple)[1])
    for begin, end in pieces[1:-1]:
        half = min(half, (end - begin) // 2)
    return half


def _axis_layout(
    pieces: list[tuple[int, int]], outer: tuple[int, int], half: int
) -> list[tuple[tuple[int, int], tuple[Ramp, ...]]]:
    """For each piece on one axis: its write interval (inside ``outer``) and its ramps."""
    layout = []
    last = len(pieces) - 1
    outer_lo, outer_hi = outer
    for i, (begin, end) in enumerate(pieces):
        ramps: list[Ramp] = []
        if i > 0 and half > 0:
            ramps.append(Ramp(begin - half, begin + half, rising=True))
        if i < last and half > 0:
            ramps.append(Ramp(end - half, end + half, rising=False))
        lo = outer_lo if i == 0 else max(outer_lo, begin - half)
        hi = outer_hi if i == last else min(outer_hi, end + half)
        layout.append(((lo, hi), tuple(ramps)))
    return layout


def _plan_area(
    area: Region,
    outer: Region,
    inherited: tuple[tuple[Ramp, ...], tuple[Ramp, ...]],
    *,
    height: int,
    width: int,
    tile: int,
    context: int,
    multiple: int,
    blend: int | None,
) -> list[Tile]:
    """Tiles whose cores partition ``area`` and whose weights partition ``outer``'s weight."""
    if tile < 1 or multiple < 1 or context < 0:
        raise ValueError(f"need tile >= 1, multiple >= 1, context >= 0 (got {tile}, {multiple}, {context})")
    band = context // 2 if blend is None else blend
    offset = seam_offset(context, multiple)
    rows = split_axis(area.y0, area.y1, tile=tile, multiple=multiple, offset=offset)
    cols = split_axis(area.x0, area.x1, tile=tile, multiple=multiple, offset=offset)
    row_layout = _axis_layout(rows, (outer.y0, outer.y1), _band_half_width(rows, band, context, multiple))
    col_layout = _axis_layout(cols, (outer.x0, outer.x1), _band_half_width(cols, band, context, multiple))
    tiles: list[Tile] = []
    for (y0, y1), ((wy0, wy1), ramps_y) in zip(rows, row_layout, strict=True):
        for (x0, x1), ((wx0, wx1), ramps_x) in zip(cols, col_layout, strict=True):
            core = Region(y0, x0, y1, x1)
            (ry0, ry1), (rx0, rx1) = (
                _read_interval(y0, y1, height, context, multiple),
                _read_interval(x0, x1, width, context, multiple),
            )
            read = Region(ry0, rx0, ry1, rx1)
            write = Region(wy0, wx0, wy1, wx1)
            tiles.append(
                Tile(
                    index=len(tiles),
                    core=core,
                    read=read,
                    write=write,
                    ramps_y=inherited[0] + ramps_y,
                    ramps_x=inherited[1] + ramps_x,
                )
            )
    return tiles


def plan_tiles(
    height: int, width: int, *, tile: int, context: int, multiple: int, blend: int | None = None
) -> list[Tile]:
    """Plan tiles over a ``height x width`` image, in raster order (``index`` 0, 1, ...).

    ``tile``: the largest core side (rounded down to a multiple of ``multiple``, at least one
    multiple); ``context``: real pixels read around each core (rounded up to a multiple);
    ``blend``: width of the blend band across each seam (default ``context // 2``; 0 = hard seams,
    pure crop), clamped so that a band never reaches past the context or across a whole core.
    One tile (core = read = write = the image) when the image fits in the aligned ``tile``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1 (got {height}x{width})")
    image = Region(0, 0, height, width)
    return _plan_area(
        image,
        image,
        ((), ()),
        height=height,
        width=width,
        tile=tile,
        context=context,
        multiple=multiple,
        blend=blend,
    )


def subdivide(
    parent: Tile,
    *,
    height: int,
    width: int,
    tile: int,
    context: int,
    multiple: int,
    blend: int | None = None,
) -> list[Tile]:
    """Split ``parent`` into tiles of at most ``tile`` (same rules as ``plan_tiles``).

    The children's cores partition the parent's core; their write regions stay inside the parent's,
    and their weights are the parent's weight times a partition of unity, so they sum to exactly the
    parent's weight. Indices are 0.. within the returned list (renumber when splicing into a plan).
    A parent that already fits comes back as one tile equal to it (index aside).
    """
    return _plan_area(
        parent.core,
        parent.write,
        (parent.ramps_y, parent.ramps_x),
        height=height,
        width=width,
        tile=tile,
        context=context,
        multiple=multiple,
        blend=blend,
    )


def renumber(tiles: list[Tile], first: int = 0) -> list[Tile]:
    """The same tiles with ``index`` = ``first``, ``first + 1``, ... in list order."""
    return [replace(t, index=first + i) for i, t in enumerate(tiles)]


def _axis_weights(ramps: tuple[Ramp, ...], first: int, count: int, scale: int) -> np.ndarray:
    weights = np.ones(count, dtype=np.float64)
    for ramp in ramps:
        weights *= ramp.values(first, count, scale)
    return weights


def blend_weights(tile: Tile, scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The separable blend weight of ``tile`` over its write region at output resolution.

    Returns ``(wy, wx)``, float32, of lengths ``write.height * scale`` and ``write.width * scale``;
    the 2-D weight is ``np.outer(wy, wx)``, in (0, 1] on the write region (0 outside it). Over all
    tiles of a plan the 2-D weights sum to 1 at every output pixel (to float rounding).
    """
    write = tile.write.scaled(scale)
    wy = _axis_weights(tile.ramps_y, write.y0, write.height, scale)
    wx = _axis_weights(tile.ramps_x, write.x0, write.width, scale)
    return wy.astype(np.float32), wx.astype(np.float32)


def halved_tile(current: int, *, multiple: int, min_tile: int) -> int | None:
    """The next tile side after an out-of-memory at side ``current``; None when already at the floor.

    Half of ``current`` rounded up to a multiple (so a core of ``current`` splits into exactly two),
    never below the floor ``min_tile`` rounded up to a multiple; always smaller than ``current``.
    """
    floor = max(multiple, round_up(min_tile, multiple))
    if current <= floor:
        return None
    return max(floor, round_up(-(-current // 2), multiple))


def processed_fraction(tiles: list[Tile], height: int, width: int) -> float:
    """Pixels run through the model (sum of read areas) divided by image pixels (>= 1)."""
    return math.fsum(t.read.area for t in tiles) / (height * width)
