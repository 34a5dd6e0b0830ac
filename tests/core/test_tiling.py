"""Tile-plan maths: cores partition the image, balanced sizes, reads on the grid, blend weights sum to one."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irstudio.core.tiling import (
    Region,
    Tile,
    blend_weights,
    halved_tile,
    padded_extent,
    plan_tiles,
    processed_fraction,
    renumber,
    round_down,
    round_up,
    seam_offset,
    seam_overlap,
    split_axis,
    subdivide,
)

plan_args = st.fixed_dictionaries(
    {
        "height": st.integers(1, 200),
        "width": st.integers(1, 200),
        "tile": st.integers(4, 140),
        "context": st.integers(0, 40),
        "multiple": st.sampled_from([1, 2, 4, 7, 8, 16]),
        "blend": st.one_of(st.none(), st.integers(0, 48)),
    }
)


def _plan(args: dict) -> list[Tile]:
    return plan_tiles(
        args["height"],
        args["width"],
        tile=args["tile"],
        context=args["context"],
        multiple=args["multiple"],
        blend=args["blend"],
    )


def _core_cover(tiles: list[Tile], height: int, width: int) -> np.ndarray:
    cover = np.zeros((height, width), dtype=np.int64)
    for t in tiles:
        cover[t.core.y0 : t.core.y1, t.core.x0 : t.core.x1] += 1
    return cover


def _weight_sum(tiles: list[Tile], height: int, width: int, scale: int = 1) -> np.ndarray:
    total = np.zeros((height * scale, width * scale), dtype=np.float64)
    for t in tiles:
        wy, wx = blend_weights(t, scale)
        w = t.write.scaled(scale)
        total[w.y0 : w.y1, w.x0 : w.x1] += np.outer(wy, wx)
    return total


def _contains(outer: Region, inner: Region) -> bool:
    return outer.y0 <= inner.y0 and outer.x0 <= inner.x0 and inner.y1 <= outer.y1 and inner.x1 <= outer.x1


@settings(max_examples=150, deadline=None)
@given(plan_args)
def test_cores_cover_every_pixel_exactly_once(args: dict) -> None:
    tiles = _plan(args)
    assert (_core_cover(tiles, args["height"], args["width"]) == 1).all()
    assert [t.index for t in tiles] == list(range(len(tiles)))


@settings(max_examples=150, deadline=None)
@given(plan_args)
def test_regions_are_nested_and_aligned(args: dict) -> None:
    m, h, w, c = args["multiple"], args["height"], args["width"], args["context"]
    image = Region(0, 0, h, w)
    offset = seam_offset(c, m)
    for t in _plan(args):
        assert t.read.y0 % m == 0 and t.read.x0 % m == 0  # same window grid as the whole image
        assert t.read == Region(
            max(0, round_down(t.core.y0 - c, m)),
            max(0, round_down(t.core.x0 - c, m)),
            min(h, round_up(t.core.y1 + c, m)),
            min(w, round_up(t.core.x1 + c, m)),
        )
        # seams sit on the grid or ``offset`` past it (the last seam falls back to the grid when the
        # offset would reach the border)
        assert all(edge == 0 or edge % m in (0, offset) for edge in (t.core.y0, t.core.x0))
        assert _contains(image, t.read) and _contains(t.read, t.write) and _contains(t.write, t.core)
        # interior reads are whole multiples; border reads pad to one, like the padded whole image
        for start, stop, size in ((t.read.y0, t.read.y1, h), (t.read.x0, t.read.x1, w)):
            if stop < size:
                assert (stop - start) % m == 0
            assert padded_extent(start, stop, size, m) - start == math.ceil((stop - start) / m) * m


@settings(max_examples=150, deadline=None)
@given(plan_args, st.sampled_from([1, 2, 3, 4]))
def test_weights_are_a_partition_of_unity(args: dict, scale: int) -> None:
    tiles = _plan(args)
    total = _weight_sum(tiles, args["height"], args["width"], scale)
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-6)
    for t in tiles:
        wy, wx = blend_weights(t, scale)
        assert wy.dtype == np.float32 and wx.dtype == np.float32
        assert (wy > 0).all() and (wy <= 1).all() and (wx > 0).all() and (wx <= 1).all()


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 64).map(lambda k: k * 8),
    st.integers(1, 700),
    st.integers(1, 300),
    st.sampled_from([1, 4, 8]),
)
def test_split_axis_is_balanced(start: int, length: int, tile: int, multiple: int) -> None:
    start = start // multiple * multiple
    pieces = split_axis(start, start + length, tile=tile, multiple=multiple)
    limit = max(multiple, tile // multiple * multiple)
    units = math.ceil(length / multiple)
    assert len(pieces) == math.ceil(units / max(1, tile // multiple))  # the fewest that fit
    assert pieces[0][0] == start and pieces[-1][1] == start + length
    assert all(a[1] == b[0] for a, b in pairwise(pieces))
    lengths = [b - a for a, b in pieces]
    assert all(n % multiple == 0 for n in lengths[:-1])
    assert max(lengths) <= limit
    assert max(lengths[:-1], default=0) - min(lengths[:-1], default=0) <= multiple


def test_balanced_counts_like_chainner() -> None:
    assert split_axis(0, 1200, tile=1024, multiple=1) == [(0, 600), (600, 1200)]
    assert [b - a for a, b in split_axis(0, 1000, tile=256, multiple=1)] == [250, 250, 250, 250]
    assert [b - a for a, b in split_axis(0, 33, tile=32, multiple=16)] == [16, 17]
    tiles = plan_tiles(1200, 2100, tile=1024, context=16, multiple=8)
    assert len(tiles) == 2 * 3
    assert sorted({t.core.height for t in tiles}) == [600]
    assert [t.core.width for t in tiles[:3]] == [696, 704, 700]  # 263 units of 8 px: 87, 88, 88


def test_image_that_fits_is_one_tile() -> None:
    (only,) = plan_tiles(37, 53, tile=64, context=16, multiple=8)
    image = Region(0, 0, 37, 53)
    assert only.core == only.read == only.write == image
    assert only.ramps_y == only.ramps_x == ()
    wy, wx = blend_weights(only, 2)
    assert (wy == 1).all() and (wx == 1).all()


def test_seams_sit_where_neighbouring_reads_overlap_least() -> None:
    # context a multiple of the multiple (ASID, Compacter, LIR): seams on the grid, reads = core +- context
    assert (seam_offset(32, 8), seam_overlap(32, 8)) == (0, 64)
    assert (seam_offset(32, 32), seam_overlap(32, 32)) == (0, 64)
    assert (seam_offset(16, 12), seam_overlap(16, 12)) == (6, 36)  # 48 on the grid
    assert (seam_offset(5, 1), seam_overlap(5, 1)) == (0, 10)
    assert (seam_offset(0, 8), seam_overlap(0, 8)) == (0, 0)
    # AST (multiple 128, context 32): mid-cell seams halve the overlap (256 px on the grid)
    assert (seam_offset(32, 128), seam_overlap(32, 128)) == (64, 128)
    assert (seam_offset(5, 12), seam_overlap(5, 12)) == (6, 12)
    tiles = plan_tiles(100, 100, tile=48, context=5, multiple=12)
    middle = next(t for t in tiles if t.core.y0 > 0 and t.core.x0 > 0)
    assert (middle.core.y0, middle.read.y0) == (42, 36)  # 3 cells of 12, then 6 px past the line


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 64), st.sampled_from([1, 2, 7, 8, 16, 32, 128]))
def test_seam_overlap_is_never_worse_than_seams_on_the_grid(context: int, multiple: int) -> None:
    overlap = seam_overlap(context, multiple)
    assert overlap % multiple == 0
    assert 2 * context <= overlap <= 2 * round_up(context, multiple)
    assert overlap < round_up(2 * context, multiple) + multiple  # at most one cell more than any layout


def test_ast_tiles_read_less_with_mid_cell_seams() -> None:
    """A 512 px square at tile 256 for AST: reads of 384 + 256 px per axis (384 + 384 with seams on
    the grid), so 1.56x the pixels run through the model instead of 2.25x."""
    tiles = plan_tiles(512, 512, tile=256, context=32, multiple=128)
    assert [(t.read.x0, t.read.x1) for t in tiles[:2]] == [(0, 384), (256, 512)]
    assert [(t.core.x0, t.core.x1) for t in tiles[:2]] == [(0, 320), (320, 512)]
    assert processed_fraction(tiles, 512, 512) == pytest.approx((640 / 512) ** 2)


def test_blend_band_stays_within_context_and_zero_means_hard_seams() -> None:
    for t in plan_tiles(300, 300, tile=100, context=16, multiple=1):  # default band: context // 2
        assert t.core.y0 - t.write.y0 in (0, 4) and t.write.y1 - t.core.y1 in (0, 4)
    for t in plan_tiles(300, 300, tile=100, context=16, multiple=1, blend=100):  # clamped to context
        assert t.core.y0 - t.write.y0 in (0, 16)
    for t in plan_tiles(300, 300, tile=100, context=16, multiple=1, blend=0):
        assert t.write == t.core
        assert t.ramps_y == t.ramps_x == ()


def test_pure_crop_without_context() -> None:
    tiles = plan_tiles(50, 70, tile=20, context=0, multiple=1)
    assert all(t.read == t.core == t.write for t in tiles)
    np.testing.assert_array_equal(_weight_sum(tiles, 50, 70), 1.0)


@settings(max_examples=60, deadline=None)
@given(plan_args, st.integers(4, 64), st.data())
def test_subdivided_plan_stays_a_partition(args: dict, smaller: int, data: st.DataObject) -> None:
    h, w = args["height"], args["width"]
    tiles = _plan(args)
    split_from = data.draw(st.integers(0, len(tiles) - 1))  # tiles before it are "finished"
    kwargs = {"height": h, "width": w, "tile": smaller, "context": args["context"]}
    kwargs |= {"multiple": args["multiple"], "blend": args["blend"]}
    rest: list[Tile] = []
    for parent in tiles[split_from:]:
        children = subdivide(parent, **kwargs)
        core = parent.core
        assert (_core_cover(children, h, w)[core.y0 : core.y1, core.x0 : core.x1] == 1).all()
        assert sum(c.core.area for c in children) == core.area
        assert all(_contains(parent.write, c.write) and _contains(c.read, c.write) for c in children)
        assert all(c.read.y0 % args["multiple"] == 0 and c.read.x0 % args["multiple"] == 0 for c in children)
        rest += children
    replanned = tiles[:split_from] + renumber(rest, first=split_from)
    assert [t.index for t in replanned] == list(range(len(replanned)))
    assert (_core_cover(replanned, h, w) == 1).all()
    np.testing.assert_allclose(_weight_sum(replanned, h, w, 2), 1.0, atol=1e-6)


def test_children_weights_sum_to_the_parent_weight() -> None:
    tiles = plan_tiles(150, 170, tile=64, context=16, multiple=8)
    for parent in tiles:
        children = subdivide(parent, height=150, width=170, tile=24, context=16, multiple=8)
        assert len(children) > 1
        np.testing.assert_allclose(
            _weight_sum(children, 150, 170), _weight_sum([parent], 150, 170), atol=1e-6
        )


def test_subdividing_a_tile_that_fits_returns_it() -> None:
    tiles = plan_tiles(100, 100, tile=40, context=16, multiple=8)
    for t in tiles:
        (same,) = subdivide(t, height=100, width=100, tile=64, context=16, multiple=8)
        assert same == Tile(0, t.core, t.read, t.write, t.ramps_y, t.ramps_x)


def test_halved_tile_steps_down_to_the_floor() -> None:
    sizes = [512]
    while (nxt := halved_tile(sizes[-1], multiple=8, min_tile=32)) is not None:
        sizes.append(nxt)
    assert sizes == [512, 256, 128, 64, 32]
    assert halved_tile(40, multiple=8, min_tile=32) == 32
    assert halved_tile(115, multiple=1, min_tile=32) == 58  # a 115 px core splits into two, not three
    assert halved_tile(100, multiple=12, min_tile=32) == 60
    assert halved_tile(60, multiple=12, min_tile=32) == 36  # floor: 32 rounded up to 12s
    assert halved_tile(48, multiple=12, min_tile=32) == 36
    assert halved_tile(36, multiple=12, min_tile=32) is None
    assert halved_tile(16, multiple=16, min_tile=4) is None


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.sampled_from([1, 4, 8, 16]), st.integers(1, 64))
def test_halved_tile_always_shrinks_and_splits_in_two(current: int, multiple: int, min_tile: int) -> None:
    smaller = halved_tile(current, multiple=multiple, min_tile=min_tile)
    if smaller is None:
        assert current <= max(multiple, -(-min_tile // multiple) * multiple)
        return
    assert smaller < current and smaller % multiple == 0 and smaller >= min_tile
    if current % multiple == 0 and smaller > max(multiple, -(-min_tile // multiple) * multiple):
        assert len(split_axis(0, current, tile=smaller, multiple=multiple)) == 2


def test_processed_fraction_matches_the_measured_overhead_table() -> None:
    # performance.md §2.3: 4000x3000, balanced tiles, 512 px with 16 px context -> 1.11
    tiles = plan_tiles(3000, 4000, tile=512, context=16, multiple=1)
    assert processed_fraction(tiles, 3000, 4000) == pytest.approx(1.11, abs=0.005)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1x1"):
        plan_tiles(0, 5, tile=8, context=0, multiple=1)
    with pytest.raises(ValueError):
        plan_tiles(5, 5, tile=0, context=0, multiple=1)
    with pytest.raises(ValueError):
        plan_tiles(5, 5, tile=8, context=-1, multiple=1)
    with pytest.raises(ValueError, match="offset"):
        split_axis(0, 10, tile=4, multiple=2, offset=2)
