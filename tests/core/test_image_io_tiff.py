"""TIFF layouts read through tifffile: every file is written here by tifffile, with the layout named.

Each case failed on the Pillow/OpenCV reader this replaced (planar samples decoded as interleaved
garbage, premultiplied alpha taken as straight, unsigned 32-bit grey read as signed, an Orientation
stored as LONG applied twice, unsupported layouts called "damaged").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from irstudio.core.image_io import UnreadableImageError, probe_image, read_image, write_image


@pytest.fixture
def rgb16() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 65536, (6, 10, 3), dtype=np.uint16)


def _as_int(values: np.ndarray, max_value: int) -> np.ndarray:
    return np.rint(values.astype(np.float64) * max_value).astype(np.int64)


@pytest.mark.parametrize("compression", [None, "zlib", "lzw", "packbits"])
def test_planar_samples_are_read_as_pixels(tmp_path: Path, rgb16: np.ndarray, compression) -> None:
    path = tmp_path / "planar.tif"
    tifffile.imwrite(
        path, np.moveaxis(rgb16, -1, 0), photometric="rgb", planarconfig="separate", compression=compression
    )
    loaded = read_image(path)
    assert (loaded.info.width, loaded.info.height, loaded.info.bit_depth) == (10, 6, 16)
    np.testing.assert_array_equal(_as_int(loaded.rgb, 65535), rgb16)


def test_planar_alpha_is_alpha(tmp_path: Path, rgb16: np.ndarray) -> None:
    alpha = np.arange(60, dtype=np.uint16).reshape(6, 10) * 1000
    planes = np.concatenate([np.moveaxis(rgb16, -1, 0), alpha[None]])
    tifffile.imwrite(
        tmp_path / "p.tif", planes, photometric="rgb", planarconfig="separate", extrasamples=["unassalpha"]
    )
    loaded = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(_as_int(loaded.rgb, 65535), rgb16)
    np.testing.assert_array_equal(_as_int(loaded.alpha, 65535), alpha)


@pytest.mark.parametrize("white", [255, 65535])
def test_associated_alpha_is_unpremultiplied(tmp_path: Path, white: int) -> None:
    dtype = np.uint8 if white == 255 else np.uint16
    straight = np.array([[[0.8, 0.4, 0.2], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]]])
    alpha = np.array([[0.5, 1.0, 0.0]])
    premultiplied = np.rint(straight * alpha[..., None] * white).astype(dtype)
    samples = np.dstack([premultiplied, np.rint(alpha * white).astype(dtype)])
    tifffile.imwrite(tmp_path / "assoc.tif", samples, photometric="rgb", extrasamples=["assocalpha"])
    loaded = read_image(tmp_path / "assoc.tif")
    np.testing.assert_allclose(loaded.rgb[0, :2], straight[0, :2], atol=2.5 / white)
    np.testing.assert_array_equal(loaded.rgb[0, 2], [0, 0, 0])  # fully transparent: no colour
    np.testing.assert_allclose(loaded.alpha, alpha, atol=0.5 / white)
    # Written back, the alpha is straight and so are the colours: the round trip keeps them.
    out = write_image(tmp_path / "out.tif", loaded.rgb, alpha=loaded.alpha, source=loaded.info)
    with tifffile.TiffFile(out) as tif:
        assert [int(kind) for kind in tif.pages.first.extrasamples] == [2]  # unassociated
    np.testing.assert_allclose(read_image(out).rgb[0, :2], straight[0, :2], atol=2.5 / white)


def test_unassociated_alpha_is_kept_as_is(tmp_path: Path) -> None:
    samples = np.array([[[200, 100, 50, 128]]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "unassoc.tif", samples, photometric="rgb", extrasamples=["unassalpha"])
    loaded = read_image(tmp_path / "unassoc.tif")
    np.testing.assert_array_equal(_as_int(loaded.rgb[0, 0], 255), [200, 100, 50])


def test_unspecified_extra_sample_is_not_alpha(tmp_path: Path) -> None:
    samples = np.array([[[200, 100, 50, 7]]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "extra.tif", samples, photometric="rgb", extrasamples=["unspecified"])
    loaded = read_image(tmp_path / "extra.tif")
    assert loaded.alpha is None and not loaded.info.has_alpha
    np.testing.assert_array_equal(_as_int(loaded.rgb[0, 0], 255), [200, 100, 50])


def test_unsigned_32bit_grey_keeps_high_values(tmp_path: Path) -> None:
    grey = np.array([[0, 2**31, 2**32 - 1, 2**30]], dtype=np.uint32)
    tifffile.imwrite(tmp_path / "u32.tif", grey, photometric="minisblack")
    loaded = read_image(tmp_path / "u32.tif")
    assert loaded.info.bit_depth == 32
    np.testing.assert_allclose(loaded.rgb[0, :, 0], grey[0] / (2**32 - 1), rtol=1e-6)
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_signed_samples_clip_negatives_to_black(tmp_path: Path) -> None:
    grey = np.array([[-100, 0, 16383, 32767]], dtype=np.int16)
    tifffile.imwrite(tmp_path / "i16.tif", grey, photometric="minisblack")
    loaded = read_image(tmp_path / "i16.tif")
    np.testing.assert_allclose(loaded.rgb[0, :, 1], [0.0, 0.0, 16383 / 32767, 1.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_samples_are_read_as_values(tmp_path: Path, dtype) -> None:
    rgb = np.array([[[0.25, 0.5, 1.0], [2.0, -1.0, np.nan]]], dtype=dtype)
    tifffile.imwrite(tmp_path / "f.tif", rgb, photometric="rgb")
    loaded = read_image(tmp_path / "f.tif")
    np.testing.assert_allclose(loaded.rgb, [[[0.25, 0.5, 1.0], [1.0, 0.0, 0.0]]])


@pytest.mark.parametrize("stored_as", ["H", "I"])  # SHORT, LONG
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_is_applied_once_whatever_its_tag_type(tmp_path: Path, stored_as, orientation) -> None:
    stored = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40
    path = tmp_path / "o.tif"
    tifffile.imwrite(
        path, stored, photometric="minisblack", extratags=[(274, stored_as, 1, orientation, True)]
    )
    loaded = read_image(path)
    expected = {3: np.rot90(stored, 2), 6: np.rot90(stored, -1), 8: np.rot90(stored, 1)}[orientation]
    assert loaded.info.orientation == orientation
    assert (probe_image(path).height, probe_image(path).width) == expected.shape
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), expected)


def test_miniswhite_is_inverted(tmp_path: Path) -> None:
    grey = np.array([[0, 255, 55]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "w.tif", grey, photometric="miniswhite")
    np.testing.assert_array_equal(_as_int(read_image(tmp_path / "w.tif").rgb[0, :, 0], 255), [255, 0, 200])


def test_twelve_bit_samples_scale_to_their_own_white(tmp_path: Path) -> None:
    grey = np.array([[0, 4095, 2048]], dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g12.tif", grey, photometric="minisblack", bitspersample=12)
    loaded = read_image(tmp_path / "g12.tif")
    np.testing.assert_allclose(loaded.rgb[0, :, 0], [0.0, 1.0, 2048 / 4095], rtol=1e-6)


def test_palette_colours_are_looked_up(tmp_path: Path) -> None:
    colormap = np.zeros((3, 256), dtype=np.uint16)
    colormap[:, 1] = (65535, 0, 0)
    colormap[:, 2] = (0, 32768, 65535)
    indices = np.array([[0, 1, 2]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "pal.tif", indices, photometric="palette", colormap=colormap)
    loaded = read_image(tmp_path / "pal.tif")
    assert loaded.info.mode == "P"
    np.testing.assert_allclose(loaded.rgb[0], [[0, 0, 0], [1, 0, 0], [0, 32768 / 65535, 1]], rtol=1e-6)


def test_cmyk_is_inverted(tmp_path: Path) -> None:
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255]]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "cmyk.tif", cmyk, photometric="separated")
    loaded = read_image(tmp_path / "cmyk.tif")
    np.testing.assert_allclose(loaded.rgb[0], [[1, 1, 1], [0, 1, 1], [0, 0, 0]])


def test_bilevel_is_black_and_white(tmp_path: Path) -> None:
    bits = np.array([[True, False, True, True, False, False, True, False, True]])
    tifffile.imwrite(tmp_path / "bw.tif", bits, photometric="minisblack")
    loaded = read_image(tmp_path / "bw.tif")
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], bits[0].astype(np.float32))


def test_jpeg_compressed_tiff_is_read(tmp_path: Path) -> None:
    rgb = np.full((16, 16, 3), (200, 120, 40), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "j.tif", rgb, photometric="rgb", compression="jpeg")
    np.testing.assert_allclose(read_image(tmp_path / "j.tif").rgb * 255, rgb, atol=3)


def test_multi_page_file_gives_its_first_page(tmp_path: Path, caplog) -> None:
    pages = np.stack([np.full((4, 5), 10, np.uint8), np.full((4, 5), 200, np.uint8)])
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for page in pages:
            writer.write(page, photometric="minisblack")
    loaded = read_image(tmp_path / "pages.tif")
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), pages[0])
    assert "2 pages" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"data": np.zeros((4, 4, 3), np.uint8), "photometric": "cielab"}, "photometric CIELAB"),
        ({"data": np.zeros((4, 4), np.complex64), "photometric": "minisblack"}, "sample format"),
        ({"data": np.zeros((3, 4, 4), np.uint8), "photometric": "minisblack", "volumetric": True}, "depth 3"),
    ],
)
def test_unsupported_layouts_say_so(tmp_path: Path, kwargs, what: str) -> None:
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, **kwargs)
    for function in (probe_image, read_image):
        with pytest.raises(UnreadableImageError, match=r"unsupported TIFF layout \(.*" + what):
            function(path)


def test_damaged_tiff_data_is_damaged_not_unsupported(tmp_path: Path, rgb16: np.ndarray) -> None:
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, rgb16, photometric="rgb", compression="zlib")
    with tifffile.TiffFile(path) as tif:
        strip = tif.pages.first.dataoffsets[0]
    data = bytearray(path.read_bytes())
    data[strip : strip + 40] = b"\xff" * 40  # the compressed strip, not the directory
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableImageError, match="damaged or truncated"):
        read_image(path)


def test_icc_profile_is_read_from_tiff(tmp_path: Path) -> None:
    icc = b"\x00" * 16 + b"RGB " + b"\x00" * 108
    tifffile.imwrite(tmp_path / "icc.tif", np.zeros((2, 2, 3), np.uint8), photometric="rgb", iccprofile=icc)
    assert probe_image(tmp_path / "icc.tif").icc_profile == icc
