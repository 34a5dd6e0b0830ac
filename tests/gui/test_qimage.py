"""to_qimage / from_qimage round trips and the colour maps."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from irstudio.core.image_io import to_uint8
from irstudio.gui.qimage import COLORMAPS, colormap, colormap_lut, from_qimage, to_qimage


@pytest.fixture(autouse=True)
def _app(qapp):
    return qapp


def test_float_rgb_round_trip_matches_the_8_bit_save_rounding() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((37, 53, 3), dtype=np.float32)  # odd width: rows are padded in the QImage
    qimage = to_qimage(image)
    assert qimage.format() == QImage.Format.Format_RGB888
    assert (qimage.width(), qimage.height()) == (53, 37)
    assert qimage.bytesPerLine() % 4 == 0 and qimage.bytesPerLine() > 53 * 3
    np.testing.assert_array_equal(from_qimage(qimage), to_uint8(image))


def test_uint8_rgb_and_gray_round_trip_exactly_even_from_read_only_views() -> None:
    rgb = (np.arange(29 * 31 * 3) % 256).astype(np.uint8).reshape(29, 31, 3)
    rgb.flags.writeable = False
    np.testing.assert_array_equal(from_qimage(to_qimage(rgb)), rgb)
    gray = rgb[:, :, 1]  # a non-contiguous view
    qimage = to_qimage(gray)
    assert qimage.format() == QImage.Format.Format_Grayscale8
    np.testing.assert_array_equal(from_qimage(qimage), gray)
    np.testing.assert_array_equal(from_qimage(to_qimage(gray[:, :, None])), gray)


def test_float_gray_uint16_and_rgba() -> None:
    gray = np.linspace(0, 1, 5 * 7, dtype=np.float64).reshape(5, 7)
    np.testing.assert_array_equal(from_qimage(to_qimage(gray)), to_uint8(gray))
    wide = np.array([[0, 257, 65535, 128]], dtype=np.uint16)
    np.testing.assert_array_equal(from_qimage(to_qimage(wide)), [[0, 1, 255, 0]])
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 3] = 200
    assert to_qimage(rgba).format() == QImage.Format.Format_RGBA8888
    np.testing.assert_array_equal(from_qimage(to_qimage(rgba)), rgba)


def test_the_qimage_owns_its_pixels_and_out_of_range_or_nan_values_are_safe() -> None:
    image = np.full((4, 6, 3), 0.5, np.float32)
    image[0, 0] = [np.nan, -1.0, 2.0]
    qimage = to_qimage(image)
    image[:] = 0.0  # changing the array afterwards does not change the QImage
    pixels = from_qimage(qimage)
    np.testing.assert_array_equal(pixels[0, 0], [0, 0, 255])
    assert (pixels[1:] == 128).all()


@pytest.mark.parametrize("bad", [np.zeros((0, 4, 3)), np.zeros((4, 4, 2)), np.zeros((2, 2, 2, 3))])
def test_shapes_that_are_not_images_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        to_qimage(bad)


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormap_shape_dtype_and_range(name: str) -> None:
    values = np.linspace(-3.0, 5.0, 6 * 8).reshape(6, 8)
    colours = colormap(values, name)
    assert colours.shape == (6, 8, 3) and colours.dtype == np.uint8
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    np.testing.assert_array_equal(colours[0, 0], lut[0])  # the minimum gets the first colour
    np.testing.assert_array_equal(colours[-1, -1], lut[255])  # the maximum the last
    clipped = colormap(values, name, vmin=0.0, vmax=1.0)
    np.testing.assert_array_equal(clipped[0, 0], lut[0])  # below vmin: first colour
    np.testing.assert_array_equal(clipped[-1, -1], lut[255])  # above vmax: last colour
    middle = colormap(np.array([0.5]), name, vmin=0.0, vmax=1.0)
    np.testing.assert_array_equal(middle[0], lut[128])


def test_colormap_anchor_colours() -> None:
    ends = {name: colormap(np.array([0.0, 1.0]), name) for name in COLORMAPS}
    np.testing.assert_allclose(ends["inferno"][0], [0, 0, 4], atol=3)
    np.testing.assert_allclose(ends["inferno"][1], [252, 255, 164], atol=3)
    np.testing.assert_allclose(ends["viridis"][0], [68, 1, 84], atol=3)
    np.testing.assert_allclose(ends["viridis"][1], [253, 231, 37], atol=3)
    np.testing.assert_array_equal(ends["coolwarm"][0], [59, 76, 192])
    np.testing.assert_array_equal(ends["coolwarm"][1], [180, 4, 38])
    np.testing.assert_allclose(colormap_lut("coolwarm")[127:129].mean(axis=0), [221, 221, 221], atol=2)


@pytest.mark.parametrize("name", ["inferno", "viridis"])
def test_sequential_maps_get_brighter_with_the_value(name: str) -> None:
    lut = colormap_lut(name).astype(np.float64)
    luminance = lut @ np.array([0.2126, 0.7152, 0.0722])
    assert (np.diff(luminance) > -1.0).all()  # monotonic up to 8-bit rounding
    assert luminance[-1] - luminance[0] > 200


def test_colormap_non_finite_values_are_black_and_a_flat_map_uses_the_first_colour() -> None:
    values = np.array([[np.nan, 0.0], [np.inf, 1.0]])
    colours = colormap(values, "viridis")
    np.testing.assert_array_equal(colours[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(colours[1, 0], [0, 0, 0])
    np.testing.assert_array_equal(colours[1, 1], colormap_lut("viridis")[255])  # range from finite values
    flat = colormap(np.full((2, 2), 7.0), "inferno")
    assert (flat == colormap_lut("inferno")[0]).all()
    with pytest.raises(ValueError, match="unknown colour map"):
        colormap(values, "jet")
