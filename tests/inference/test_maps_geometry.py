"""A clicked pixel lands on the right window / grid group and token, checked against the architectures'
own partition functions on coordinate-encoded maps; crops contain the query and keep the window grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from irstudio.core.tiling import Region
from irstudio.inference.maps.geometry import (
    choose_crop,
    grid_token,
    grid_token_positions,
    local_focus,
    place_tokens,
    window_token,
    window_token_positions,
)
from irstudio.models.archs import asid, ast, compacter


def _coordinates(height: int, width: int) -> torch.Tensor:
    """(1, 2, H, W): channel 0 holds the row, channel 1 the column of every pixel."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([ys, xs])[None].float()


@pytest.mark.parametrize("shift", [0, 4])
def test_window_token_matches_compacters_partition(shift: int) -> None:
    height, width, window = 24, 32, 8
    coords = torch.roll(_coordinates(height, width), (-shift, -shift), dims=(2, 3))
    windows = compacter._to_windows(coords.permute(0, 2, 3, 1), heads=1, window=window)  # (nW, 1, 64, 2)
    for y in range(height):
        for x in range(width):
            index, token = window_token(y, x, height=height, width=width, window=window, shift=shift)
            assert windows[index, 0, token].tolist() == [y, x]
    for index in range(windows.shape[0]):
        positions = window_token_positions(index, height=height, width=width, window=window, shift=shift)
        assert np.array_equal(positions, windows[index, 0].numpy().astype(np.int64))


def test_window_token_matches_asts_channels_last_partition() -> None:
    height, width, window, shift = 16, 24, 8, 4
    coords = torch.roll(_coordinates(height, width).permute(0, 2, 3, 1), (-shift, -shift), dims=(1, 2))
    windows = ast.window_partition(coords, window)  # (nW, 64, 2)
    for y, x in [(0, 0), (3, 3), (4, 4), (15, 23), (12, 2), (7, 20)]:
        index, token = window_token(y, x, height=height, width=width, window=window, shift=shift)
        assert windows[index, token].tolist() == [y, x]


def test_grid_and_window_tokens_match_asids_layouts() -> None:
    height, width, window = 32, 48, 8
    coords = _coordinates(height, width)
    grid = asid._grid_tokens(coords, window)  # (groups, 64, 2)
    windows = asid._window_tokens(coords, window)
    for y in range(0, height, 3):
        for x in range(0, width, 5):
            group, token = grid_token(y, x, height=height, width=width, window=window)
            assert grid[group, token].tolist() == [y, x]
            index, token = window_token(y, x, height=height, width=width, window=window)
            assert windows[index, token].tolist() == [y, x]
    for group in range(grid.shape[0]):
        positions = grid_token_positions(group, height=height, width=width, window=window)
        assert np.array_equal(positions, grid[group].numpy().astype(np.int64))


def test_place_tokens_covers_downscaled_squares_and_drops_padding() -> None:
    positions = np.array([[0, 0], [1, 2], [3, 3]])
    out = place_tokens(np.array([1.0, 2.0, 3.0]), positions, downscale=4, shape=(14, 14))
    assert out.shape == (14, 14)
    assert np.all(out[0:4, 0:4] == 1.0)
    assert np.all(out[4:8, 8:12] == 2.0)
    assert np.all(out[12:14, 12:14] == 3.0)  # the square is cut by the border
    assert np.isnan(out).sum() == 14 * 14 - 16 - 16 - 4


def test_local_focus_leaves_out_wrapped_tokens() -> None:
    positions = window_token_positions(3, height=16, width=16, window=8, shift=4)  # the wrapping window
    focus = local_focus(positions, (14, 14), downscale=1, reach=8, shape=(16, 16))
    assert focus == (12, 12, 16, 16)


@settings(max_examples=150, deadline=None)
@given(
    height=st.integers(1, 300),
    width=st.integers(1, 300),
    data=st.data(),
    max_side=st.integers(1, 200),
    multiple=st.sampled_from([1, 8, 32, 128]),
)
def test_choose_crop_contains_the_query_and_keeps_the_grid(height, width, data, max_side, multiple) -> None:
    x = data.draw(st.integers(0, width - 1))
    y = data.draw(st.integers(0, height - 1))
    x0 = data.draw(st.integers(0, width - 1))
    y0 = data.draw(st.integers(0, height - 1))
    region = Region(y0, x0, data.draw(st.integers(y0 + 1, height)), data.draw(st.integers(x0 + 1, width)))
    crop = choose_crop(height, width, region, (x, y), max_side, multiple)
    assert crop.x0 <= x < crop.x1 and crop.y0 <= y < crop.y1
    assert crop.x0 >= 0 and crop.x1 <= width and crop.y0 >= 0 and crop.y1 <= height
    assert crop.x0 % multiple == 0 and crop.y0 % multiple == 0
    limit = -(-max_side // multiple) * multiple + multiple
    assert crop.width <= limit and crop.height <= limit
    block_end = (x // multiple + 1) * multiple, (y // multiple + 1) * multiple  # the query's window
    assert crop.x1 >= min(width, block_end[0]) and crop.y1 >= min(height, block_end[1])


def test_choose_crop_defaults_to_the_region_centre_and_rejects_outside_pixels() -> None:
    crop = choose_crop(100, 200, Region(10, 20, 50, 80), None, 16)
    assert crop == Region(21, 41, 37, 57)  # centre (49, 29), 16 px around it
    with pytest.raises(ValueError, match="outside"):
        choose_crop(100, 200, None, (200, 5), 16)
