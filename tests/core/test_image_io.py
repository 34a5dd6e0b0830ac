"""Tests for irstudio.core.image_io: faithful reading/writing, metadata, safety. Every file is made here."""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageCms, ImageFile, ImageOps

from irstudio.core.image_io import (
    DEFAULT_MAX_PIXELS,
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    ImageInfo,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    UnreadableImageError,
    encoders,
    header,
    probe_image,
    read_image,
    resize_alpha,
    to_uint8,
    write_image,
)

# ---------------------------------------------------------------------------------------------- helpers


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _craft_png(width: int, height: int, depth: int, color_type: int, rows: list[bytes], extra=b"") -> bytes:
    """A PNG built by hand: IHDR, optional extra chunks, one IDAT (filter 0 per row), IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _insert_after_ihdr(png: bytes, chunk: bytes) -> bytes:
    return png[:33] + chunk + png[33:]


def _as_int(values: np.ndarray, max_value: int) -> np.ndarray:
    return np.rint(values.astype(np.float64) * max_value).astype(np.int64)


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[271] = "IRStudioCam"
    exif[272] = "Model 1"
    if orientation is not None:
        exif[274] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2021:02:03 04:05:06"
    sub[0xA002] = 3
    sub[0xA003] = 2
    return exif


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------- constants


def test_suffix_sets_and_default_limit() -> None:
    base_read = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
    optional_read = {".heic", ".heif", ".hif", ".avif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf"}
    assert base_read | optional_read <= READ_SUFFIXES  # optional formats: see test_image_io_formats
    base_write = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"}
    assert base_write <= WRITE_SUFFIXES <= base_write | {".heic", ".heif", ".avif"}
    assert DEFAULT_MAX_PIXELS == 200_000_000


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_lossless_round_trip_is_exact(tmp_path: Path, rng, suffix: str, depth: int, with_alpha: bool) -> None:
    max_value = 255 if depth == 8 else 65535
    dtype = np.uint8 if depth == 8 else np.uint16
    pixels = rng.integers(0, max_value + 1, size=(13, 17, 3), dtype=dtype)
    pixels[0, 0] = 0
    pixels[0, 1] = max_value
    alpha = rng.integers(0, max_value + 1, size=(13, 17), dtype=dtype) if with_alpha else None

    written = write_image(tmp_path / f"out{suffix}", pixels, alpha=alpha)
    loaded = read_image(written)

    assert loaded.info.bit_depth == depth
    assert loaded.info.format == ("PNG" if suffix == ".png" else "TIFF")
    assert (loaded.info.width, loaded.info.height) == (17, 13)
    assert loaded.info.has_alpha is with_alpha
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.flags.c_contiguous
    assert loaded.rgb.shape == (13, 17, 3)
    np.testing.assert_array_equal(_as_int(loaded.rgb, max_value), pixels)
    if with_alpha:
        assert loaded.alpha is not None and loaded.alpha.dtype == np.float32
        np.testing.assert_array_equal(_as_int(loaded.alpha, max_value), alpha)
    else:
        assert loaded.alpha is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_written_files_decode_identically_in_other_readers(tmp_path: Path, rng, suffix: str) -> None:
    pixels16 = rng.integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
    pixels8 = rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)
    path16 = write_image(tmp_path / f"a16{suffix}", pixels16)
    path8 = write_image(tmp_path / f"a8{suffix}", pixels8)
    np.testing.assert_array_equal(cv2.imread(str(path16), cv2.IMREAD_UNCHANGED)[..., ::-1], pixels16)
    np.testing.assert_array_equal(np.asarray(Image.open(path8)), pixels8)


def test_float_input_is_rounded_half_up_and_clipped(tmp_path: Path) -> None:
    rgb = np.array([[[-0.5, 0.0, 0.5], [1.0, 1.5, 0.25]]], dtype=np.float32)
    loaded = read_image(write_image(tmp_path / "f.png", rgb, bit_depth=8))
    np.testing.assert_array_equal(_as_int(loaded.rgb, 255), [[[0, 0, 128], [255, 255, 64]]])


@pytest.mark.parametrize(("suffix", "tolerance"), [(".jpg", 4.0), (".jpeg", 4.0), (".webp", 4.0)])
def test_lossy_formats_round_trip_closely(tmp_path: Path, suffix: str, tolerance: float) -> None:
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    rgb = np.stack([x / 63, y / 47, (x + y) / 110], axis=-1).astype(np.float32)
    loaded = read_image(write_image(tmp_path / f"smooth{suffix}", rgb, quality=95))
    assert loaded.rgb.shape == rgb.shape
    mean_error = np.abs(loaded.rgb - rgb).mean() * 255
    assert mean_error < tolerance


def test_jpeg_quality_changes_the_file(tmp_path: Path, rng) -> None:
    rgb = rng.random((32, 32, 3)).astype(np.float32)
    low = write_image(tmp_path / "low.jpg", rgb, quality=10)
    high = write_image(tmp_path / "high.jpg", rgb, quality=98)
    assert low.stat().st_size < high.stat().st_size


def test_bmp_is_read_exactly(tmp_path: Path, rng) -> None:
    pixels = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.bmp")
    loaded = read_image(tmp_path / "a.bmp")
    assert loaded.info.format == "BMP" and loaded.info.bit_depth == 8
    np.testing.assert_array_equal(_as_int(loaded.rgb, 255), pixels)


def test_content_decides_the_format_not_the_suffix(tmp_path: Path, rng) -> None:
    pixels = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "really_png.jpg", format="PNG")
    loaded = read_image(tmp_path / "really_png.jpg")
    assert loaded.info.format == "PNG"
    np.testing.assert_array_equal(_as_int(loaded.rgb, 255), pixels)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pixels=hnp.arrays(
        np.uint16,
        st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3)),
        elements=st.integers(0, 65535),
    )
)
def test_property_small_arrays_round_trip_16bit_png_exactly(tmp_path: Path, pixels: np.ndarray) -> None:
    path = write_image(tmp_path / "prop.png", pixels, overwrite=True)
    loaded = read_image(path)
    assert loaded.info.bit_depth == 16
    np.testing.assert_array_equal(_as_int(loaded.rgb, 65535), pixels)
    # and the float form written back gives the same integers (float32 keeps 16 bits exactly)
    again = read_image(write_image(tmp_path / "prop2.png", loaded.rgb, bit_depth=16, overwrite=True))
    np.testing.assert_array_equal(_as_int(again.rgb, 65535), pixels)


# ---------------------------------------------------------------------------------------------- orientation

# Stored pixels S[r, c] = 10 * r + c (2 rows, 3 columns); what a viewer shows for each EXIF orientation.
_STORED = np.array([[0, 1, 2], [10, 11, 12]])
_UPRIGHT = {
    1: [[0, 1, 2], [10, 11, 12]],
    2: [[2, 1, 0], [12, 11, 10]],  # mirrored left-right
    3: [[12, 11, 10], [2, 1, 0]],  # rotated 180
    4: [[10, 11, 12], [0, 1, 2]],  # mirrored top-bottom
    5: [[0, 10], [1, 11], [2, 12]],  # transposed: row 0 is the left column, read downwards
    6: [[10, 0], [11, 1], [12, 2]],  # row 0 is the right column, read downwards (rotate 90 cw)
    7: [[12, 2], [11, 1], [10, 0]],  # row 0 is the right column, read upwards (transverse)
    8: [[2, 12], [1, 11], [0, 10]],  # row 0 is the left column, read upwards (rotate 90 ccw)
}


def _marker_image() -> np.ndarray:
    """(2, 3, 3) uint8 where each pixel encodes its stored position (R = 10 r + c, G, B distinct)."""
    return np.stack([_STORED * 5, 255 - _STORED * 5, _STORED * 3], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_pixels(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(_marker_image()).save(path, exif=_exif(orientation))

    loaded = read_image(path)

    upright = np.asarray(_UPRIGHT[orientation])
    assert loaded.info.orientation == orientation
    assert (loaded.info.height, loaded.info.width) == upright.shape
    assert loaded.rgb.flags.c_contiguous and loaded.rgb.shape == (*upright.shape, 3)
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), upright * 5)
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 1], 255), 255 - upright * 5)
    # Pillow's own exif_transpose agrees
    with Image.open(path) as reference:
        np.testing.assert_array_equal(
            _as_int(loaded.rgb, 255), np.asarray(ImageOps.exif_transpose(reference))
        )


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_applies_to_16bit_png_and_its_alpha(tmp_path: Path, orientation: int) -> None:
    stored = (_STORED * 1000 + 7).astype(np.uint16)
    rgba = np.stack([stored, stored + 1, stored + 2, stored + 3], axis=-1)
    rows = [row.astype(">u2").tobytes() for row in rgba]
    exif_chunk = _png_chunk(b"eXIf", _exif(orientation).tobytes()[6:])
    (tmp_path / "o16.png").write_bytes(_craft_png(3, 2, 16, 6, rows, extra=exif_chunk))

    loaded = read_image(tmp_path / "o16.png")

    upright = np.asarray(_UPRIGHT[orientation]) * 1000 + 7
    assert loaded.info.bit_depth == 16 and loaded.info.orientation == orientation
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 65535), upright)
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 2], 65535), upright + 2)
    np.testing.assert_array_equal(_as_int(loaded.alpha, 65535), upright + 3)
    assert loaded.alpha.flags.c_contiguous


def test_tiff_orientation_tag_is_applied(tmp_path: Path) -> None:
    Image.fromarray(_marker_image()).save(tmp_path / "o.tif", exif=_exif(6))
    loaded = read_image(tmp_path / "o.tif")
    assert loaded.info.orientation == 6
    assert (loaded.info.width, loaded.info.height) == (2, 3)
    assert (probe_image(tmp_path / "o.tif").width, probe_image(tmp_path / "o.tif").height) == (2, 3)
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), np.asarray(_UPRIGHT[6]) * 5)


@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_orientation_applies_to_16bit_tiff(tmp_path: Path, orientation: int) -> None:
    stored = (_STORED * 1000 + 7).astype(np.uint16)
    rgb = np.stack([stored, stored + 1, stored + 2], axis=-1)
    with open(tmp_path / "o16.tif", "wb") as fp:  # our TIFF writer, given a tagged orientation
        encoders._write_tiff(fp, rgb, icc=None, exif=_exif(orientation).tobytes())
    loaded = read_image(tmp_path / "o16.tif")
    upright = np.asarray(_UPRIGHT[orientation])
    assert loaded.info.bit_depth == 16 and loaded.info.orientation == orientation
    assert (loaded.info.height, loaded.info.width) == upright.shape
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 1], 65535), upright * 1000 + 8)


def test_invalid_orientation_is_treated_as_upright(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[274] = 42
    Image.fromarray(_marker_image()).save(tmp_path / "bad.png", exif=exif)
    loaded = read_image(tmp_path / "bad.png")
    assert loaded.info.orientation == 1
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), _STORED * 5)


# ---------------------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_exif_is_carried_with_orientation_reset(tmp_path: Path, suffix: str) -> None:
    source_path = tmp_path / "source.jpg"
    Image.fromarray(_marker_image()).save(source_path, exif=_exif(6), quality=100)
    source = read_image(source_path)
    assert source.info.exif is not None and source.info.orientation == 6

    out = write_image(tmp_path / f"out{suffix}", source.rgb, source=source.info)
    written = read_image(out)

    assert written.info.orientation == 1
    assert (written.info.width, written.info.height) == (source.info.width, source.info.height)
    np.testing.assert_allclose(written.rgb, source.rgb, atol=12 / 255)  # not rotated a second time
    exif = Image.Exif()
    exif.load(written.info.exif)
    assert exif[271] == "IRStudioCam" and exif[272] == "Model 1" and exif[274] == 1
    sub = exif.get_ifd(0x8769)
    assert sub[0x9003] == "2021:02:03 04:05:06"
    assert (sub[0xA002], sub[0xA003]) == (2, 3)  # pixel dimensions follow the written image
    with Image.open(out) as reopened:  # an ordinary reader sees the same
        assert reopened.getexif().get(274) == 1
        assert reopened.getexif().get(271) == "IRStudioCam"


@pytest.mark.parametrize(
    ("suffix", "depth"), [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".jpg", 8), (".webp", 8)]
)
def test_icc_profile_is_carried(tmp_path: Path, rng, suffix: str, depth: int) -> None:
    icc = _srgb_profile()
    source_path = tmp_path / "source.png"
    Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(source_path, icc_profile=icc)
    source = read_image(source_path)
    assert source.info.icc_profile == icc

    out = write_image(tmp_path / f"out{suffix}", source.rgb, source=source.info, bit_depth=depth)

    assert probe_image(out).icc_profile == icc
    with Image.open(out) as reopened:
        assert reopened.info.get("icc_profile") == icc


def test_icc_profile_of_another_colour_space_is_not_written(tmp_path: Path) -> None:
    grey_profile = bytes(16) + b"GRAY" + bytes(108)
    source = ImageInfo(
        path=tmp_path / "grey.png",
        format="PNG",
        width=2,
        height=2,
        bit_depth=8,
        mode="L",
        has_alpha=False,
        icc_profile=grey_profile,
        exif=None,
        orientation=1,
    )
    out = write_image(tmp_path / "out.png", np.zeros((2, 2, 3), np.float32), source=source)
    assert probe_image(out).icc_profile is None


def test_bit_depth_follows_the_source_by_default(tmp_path: Path, rng) -> None:
    rgb = rng.random((4, 4, 3)).astype(np.float32)
    deep = ImageInfo(tmp_path / "s.png", "PNG", 4, 4, 16, "RGB", False, None, None, 1)
    shallow = ImageInfo(tmp_path / "s.png", "PNG", 4, 4, 8, "RGB", False, None, None, 1)
    assert probe_image(write_image(tmp_path / "a.png", rgb, source=deep)).bit_depth == 16
    assert probe_image(write_image(tmp_path / "b.tif", rgb, source=deep)).bit_depth == 16
    assert probe_image(write_image(tmp_path / "c.png", rgb, source=shallow)).bit_depth == 8
    assert probe_image(write_image(tmp_path / "d.png", rgb)).bit_depth == 8
    assert probe_image(write_image(tmp_path / "e.jpg", rgb, source=deep)).bit_depth == 8
    assert probe_image(write_image(tmp_path / "f.png", (rgb * 65535).astype(np.uint16))).bit_depth == 16
    assert probe_image(write_image(tmp_path / "g.png", rgb, source=deep, bit_depth=8)).bit_depth == 8


# ---------------------------------------------------------------------------------------------- colour modes


def test_grey_becomes_equal_rgb_channels(tmp_path: Path, rng) -> None:
    grey = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    loaded = read_image(tmp_path / "g.png")
    assert loaded.info.mode == "L" and loaded.alpha is None
    for channel in range(3):
        np.testing.assert_array_equal(_as_int(loaded.rgb[..., channel], 255), grey)


def test_bilevel_becomes_black_and_white(tmp_path: Path) -> None:
    bits = np.array([[True, False, True], [False, True, False]])
    Image.fromarray(bits).convert("1").save(tmp_path / "b.png")
    loaded = read_image(tmp_path / "b.png")
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 1], 255), bits * 255)


def test_16bit_grey_keeps_full_precision(tmp_path: Path, rng) -> None:
    grey = rng.integers(0, 65536, (5, 6), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    loaded = read_image(tmp_path / "g16.png")
    assert loaded.info.bit_depth == 16
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 2], 65535), grey)


def test_grey_with_alpha(tmp_path: Path) -> None:
    la = np.array([[[10, 0], [20, 128]], [[30, 200], [40, 255]]], dtype=np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    loaded = read_image(tmp_path / "la.png")
    assert loaded.info.has_alpha and loaded.info.mode == "LA"
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 255), la[..., 0])
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 1], 255), la[..., 0])
    np.testing.assert_array_equal(_as_int(loaded.alpha, 255), la[..., 1])


def test_16bit_grey_with_alpha_keeps_full_precision(tmp_path: Path) -> None:
    la = np.array([[[1000, 65535], [40000, 123]]], dtype=np.uint16)
    (tmp_path / "la16.png").write_bytes(_craft_png(2, 1, 16, 4, [la[0].astype(">u2").tobytes()]))
    loaded = read_image(tmp_path / "la16.png")
    assert loaded.info.bit_depth == 16 and loaded.info.has_alpha
    np.testing.assert_array_equal(_as_int(loaded.rgb[..., 0], 65535), [[1000, 40000]])
    np.testing.assert_array_equal(_as_int(loaded.alpha, 65535), [[65535, 123]])


def test_16bit_colour_key_transparency(tmp_path: Path) -> None:
    rows = [np.array([1000, 2000, 3000, 5, 6, 7], dtype=">u2").tobytes()]
    trns = _png_chunk(b"tRNS", struct.pack(">HHH", 1000, 2000, 3000))
    (tmp_path / "key.png").write_bytes(_craft_png(2, 1, 16, 2, rows, extra=trns))
    loaded = read_image(tmp_path / "key.png")
    assert loaded.info.has_alpha
    np.testing.assert_array_equal(loaded.alpha, [[0.0, 1.0]])
    np.testing.assert_array_equal(_as_int(loaded.rgb, 65535), [[[1000, 2000, 3000], [5, 6, 7]]])


def test_palette_with_transparency(tmp_path: Path) -> None:
    palette_image = Image.new("P", (3, 1))
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette_image.putdata([0, 1, 2])
    palette_image.save(tmp_path / "p.png", transparency=bytes([255, 0, 128]))

    loaded = read_image(tmp_path / "p.png")

    assert loaded.info.mode == "P" and loaded.info.has_alpha
    np.testing.assert_array_equal(_as_int(loaded.rgb, 255), [[[255, 0, 0], [0, 255, 0], [0, 0, 255]]])
    np.testing.assert_array_equal(_as_int(loaded.alpha, 255), [[255, 0, 128]])


def test_palette_without_transparency_has_no_alpha(tmp_path: Path) -> None:
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([10, 20, 30, 40, 50, 60] + [0] * (256 * 3 - 6))
    palette_image.putdata([1, 0])
    palette_image.save(tmp_path / "p.png")
    loaded = read_image(tmp_path / "p.png")
    assert loaded.alpha is None and not loaded.info.has_alpha
    np.testing.assert_array_equal(_as_int(loaded.rgb, 255), [[[40, 50, 60], [10, 20, 30]]])


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    # pure inks in 8x8 blocks, so JPEG keeps them nearly exact
    inks = [(0, 255, 255, 0), (255, 0, 255, 0), (255, 255, 0, 0), (0, 0, 0, 0), (0, 0, 0, 255)]
    expected = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)]
    cmyk = Image.new("CMYK", (8 * len(inks), 8))
    for index, ink in enumerate(inks):
        cmyk.paste(ink, (8 * index, 0, 8 * index + 8, 8))
    cmyk.save(tmp_path / "cmyk.jpg", quality=100)

    loaded = read_image(tmp_path / "cmyk.jpg")

    assert loaded.info.mode == "CMYK"
    centres = _as_int(loaded.rgb[4, 4::8], 255)
    np.testing.assert_allclose(centres, expected, atol=6)


# ---------------------------------------------------------------------------------------------- alpha


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_alpha_is_kept_and_reattached(tmp_path: Path, rng, suffix: str) -> None:
    rgba = rng.integers(0, 256, (8, 9, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rgba[..., 3] > 128, 255, 0)  # crisp alpha survives lossy WebP exactly
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "src.png")
    source = read_image(tmp_path / "src.png")
    assert source.info.has_alpha

    out = write_image(tmp_path / f"out{suffix}", source.rgb, alpha=source.alpha, source=source.info)
    written = read_image(out)

    assert written.alpha is not None
    np.testing.assert_array_equal(_as_int(written.alpha, 255), rgba[..., 3])


def test_jpeg_drops_alpha(tmp_path: Path) -> None:
    out = write_image(tmp_path / "a.jpg", np.full((4, 4, 3), 0.5, np.float32), alpha=np.ones((4, 4)))
    assert read_image(out).alpha is None


def test_resize_alpha_for_super_resolution() -> None:
    alpha = np.zeros((4, 6), np.float32)
    alpha[:, 3:] = 1.0
    up = resize_alpha(alpha, 16, 24)
    assert up.shape == (16, 24) and up.dtype == np.float32
    assert up.min() >= 0.0 and up.max() <= 1.0  # bicubic overshoot is clipped
    assert up[:, :10].max() < 0.05 and up[:, 14:].min() > 0.95
    down = resize_alpha(up, 4, 6)
    np.testing.assert_allclose(down, alpha, atol=0.15)  # the edge blurs a little
    with pytest.raises(ValueError):
        resize_alpha(np.zeros((2, 2, 1)), 4, 4)


def test_alpha_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="resize_alpha"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32), alpha=np.zeros((2, 2), np.float32))
    assert _listing(tmp_path) == []


# ---------------------------------------------------------------------------------------------- refusals


def _assert_unreadable(path: Path) -> None:
    with pytest.raises(UnreadableImageError) as caught:
        read_image(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == path


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_unreadable(tmp_path / "empty.png")
    with pytest.raises(UnreadableImageError, match="empty"):
        probe_image(tmp_path / "empty.png")


def test_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    _assert_unreadable(tmp_path / "nothing.png")
    (tmp_path / "folder.png").mkdir()
    _assert_unreadable(tmp_path / "folder.png")


def test_text_named_png_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not an image\n" * 10)
    _assert_unreadable(tmp_path / "notes.png")


def test_unsupported_image_format_is_refused(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "anim.gif")
    _assert_unreadable(tmp_path / "anim.gif")


@pytest.mark.filterwarnings("ignore:Truncated File Read")  # Pillow's TIFF parser warns, then we refuse
@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a16.png", "a.tif", "a.webp"])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.95, "last-byte"])
def test_truncated_files_are_refused(tmp_path: Path, rng, name: str, fraction) -> None:
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    full = tmp_path / f"full_{name}"
    if name == "a16.png":
        write_image(full, pixels.astype(np.uint16) * 257)
    else:
        Image.fromarray(pixels).save(full, quality=90)
    data = full.read_bytes()
    cut = len(data) - 1 if fraction == "last-byte" else max(1, int(len(data) * fraction))
    truncated = tmp_path / name
    truncated.write_bytes(data[:cut])
    _assert_unreadable(truncated)


def test_header_claiming_huge_size_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_craft_png(100_000, 100_000, 8, 2, [b"\x00" * 30]))

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    for function in (probe_image, read_image):
        with pytest.raises(ImageTooLargeError) as caught:
            function(bomb)
        message = str(caught.value)
        assert "100000x100000" in message and "200,000,000" in message and str(bomb) in message


def test_webp_header_claiming_huge_size_is_refused(tmp_path: Path) -> None:
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (16383 - 1).to_bytes(3, "little") * 2
    (tmp_path / "bomb.webp").write_bytes(b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    with pytest.raises(ImageTooLargeError, match="16383x16383"):
        read_image(tmp_path / "bomb.webp")


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    with pytest.raises(ImageTooLargeError, match="20x10"):
        read_image(tmp_path / "a.png", max_pixels=199)
    assert read_image(tmp_path / "a.png", max_pixels=200).rgb.shape == (10, 20, 3)
    assert probe_image(tmp_path / "a.png", max_pixels=None).width == 20


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp", ".jpg", ".bmp"])
def test_pillows_own_bomb_limit_does_not_apply_and_is_left_alone(tmp_path: Path, monkeypatch, suffix) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # 20 x 20 = 400 > 2 x 50: Pillow would refuse
    Image.new("RGB", (20, 20), (10, 200, 30)).save(tmp_path / f"a{suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        loaded = read_image(tmp_path / f"a{suffix}")
    assert loaded.rgb.shape == (20, 20, 3)
    assert Image.MAX_IMAGE_PIXELS == 50
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / f"a{suffix}", max_pixels=399)


def test_probe_reads_the_header_only(tmp_path: Path, monkeypatch) -> None:
    Image.new("RGB", (30, 20)).save(tmp_path / "a.png", exif=_exif(8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((4, 5, 3), np.uint16))

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    info = probe_image(tmp_path / "a.png")
    assert (info.width, info.height, info.orientation, info.bit_depth) == (20, 30, 8, 8)
    assert probe_image(tmp_path / "b.png").bit_depth == 16


@pytest.mark.parametrize(("name", "pillow_decodes", "opencv_decodes"), [("a8.png", 1, 0), ("a16.png", 0, 1)])
def test_pixels_are_decoded_once(tmp_path: Path, monkeypatch, name, pillow_decodes, opencv_decodes) -> None:
    depth = np.uint16 if "16" in name else np.uint8
    write_image(tmp_path / name, np.ones((6, 7, 3), depth))
    calls = {"pillow": 0, "opencv": 0}
    original_getdecoder, original_imdecode = Image._getdecoder, cv2.imdecode

    def counting_getdecoder(*args, **kwargs):  # Pillow makes one decoder per tile it decodes
        calls["pillow"] += 1
        return original_getdecoder(*args, **kwargs)

    def counting_imdecode(*args):
        calls["opencv"] += 1
        return original_imdecode(*args)

    monkeypatch.setattr(Image, "_getdecoder", counting_getdecoder)
    monkeypatch.setattr(cv2, "imdecode", counting_imdecode)
    read_image(tmp_path / name)
    assert calls == {"pillow": pillow_decodes, "opencv": opencv_decodes}


# ------------------------------------------------------------------------------------------ writing safely


def test_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError) as caught:
        write_image(target, np.zeros((2, 2, 3), np.float32))
    assert str(target) in str(caught.value)
    assert target.read_bytes() == b"precious"
    assert _listing(tmp_path) == ["out.png"]

    write_image(target, np.ones((2, 2, 3), np.float32), overwrite=True)
    assert read_image(target).rgb.min() == 1.0
    assert _listing(tmp_path) == ["out.png"]


def test_a_file_appearing_during_the_write_is_not_clobbered(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "race.png"
    original = encoders._write_png

    def write_then_competitor_appears(fp, pixels, **kwargs):
        original(fp, pixels, **kwargs)
        target.write_bytes(b"someone else's")

    monkeypatch.setattr(encoders, "_write_png", write_then_competitor_appears)
    with pytest.raises(OutputExistsError):
        write_image(target, np.zeros((2, 2, 3), np.float32))
    assert target.read_bytes() == b"someone else's"
    assert _listing(tmp_path) == ["race.png"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("encoder bug")])
def test_failed_write_leaves_no_temp_file(tmp_path: Path, monkeypatch, error: Exception) -> None:
    def partial_then_fail(fp, pixels, **kwargs):
        fp.write(b"\x89PNG partial")
        raise error

    monkeypatch.setattr(encoders, "_write_png", partial_then_fail)
    expected = ImageWriteError if isinstance(error, OSError) else RuntimeError
    with pytest.raises(expected) as caught:
        write_image(tmp_path / "out.png", np.zeros((3, 3, 3), np.float32))
    if expected is ImageWriteError:
        assert "No space left on device" in str(caught.value)
    assert _listing(tmp_path) == []


def test_read_only_folder_gives_write_error_and_no_temp(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip(
                "permissions are not enforced for this user (root); covered by the encoder-failure test"
            )
        with pytest.raises(ImageWriteError) as caught:
            write_image(folder / "out.png", np.zeros((2, 2, 3), np.float32))
        assert str(folder / "out.png") in str(caught.value)
        assert _listing(folder) == []
    finally:
        folder.chmod(0o700)


def test_missing_folder_gives_write_error(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "no" / "such" / "out.png", np.zeros((2, 2, 3), np.float32))


def test_bad_arguments_are_refused_without_leaving_files(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), np.float32)
    with pytest.raises(ImageWriteError, match=r"\.gif"):
        write_image(tmp_path / "a.gif", rgb)
    with pytest.raises(ValueError, match="8-bit"):
        write_image(tmp_path / "a.jpg", rgb, bit_depth=16)
    with pytest.raises(ValueError, match="bit_depth"):
        write_image(tmp_path / "a.png", rgb, bit_depth=12)
    with pytest.raises(ValueError, match="quality"):
        write_image(tmp_path / "a.jpg", rgb, quality=0)
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        write_image(tmp_path / "a.png", np.full((2, 2, 3), np.nan, np.float32))
    assert _listing(tmp_path) == []


def test_unicode_and_spaces_in_paths(tmp_path: Path, rng) -> None:
    folder = tmp_path / "Fotos del año ✓"
    folder.mkdir()
    target = folder / "été 写真 №1.tiff"
    pixels = rng.integers(0, 65536, (3, 4, 3), dtype=np.uint16)

    written = write_image(target, pixels)

    assert written == target and _listing(folder) == ["été 写真 №1.tiff"]
    assert probe_image(target).path == target
    np.testing.assert_array_equal(_as_int(read_image(target).rgb, 65535), pixels)
    with pytest.raises(OutputExistsError, match="写真"):
        write_image(target, pixels)


# ---------------------------------------------------------------------------------------------- to_uint8


def test_to_uint8_rounds_half_up_after_clipping(rng) -> None:
    values = np.concatenate(
        [rng.random(100_000, dtype=np.float32), np.float32([0.5, -1.0, 2.0, 0.0, 1.0, 127.5 / 255])]
    )
    product = np.clip(values, 0, 1) * np.float32(255)  # float32, as the papers compute it
    expected = np.floor(product.astype(np.float64) + 0.5)  # exact in float64
    result = to_uint8(values)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, expected)
    assert to_uint8(np.float32([0.5]))[0] == 128 and to_uint8(np.float32([2.0]))[0] == 255
    # equal to the papers' round-half-even everywhere except on exact ties
    papers = np.round(product)
    differs = result != papers
    assert np.all(product[differs] % 1 == 0.5)


def test_to_uint8_contract() -> None:
    already = np.array([1, 2, 3], np.uint8)
    assert to_uint8(already) is already
    with pytest.raises(TypeError):
        to_uint8(np.array([1, 2], np.int32))
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.array([np.nan], np.float32))
    assert to_uint8(np.zeros((2, 3, 3), np.float64)).shape == (2, 3, 3)


# ---------------------------------------------------------------------------------------------- odds and ends


def test_exif_from_a_tiff_keeps_descriptive_tags_only(tmp_path: Path) -> None:
    Image.fromarray(_marker_image()).save(tmp_path / "src.tif", exif=_exif(1))
    info = probe_image(tmp_path / "src.tif")
    exif = Image.Exif()
    exif.load(info.exif)
    assert exif[271] == "IRStudioCam" and exif[272] == "Model 1"
    assert not {256, 257, 258, 259, 273, 279} & set(exif)  # no structural tags of the TIFF
    out = write_image(str(tmp_path / "out.jpg"), read_image(tmp_path / "src.tif").rgb, source=info)
    assert isinstance(out, Path)
    with Image.open(out) as reopened:
        assert reopened.getexif()[271] == "IRStudioCam"


def test_info_records_what_the_file_held(tmp_path: Path) -> None:
    Image.new("RGB", (7, 5), (1, 2, 3)).save(tmp_path / "a.jpg")
    loaded = read_image(tmp_path / "a.jpg")
    info = loaded.info
    assert (info.format, info.mode, info.bit_depth, info.has_alpha) == ("JPEG", "RGB", 8, False)
    assert (info.width, info.height, info.orientation, info.exif, info.icc_profile) == (7, 5, 1, None, None)
    with pytest.raises(AttributeError):
        info.width = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        loaded.rgb = None  # type: ignore[misc]


def test_float64_input_is_accepted(tmp_path: Path, rng) -> None:
    rgb = rng.random((4, 5, 3))
    loaded = read_image(write_image(tmp_path / "d.png", rgb, bit_depth=16))
    np.testing.assert_allclose(loaded.rgb, rgb, atol=0.5 / 65535 + 1e-7)


def test_pillow_limit_is_raised_only_when_needed_and_restored(monkeypatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    limit = header._RaisedLimit(Image, "MAX_IMAGE_PIXELS")
    with limit.at_least(50):
        assert Image.MAX_IMAGE_PIXELS == 100
    with limit.at_least(300):
        assert Image.MAX_IMAGE_PIXELS == 300
        with limit.at_least(200):
            assert Image.MAX_IMAGE_PIXELS == 300
        with limit.at_least(500):
            assert Image.MAX_IMAGE_PIXELS == 500
        assert Image.MAX_IMAGE_PIXELS == 500  # the largest need stays until the last block exits
    assert Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(RuntimeError), limit.at_least(1000):
        raise RuntimeError
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize(
    ("depth", "mode", "alpha", "words"),
    [
        (8, "L", False, "8-bit grey"),
        (16, "I;16", False, "16-bit grey"),
        (8, "LA", True, "8-bit grey + alpha"),
        (16, "RGBA", True, "16-bit RGB + alpha"),
        (8, "P", False, "8-bit palette"),
        (8, "CMYK", False, "8-bit CMYK"),
    ],
)
def test_layouts_are_described_in_words_not_pillow_mode_letters(tmp_path, depth, mode, alpha, words) -> None:
    info = ImageInfo(tmp_path / "a.png", "PNG", 360, 240, depth, mode, alpha, None, None, 1)
    assert info.describe() == f"360×240, {words}"
