"""HEIC/HEIF, AVIF and camera RAW through ``read_image`` (and HEIC/AVIF through ``write_image``).

Every file is made here: HEIC by pillow-heif, AVIF by Pillow's AVIF plugin, and a small CFA DNG (a
Bayer mosaic of a known scene) by tifffile, which LibRaw (rawpy) develops. Tests that need an optional
package skip without it; the missing-package messages are tested by hiding the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from irstudio.core.image_io import (
    RAW_SUFFIXES,
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    ImageTooLargeError,
    ImageWriteError,
    MissingCodecError,
    UnreadableImageError,
    header,
    optional,
    output_bit_depth,
    probe_image,
    read_image,
    reading,
    write_image,
)

# ---------------------------------------------------------------------------------------------- helpers


def _gradient(height: int = 32, width: int = 48) -> np.ndarray:
    """A smooth uint8 RGB image (lossy codecs keep it within a few levels)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 5, y * 7, (x + y) * 3]).astype(np.uint8)


def _quadrants(height: int = 32, width: int = 48) -> np.ndarray:
    """Four flat colours, so a turn or a mirror is unmistakable: red, green / blue, white."""
    pixels = np.empty((height, width, 3), np.uint8)
    half_h, half_w = height // 2, width // 2
    pixels[:half_h, :half_w] = (220, 30, 30)
    pixels[:half_h, half_w:] = (30, 200, 30)
    pixels[half_h:, :half_w] = (30, 30, 220)
    pixels[half_h:, half_w:] = (235, 235, 235)
    return pixels


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[271] = "IRStudioCam"
    exif[272] = "Model 1"
    if orientation is not None:
        exif[274] = orientation
    return exif.tobytes()


def _exif_tags(block: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    assert block is not None
    exif.load(block)
    return exif


def _pillow_heif():
    return pytest.importorskip("pillow_heif")


def _save_heic(path: Path, pixels: np.ndarray, **options) -> Path:
    pillow_heif = _pillow_heif()
    mode = {3: "RGB", 4: "RGBA"}[pixels.shape[2]]
    if pixels.dtype == np.uint16:
        mode += ";16"
    height, width = pixels.shape[:2]
    pillow_heif.from_bytes(mode, (width, height), pixels.tobytes()).save(path, **options)
    return path


def _lossless_heic(path: Path, pixels: np.ndarray) -> Path:
    return _save_heic(path, pixels, quality=-1, chroma=444, matrix_coefficients=0)


def _needs_avif() -> None:
    if optional.avif_plugin() is None:
        pytest.skip("this Pillow has no AVIF support")


# A DNG: a Bayer (RGGB) mosaic of a scene whose camera space is linear sRGB (ColorMatrix1 is the
# XYZ -> linear sRGB matrix, D65), white balance 1:1:1, 12-bit samples.
_XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))
_WHITE = 4095
_RED, _GREEN, _BLUE, _GREY = (0.8, 0.05, 0.05), (0.05, 0.8, 0.05), (0.05, 0.05, 0.8), (0.18, 0.18, 0.18)


def _dng_scene(height: int = 48, width: int = 64) -> np.ndarray:
    """Linear scene: red, green and blue vertical bands under a mid-grey strip (the top 8 rows)."""
    scene = np.empty((height, width, 3))
    third = width // 3
    scene[:, :third] = _RED
    scene[:, third : 2 * third] = _GREEN
    scene[:, 2 * third :] = _BLUE
    scene[:8] = _GREY
    return scene


def _write_dng(path: Path, *, orientation: int = 1, scene: np.ndarray | None = None) -> Path:
    scene = _dng_scene() if scene is None else scene
    height, width = scene.shape[:2]
    channel = np.zeros((height, width), np.intp)  # RGGB: R at (even, even), B at (odd, odd)
    channel[0::2, 1::2] = 1
    channel[1::2, 0::2] = 1
    channel[1::2, 1::2] = 2
    mosaic = np.take_along_axis(scene, channel[..., None], axis=2)[..., 0]
    matrix = [value for row in _XYZ_TO_SRGB for value in (row[0], row[1], row[2])]
    rationals = [part for value in matrix for part in (round(value * 10000), 10000)]
    tags = [
        (254, "I", 1, 0, True),  # NewSubFileType: the main image
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, bytes([0, 1, 1, 2]), True),  # CFAPattern: R G / G B
        (50706, "B", 4, bytes([1, 4, 0, 0]), True),  # DNGVersion
        (50707, "B", 4, bytes([1, 1, 0, 0]), True),  # DNGBackwardVersion
        (271, "s", 0, "IRStudio", True),
        (272, "s", 0, "TestCam 1", True),
        (274, "H", 1, orientation, True),
        (50708, "s", 0, "IRStudio TestCam 1", True),  # UniqueCameraModel
        (50721, "2i", 9, rationals, True),  # ColorMatrix1
        (50728, "2I", 3, [1, 1, 1, 1, 1, 1], True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50717, "I", 1, _WHITE, True),  # WhiteLevel
    ]
    samples = np.round(mosaic * _WHITE).astype(np.uint16)
    tifffile.imwrite(path, samples, photometric=32803, extratags=tags)
    return path


def _rawpy():
    return pytest.importorskip("rawpy")


def _band_means(rgb: np.ndarray, axis: int) -> list[np.ndarray]:
    """Mean colour of the middle of each third of the image along ``axis`` (1: columns, 0: rows),
    away from the edges and the grey strip."""
    size = rgb.shape[axis]
    third = size // 3
    means = []
    for index in range(3):
        start, stop = index * third + 3, (index + 1) * third - 3
        band = rgb[:, start:stop] if axis == 1 else rgb[start:stop]
        band = band[12:-4] if axis == 1 else band[:, 4:-12]
        means.append(band.reshape(-1, 3).mean(axis=0))
    return means


# ---------------------------------------------------------------------------------------------- suffixes


def test_suffix_sets_list_the_new_formats() -> None:
    assert {".heic", ".heif", ".hif", ".avif"} <= READ_SUFFIXES
    assert {".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef"} <= RAW_SUFFIXES
    assert RAW_SUFFIXES <= READ_SUFFIXES
    assert not RAW_SUFFIXES & WRITE_SUFFIXES
    assert all(suffix == suffix.lower() and suffix.startswith(".") for suffix in READ_SUFFIXES)
    assert ({".heic", ".heif"} <= WRITE_SUFFIXES) == optional.heif_encoder_available()
    assert (".avif" in WRITE_SUFFIXES) == optional.avif_encoder_available()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIF"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heixmiaf", "HEIF"),
        (b"\x00\x00\x00\x14ftypmsf1\x00\x00\x00\x00hevc", "HEIF"),
        (b"\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miafMA1B", "AVIF"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "AVIF"),  # AVIF under a HEIF brand
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", "RAW"),  # Canon CR3
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41", None),  # an MP4 video
        (b"FUJIFILMCCD-RAW 0201FF383501", "RAW"),
        (b"IIU\x00\x18\x00\x00\x00", "RAW"),  # Panasonic RW2
        (b"IIRO\x08\x00\x00\x00", "RAW"),  # Olympus ORF
        (b"MMOR\x00\x00\x00\x08", "RAW"),
        (b"\x1a\x00\x00\x00\x00\x00HEAPCCDR", "RAW"),  # Canon CRW
    ],
)
def test_formats_are_identified_by_content(prefix: bytes, expected: str | None) -> None:
    assert header._sniff_format(prefix) == expected


# ---------------------------------------------------------------------------------------------- HEIC / HEIF


def test_heic_round_trip_8bit(tmp_path: Path) -> None:
    _pillow_heif()
    if ".heic" not in WRITE_SUFFIXES:
        pytest.skip("pillow-heif has no HEVC encoder here")
    pixels = _gradient()
    written = write_image(tmp_path / "out.heic", pixels)  # default quality 95: 4:4:4 chroma

    info = probe_image(written)
    loaded = read_image(written, native=True)

    assert (info.format, info.width, info.height, info.bit_depth, info.mode) == ("HEIF", 48, 32, 8, "RGB")
    assert loaded.info == info and loaded.alpha is None
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (32, 48, 3)
    assert np.abs(loaded.rgb.astype(int) - pixels).max() <= 4


def test_lossless_heic_reads_exactly(tmp_path: Path) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    path = _lossless_heic(tmp_path / "exact.heic", pixels)

    loaded = read_image(path)

    assert loaded.rgb.dtype == np.float32 and loaded.rgb.flags.c_contiguous
    np.testing.assert_array_equal(np.rint(loaded.rgb * 255).astype(np.uint8), pixels)


def test_heic_10bit_is_kept_as_16bit_samples(tmp_path: Path) -> None:
    """10-bit samples widened by bit replication: black is 0, white 65535, and each of the 1024 levels
    stays distinct (an 8-bit path would merge them by fours)."""
    values = np.arange(1024, dtype=np.uint16)
    ramp = np.resize(values, (16, 64))  # every 10-bit level once
    ten_bit = np.dstack([ramp, ramp[::-1], np.full_like(ramp, 512)])
    widened = (ten_bit << 6) | (ten_bit >> 4)
    path = _lossless_heic(tmp_path / "deep.heic", widened)

    native = read_image(path, native=True)
    floats = read_image(path)

    assert native.info.bit_depth == 16 and native.info.mode == "RGB"
    assert native.rgb.dtype == np.uint16
    np.testing.assert_array_equal(native.rgb, widened)
    np.testing.assert_array_equal(floats.rgb, widened.astype(np.float32) / np.float32(65535))
    assert native.rgb[..., 0].min() == 0 and native.rgb[..., 0].max() == 65535
    assert len(np.unique(native.rgb[..., 0])) == 1024


def test_heic_orientation_is_applied_exactly_once(tmp_path: Path) -> None:
    """pillow-heif turns an EXIF orientation into the container's irot/imir, which libheif applies
    while decoding: the pixels come upright, as a JPEG with the same EXIF does."""
    pixels = _quadrants()
    path = _save_heic(tmp_path / "turned.heic", pixels, quality=95, chroma=444, exif=_exif(6))
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", quality=95, subsampling=0, exif=_exif(6))

    heic = read_image(path, native=True)
    jpeg = read_image(tmp_path / "turned.jpg", native=True)

    upright = np.rot90(pixels, k=-1)  # orientation 6: turn 90° clockwise to display
    assert heic.rgb.shape == upright.shape == jpeg.rgb.shape
    assert (heic.info.width, heic.info.height) == (32, 48) == (jpeg.info.width, jpeg.info.height)
    assert np.abs(heic.rgb.astype(int) - upright).mean() < 3
    assert np.abs(heic.rgb.astype(int) - jpeg.rgb).mean() < 3
    assert heic.info.orientation == 1
    tags = _exif_tags(heic.info.exif)
    assert tags[274] == 1 and tags[271] == "IRStudioCam"  # the rest of the EXIF is kept


def test_heic_exif_and_icc_are_carried(tmp_path: Path) -> None:
    icc = _srgb_profile()
    path = _save_heic(tmp_path / "tagged.heic", _gradient(), quality=95, exif=_exif(), icc_profile=icc)

    info = read_image(path).info
    assert info.icc_profile == icc
    assert _exif_tags(info.exif)[272] == "Model 1"

    # ... and on to a PNG output, like a JPEG source's
    out = write_image(tmp_path / "out.png", read_image(path).rgb, source=info)
    carried = probe_image(out)
    assert carried.icc_profile == icc and _exif_tags(carried.exif)[272] == "Model 1"


def test_heic_alpha_is_kept(tmp_path: Path) -> None:
    _pillow_heif()
    pixels = _gradient()
    alpha = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (32, 1))
    path = _lossless_heic(tmp_path / "alpha.heic", np.dstack([pixels, alpha]))

    loaded = read_image(path)

    assert loaded.info.has_alpha and loaded.info.mode == "RGBA"
    assert loaded.alpha is not None and loaded.alpha.dtype == np.float32
    np.testing.assert_array_equal(np.rint(loaded.alpha * 255).astype(np.uint8), alpha)
    np.testing.assert_array_equal(np.rint(loaded.rgb * 255).astype(np.uint8), pixels)
    if ".heic" in WRITE_SUFFIXES:
        again = read_image(write_image(tmp_path / "again.heic", loaded.rgb, alpha=loaded.alpha))
        assert again.alpha is not None and np.abs(again.alpha - loaded.alpha).max() <= 3 / 255


def test_heic_too_large_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = _save_heic(tmp_path / "big.heic", _gradient(), quality=90)

    def decode_nothing(*_args):
        raise AssertionError("decoded despite the pixel limit")

    monkeypatch.setattr(reading, "decode_heif", decode_nothing)
    with pytest.raises(ImageTooLargeError, match=r"48x32 pixels"):
        read_image(path, max_pixels=48 * 32 - 1)
    with pytest.raises(ImageTooLargeError):
        probe_image(path, max_pixels=100)


def test_truncated_heic_is_unreadable(tmp_path: Path) -> None:
    data = _save_heic(tmp_path / "whole.heic", _gradient(), quality=90).read_bytes()
    for cut in (len(data) // 2, 40):
        path = tmp_path / f"cut{cut}.heic"
        path.write_bytes(data[:cut])
        with pytest.raises(UnreadableImageError, match="HEIF") as caught:
            read_image(path)
        assert str(path) in str(caught.value)


def test_heic_is_identified_by_content_not_suffix(tmp_path: Path) -> None:
    heic = _save_heic(tmp_path / "photo.heic", _gradient(), quality=90)
    renamed = tmp_path / "photo.jpg"
    renamed.write_bytes(heic.read_bytes())
    png_named_heic = tmp_path / "really_a_png.heic"
    Image.fromarray(_gradient()).save(png_named_heic, format="PNG")

    assert read_image(renamed).info.format == "HEIF"
    assert read_image(png_named_heic).info.format == "PNG"


def test_missing_pillow_heif_is_named(tmp_path: Path, monkeypatch) -> None:
    path = _save_heic(tmp_path / "photo.heic", _gradient(), quality=90)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import pillow_heif now fails

    with pytest.raises(MissingCodecError, match=r"pip install pillow-heif") as caught:
        read_image(path)
    assert caught.value.package == "pillow-heif" and str(path) in str(caught.value)
    assert isinstance(caught.value, UnreadableImageError)
    with pytest.raises(ImageWriteError, match=r"pillow-heif"):
        write_image(tmp_path / "out.heic", _gradient())
    assert not (tmp_path / "out.heic").exists()


# ---------------------------------------------------------------------------------------------- AVIF


def test_avif_round_trip_with_alpha(tmp_path: Path) -> None:
    _needs_avif()
    if ".avif" not in WRITE_SUFFIXES:
        pytest.skip("no AV1 encoder in this Pillow")
    pixels = _gradient()
    alpha = np.tile(np.linspace(0, 1, 48, dtype=np.float32), (32, 1))
    source = read_image(_write_jpeg_with_icc(tmp_path)).info

    written = write_image(tmp_path / "out.avif", pixels, alpha=alpha, source=source)
    loaded = read_image(written, native=True)

    assert (loaded.info.format, loaded.info.bit_depth, loaded.info.mode) == ("AVIF", 8, "RGBA")
    assert np.abs(loaded.rgb.astype(int) - pixels).max() <= 6
    assert loaded.alpha is not None and np.abs(loaded.alpha - alpha).max() <= 6 / 255
    assert loaded.info.icc_profile == source.icc_profile
    assert _exif_tags(loaded.info.exif)[271] == "IRStudioCam"


def _write_jpeg_with_icc(tmp_path: Path) -> Path:
    path = tmp_path / "source.jpg"
    Image.fromarray(_gradient()).save(path, quality=95, icc_profile=_srgb_profile(), exif=_exif())
    return path


def test_avif_orientation_is_applied_exactly_once(tmp_path: Path) -> None:
    """Pillow's AVIF plugin reports irot/imir as the EXIF orientation and leaves the pixels as
    stored: read_image turns them once."""
    _needs_avif()
    pixels = _quadrants()
    path = tmp_path / "turned.avif"
    Image.fromarray(pixels).save(path, quality=95, subsampling="4:4:4", exif=_exif(6))

    loaded = read_image(path, native=True)

    upright = np.rot90(pixels, k=-1)
    assert loaded.info.orientation == 6 and (loaded.info.width, loaded.info.height) == (32, 48)
    assert loaded.rgb.shape == upright.shape
    assert np.abs(loaded.rgb.astype(int) - upright).mean() < 3


def test_truncated_avif_is_unreadable(tmp_path: Path) -> None:
    _needs_avif()
    path = tmp_path / "whole.avif"
    Image.fromarray(_gradient()).save(path, quality=90)
    cut = tmp_path / "cut.avif"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UnreadableImageError, match="AVIF"):
        read_image(cut)


def test_missing_avif_support_is_named(tmp_path: Path, monkeypatch) -> None:
    _needs_avif()
    path = tmp_path / "photo.avif"
    Image.fromarray(_gradient()).save(path, quality=90)
    monkeypatch.setitem(sys.modules, "PIL.AvifImagePlugin", None)

    with pytest.raises(MissingCodecError, match=r"AVIF photos need Pillow"):
        read_image(path)
    with pytest.raises(ImageWriteError, match=r"AVIF photos need Pillow"):
        write_image(tmp_path / "out.avif", _gradient())


# ---------------------------------------------------------------------------------------------- camera RAW


def test_dng_is_developed_into_upright_rgb(tmp_path: Path) -> None:
    rawpy = _rawpy()
    path = _write_dng(tmp_path / "scene.dng")
    with rawpy.imread(str(path)) as raw:  # LibRaw itself takes the file for a Bayer RAW
        assert raw.raw_type == rawpy.RawType.Flat and raw.raw_image.shape == (48, 64)

    loaded = read_image(path)
    info = loaded.info

    assert (info.format, info.bit_depth, info.mode) == ("RAW (IRStudio TestCam 1)", 16, "RGB")
    assert (info.width, info.height, info.orientation, info.has_alpha) == (64, 48, 1, False)
    assert info.icc_profile is None and _exif_tags(info.exif)[271] == "IRStudio"
    assert loaded.rgb.shape == (48, 64, 3) and loaded.rgb.dtype == np.float32 and loaded.alpha is None
    red, green, blue = _band_means(loaded.rgb, axis=1)
    assert red.argmax() == 0 and green.argmax() == 1 and blue.argmax() == 2
    assert red[0] > 0.9 and max(red[1:]) < 0.5  # saturated colours stay saturated
    grey = loaded.rgb[2:6, 4:-4].reshape(-1, 3).mean(axis=0)
    assert np.ptp(grey) < 0.02  # neutral stays neutral under the as-shot white balance


def test_dng_orientation_is_applied_once(tmp_path: Path) -> None:
    _rawpy()
    loaded = read_image(_write_dng(tmp_path / "turned.dng", orientation=6))

    assert loaded.rgb.shape == (64, 48, 3)
    assert (loaded.info.width, loaded.info.height, loaded.info.orientation) == (48, 64, 1)
    assert _exif_tags(loaded.info.exif).get(274, 1) == 1
    # turned 90° clockwise: the left (red) band is now at the top, the grey strip on the right
    red, green, blue = _band_means(loaded.rgb, axis=0)
    assert red.argmax() == 0 and green.argmax() == 1 and blue.argmax() == 2
    grey = loaded.rgb[4:-4, -6:-2].reshape(-1, 3).mean(axis=0)
    assert np.ptp(grey) < 0.02


def test_raw_linear_output_is_darker_in_the_midtones(tmp_path: Path) -> None:
    _rawpy()
    path = _write_dng(tmp_path / "scene.dng")

    srgb = read_image(path)
    linear = read_image(path, raw_output="linear")

    assert linear.rgb.shape == srgb.rgb.shape and linear.info == srgb.info
    grey_srgb = srgb.rgb[2:6, 4:-4].mean()
    grey_linear = linear.rgb[2:6, 4:-4].mean()
    assert grey_linear < grey_srgb - 0.15
    # the same light, two curves: the sRGB value is the linear one through the sRGB transfer function
    expected = 1.055 * grey_linear ** (1 / 2.4) - 0.055
    assert abs(grey_srgb - expected) < 0.01
    # saturated primaries are white-level in both
    assert abs(srgb.rgb[30, 10, 0] - linear.rgb[30, 10, 0]) < 0.02


def test_raw_native_read_keeps_16bit_samples(tmp_path: Path) -> None:
    _rawpy()
    path = _write_dng(tmp_path / "scene.dng")

    native = read_image(path, native=True)
    floats = read_image(path)

    assert native.rgb.dtype == np.uint16
    np.testing.assert_array_equal(native.rgb.astype(np.float32) / np.float32(65535), floats.rgb)
    assert output_bit_depth(tmp_path / "out.png", native.info) == 16


def test_raw_too_large_is_refused_before_developing(tmp_path: Path, monkeypatch) -> None:
    _rawpy()
    path = _write_dng(tmp_path / "scene.dng")

    def develop_nothing(*_args):
        raise AssertionError("developed despite the pixel limit")

    monkeypatch.setattr(reading, "develop_raw", develop_nothing)
    with pytest.raises(ImageTooLargeError, match=r"64x48 pixels"):
        read_image(path, max_pixels=64 * 48 - 1)
    with pytest.raises(ImageTooLargeError):
        probe_image(path, max_pixels=1000)


def test_tiff_based_raw_is_found_by_content_and_by_suffix(tmp_path: Path) -> None:
    _rawpy()
    dng = _write_dng(tmp_path / "scene.dng")
    as_tiff = tmp_path / "scene.tif"
    as_tiff.write_bytes(dng.read_bytes())  # a DNG named .tif is still a RAW (its DNGVersion says so)
    plain_nef = tmp_path / "plain.nef"
    tifffile.imwrite(plain_nef, _gradient(), photometric="rgb")  # a plain TIFF named as a RAW

    assert read_image(as_tiff).info.format.startswith("RAW")
    with pytest.raises(UnreadableImageError, match="not a camera RAW file LibRaw can read"):
        read_image(plain_nef)  # read by LibRaw, which refuses it, never shown as a TIFF
    assert read_image(_plain_tiff(tmp_path)).info.format == "TIFF"


def _plain_tiff(tmp_path: Path) -> Path:
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _gradient(), photometric="rgb")
    return path


def test_truncated_raw_is_unreadable(tmp_path: Path) -> None:
    _rawpy()
    data = _write_dng(tmp_path / "whole.dng").read_bytes()
    path = tmp_path / "cut.dng"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="RAW") as caught:
        read_image(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("scene.dng", None),
        ("fuji.raf", b"FUJIFILMCCD-RAW 0201FF383501X-T3" + bytes(200)),
        ("lumix.rw2", b"IIU\x00\x18\x00\x00\x00" + bytes(200)),
        ("canon.cr3", b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(200)),
    ],
)
def test_missing_rawpy_is_named(tmp_path: Path, monkeypatch, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is None:
        _write_dng(path)
    else:
        path.write_bytes(content)
    monkeypatch.setitem(sys.modules, "rawpy", None)

    with pytest.raises(MissingCodecError, match=r"need the rawpy package: pip install rawpy") as caught:
        read_image(path)
    assert caught.value.package == "rawpy"
    with pytest.raises(MissingCodecError, match="rawpy"):
        probe_image(path)


def test_bad_raw_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="raw_output"):
        read_image(tmp_path / "any.dng", raw_output="bright")


@pytest.mark.parametrize("suffix", [".dng", ".NEF", ".cr2", ".cr3", ".arw", ".raf"])
def test_raw_suffixes_are_never_written(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"photo{suffix}"
    with pytest.raises(ImageWriteError, match="camera RAW files are never written"):
        write_image(target, _gradient())
    with pytest.raises(ImageWriteError, match="never written"):
        output_bit_depth(target)
    assert not target.exists()


def test_an_existing_raw_file_is_never_replaced(tmp_path: Path) -> None:
    original = _write_dng(tmp_path / "scene.dng")
    before = original.read_bytes()
    with pytest.raises(ImageWriteError):
        write_image(original, _gradient(), overwrite=True)
    assert original.read_bytes() == before
