"""``read_image(native=True)``: 8/16-bit samples kept as integers, exactly what the float32 read
divides; ``output_bit_depth`` agrees with what ``write_image`` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irstudio.core.image_io import (
    ImageInfo,
    ImageWriteError,
    output_bit_depth,
    probe_image,
    read_image,
    write_image,
)
from tests.core.test_image_io import _craft_png, _exif


def _rgb8(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)


def _make_rgb8(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(_rgb8(rng)).save(path)


def _make_rotated(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(_rgb8(rng)).save(path, exif=_exif(6))


def _make_grey8(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 256, (6, 9), dtype=np.uint8), mode="L").save(path)


def _make_grey16(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 65536, (6, 9), dtype=np.uint16)).save(path)


def _make_rgba16(path: Path, rng: np.random.Generator) -> None:
    rgba = rng.integers(0, 65536, (2, 3, 4), dtype=np.uint16)
    path.write_bytes(_craft_png(3, 2, 16, 6, [row.astype(">u2").tobytes() for row in rgba]))


def _make_palette(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(_rgb8(rng)).convert("P").save(path)


def _make_cmyk(path: Path, rng: np.random.Generator) -> None:
    Image.fromarray(_rgb8(rng)).convert("CMYK").save(path, quality=95)


CASES = {
    "rgb8.png": (_make_rgb8, np.uint8),
    "rotated.jpg": (_make_rotated, np.uint8),
    "grey8.png": (_make_grey8, np.uint8),
    "grey16.png": (_make_grey16, np.uint16),
    "rgba16.png": (_make_rgba16, np.uint16),
    "palette.png": (_make_palette, np.uint8),
    "cmyk.jpg": (_make_cmyk, np.uint8),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_native_samples_divide_to_the_float_read_exactly(tmp_path: Path, name: str) -> None:
    make, dtype = CASES[name]
    path = tmp_path / name
    make(path, np.random.default_rng(7))
    floats, native = read_image(path), read_image(path, native=True)
    assert native.rgb.dtype == dtype and native.rgb.flags.c_contiguous
    assert native.rgb.shape == floats.rgb.shape and native.info == floats.info
    scale = float(np.iinfo(dtype).max)
    np.testing.assert_array_equal(np.divide(native.rgb, scale, dtype=np.float32), floats.rgb)
    if floats.alpha is None:
        assert native.alpha is None
    else:
        np.testing.assert_array_equal(native.alpha, floats.alpha)


def test_float_samples_stay_float32(tmp_path: Path) -> None:
    values = np.linspace(-0.5, 1.5, 24, dtype=np.float32).reshape(4, 6)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    native = read_image(tmp_path / "f.tif", native=True)
    assert native.rgb.dtype == np.float32
    np.testing.assert_array_equal(native.rgb, read_image(tmp_path / "f.tif").rgb)


def test_output_bit_depth_is_what_write_image_writes(tmp_path: Path) -> None:
    rgb = np.random.default_rng(3).random((4, 4, 3), dtype=np.float32)
    deep = ImageInfo(tmp_path / "s.png", "PNG", 4, 4, 16, "RGB", False, None, None, 1)
    for suffix in (".png", ".tif", ".jpg", ".webp"):
        for source in (None, deep):
            target = tmp_path / f"out{suffix}" if source is None else tmp_path / f"deep{suffix}"
            written = write_image(target, rgb, source=source)
            assert output_bit_depth(target, source) == probe_image(written).bit_depth
    with pytest.raises(ImageWriteError, match=r"cannot write '\.gif'"):
        output_bit_depth(tmp_path / "x.gif")
