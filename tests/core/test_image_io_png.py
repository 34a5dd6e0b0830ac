"""PNG edge cases that are valid files: trailing data, large ICC profiles, colour chunks, libpng noise.

Each failed before the chunk walker: trailing bytes past 64 KiB called the file truncated, an ICC
profile inflating past 1 MiB refused the file, gAMA/cHRM/sRGB were dropped from the output, and
libpng printed warnings about ancillary chunks before a 16-bit PNG loaded.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from irstudio.core.image_io import UnreadableImageError, read_image, write_image


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _with_chunks(png: bytes, *chunks: bytes) -> bytes:
    return png[:33] + b"".join(chunks) + png[33:]  # right after IHDR


@pytest.fixture(params=[8, 16], ids=["8bit", "16bit"])
def png(request, tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (12, 9, 3), dtype=np.uint8)
    pixels = rgb if request.param == 8 else rgb.astype(np.uint16) * 257
    return write_image(tmp_path / "base.png", pixels), rgb


def test_trailing_data_after_iend_is_valid(tmp_path: Path, png) -> None:
    path, rgb = png
    trailing = tmp_path / "trailing.png"
    trailing.write_bytes(path.read_bytes() + b"\x00garbage" * 40_000)  # 320 KB after IEND
    np.testing.assert_array_equal(np.rint(read_image(trailing).rgb * 255), rgb)


def test_cut_before_iend_is_still_truncated(tmp_path: Path, png) -> None:
    path, _ = png
    cut = tmp_path / "cut.png"
    cut.write_bytes(path.read_bytes()[:-12])  # the whole IEND chunk is gone
    with pytest.raises(UnreadableImageError, match="damaged or truncated"):
        read_image(cut)


def test_large_icc_profile_loads_and_is_kept(tmp_path: Path, png) -> None:
    path, rgb = png
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile += bytes(3_000_000)  # a 3 MB profile (printer profiles with big tables are this size)
    profile[:4] = struct.pack(">I", len(profile))
    big = tmp_path / "big_icc.png"
    big.write_bytes(
        _with_chunks(path.read_bytes(), _chunk(b"iCCP", b"big\x00\x00" + zlib.compress(bytes(profile))))
    )
    loaded = read_image(big)
    assert loaded.info.icc_profile == bytes(profile)
    np.testing.assert_array_equal(np.rint(loaded.rgb * 255), rgb)


def test_gamma_chromaticity_and_srgb_are_carried_to_png(tmp_path: Path, png) -> None:
    path, _ = png
    gama = _chunk(b"gAMA", struct.pack(">I", 100000))  # linear samples
    chrm = _chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    srgb = _chunk(b"sRGB", b"\x01")
    source = tmp_path / "linear.png"
    source.write_bytes(_with_chunks(path.read_bytes(), gama, chrm, srgb))
    loaded = read_image(source)
    out = write_image(tmp_path / "out.png", loaded.rgb, source=loaded.info)
    data = out.read_bytes()
    for chunk in (gama, chrm, srgb):
        assert chunk in data
    with Image.open(out) as written:
        assert written.info["gamma"] == 1.0 and written.info["srgb"] == 1


def test_gamma_that_cannot_be_carried_is_said(tmp_path: Path, png, caplog) -> None:
    path, _ = png
    source = tmp_path / "linear.png"
    source.write_bytes(_with_chunks(path.read_bytes(), _chunk(b"gAMA", struct.pack(">I", 100000))))
    loaded = read_image(source)
    write_image(tmp_path / "out.jpg", loaded.rgb, source=loaded.info)
    assert "gamma" in caplog.text and "JPEG" in caplog.text


def test_libpng_warnings_are_not_printed(tmp_path: Path) -> None:
    base = write_image(tmp_path / "deep.png", np.zeros((4, 4, 3), np.uint16))
    noisy = tmp_path / "noisy.png"
    noisy.write_bytes(
        _with_chunks(base.read_bytes(), _chunk(b"iCCP", b"bad\x00\x00" + zlib.compress(b"x" * 40)))
    )
    code = "import sys; from irstudio.core.image_io import read_image; read_image(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(noisy)], capture_output=True, text=True, check=True
    )
    assert "libpng" not in done.stderr and "warning" not in done.stderr.lower()
