"""PNG rendering without Qt or matplotlib: colours, legends, focus panels, charts; colour ranges."""

from __future__ import annotations

import numpy as np
import pytest

from irstudio.inference.maps import Chart, MapImage, Series
from irstudio.inference.maps.ranges import data_range, signed_or_data_range
from irstudio.inference.maps.render import colorize, lut, render_chart, render_map


def test_colorize_maps_the_range_onto_the_table_and_nan_to_black() -> None:
    values = np.array([[0.0, 0.5, 1.0, np.nan], [-1.0, 2.0, 0.25, 0.75]])
    colours = colorize(values, "viridis", 0.0, 1.0)
    table = lut("viridis")
    assert colours.dtype == np.uint8 and colours.shape == (2, 4, 3)
    assert np.array_equal(colours[0, 0], table[0]) and np.array_equal(colours[0, 2], table[255])
    assert np.array_equal(colours[1, 0], table[0]) and np.array_equal(colours[1, 1], table[255])  # clipped
    assert np.array_equal(colours[0, 3], [0, 0, 0])
    cool = lut("coolwarm")
    assert cool[0, 2] > cool[0, 0] and cool[255, 0] > cool[255, 2]  # blue to red
    with pytest.raises(ValueError):
        lut("jet")


def test_render_map_adds_title_colour_bar_and_a_zoomed_focus_panel() -> None:
    values = np.full((32, 48), np.nan, dtype=np.float32)
    values[8:16, 16:24] = np.linspace(0, 1, 64).reshape(8, 8)
    background = np.full((32, 48, 3), 0.5, dtype=np.float32)
    plain = MapImage(key="a", title="plain", values=values, vmin=0.0, vmax=1.0)
    focused = MapImage(
        key="b", title="focused", values=values, vmin=0.0, vmax=1.0, marker=(18, 9), focus=(16, 8, 24, 16)
    )
    one = render_map(plain, background, min_side=96)
    two = render_map(focused, background, min_side=96)
    assert one.dtype == np.uint8 and one.shape[0] == 28 + 96  # title strip + map upscaled x3
    assert two.shape[0] == one.shape[0] and two.shape[1] > one.shape[1] + 90  # second panel
    # a cell without a value shows the dimmed photo (grey), not a colour
    grey = one[28 + 1, 1]
    assert grey[0] == grey[1] == grey[2] and 0 < grey[0] < 128


def test_render_chart_draws_bars_and_curves() -> None:
    bars = Chart(
        key="w", title="weights", style="bars", categories=("a", "b", "c"),
        series=(Series("dense", np.array([0.2, 0.5, 0.8])), Series("sparse", np.array([0.8, 0.5, 0.2]))),
    )  # fmt: skip
    curves = Chart(
        key="s", title="spectra", style="curves", x=np.linspace(0, 0.5, 20), vline=0.25,
        series=(Series("in", np.linspace(3, 0, 20)), Series("none", np.full(20, np.nan))),
    )  # fmt: skip
    for chart in (bars, curves):
        picture = render_chart(chart)
        assert picture.shape == (360, 640, 3) and picture.dtype == np.uint8
        assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 10  # something was drawn


def test_colour_ranges_are_never_empty() -> None:
    assert data_range(np.array([0.2, 0.4, np.nan])) == (0.2, 0.4)
    low, high = data_range(np.full(5, 0.5))
    assert low < 0.5 < high
    assert data_range(np.array([np.nan])) == (0.0, 1.0)
    assert signed_or_data_range(np.array([-0.5, 2.0])) == (-2.0, 2.0, "coolwarm")
    assert signed_or_data_range(np.array([0.7, 0.8])) == (0.7, 0.8, "viridis")
