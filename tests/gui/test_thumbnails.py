"""Folder-strip thumbnails: TIFF layouts Pillow gets wrong, HEIC and RAW are decoded by the I/O layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from irstudio.gui.widgets.thumbnail_strip import _thumbnail


def test_planar_tiff_thumbnail_shows_the_pixels(tmp_path: Path) -> None:
    rgb = np.zeros((200, 100, 3), np.uint16)
    rgb[..., 0] = 65535  # pure red
    tifffile.imwrite(
        tmp_path / "red.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate"
    )
    thumbnail = _thumbnail(tmp_path / "red.tif", 88)
    assert thumbnail is not None and thumbnail.shape == (88, 44, 3)
    np.testing.assert_array_equal(
        thumbnail.reshape(-1, 3)[::97], [[255, 0, 0]] * len(thumbnail.reshape(-1, 3)[::97])
    )


def test_unreadable_tiff_has_no_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"\xff" * 20)
    assert _thumbnail(tmp_path / "bad.tif", 88) is None


def test_heic_and_raw_thumbnails_come_from_the_io_layer(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    pytest.importorskip("rawpy")
    from irstudio.core.image_io import write_image
    from tests.core.test_image_io_formats import _write_dng

    red = np.zeros((60, 120, 3), np.float32)
    red[..., 0] = 1.0
    write_image(tmp_path / "red.heic", red)
    thumbnail = _thumbnail(tmp_path / "red.heic", 88)
    assert thumbnail is not None and thumbnail.shape == (44, 88, 3)
    assert thumbnail[..., 0].mean() > 200 and thumbnail[..., 1].mean() < 40
    raw = _thumbnail(_write_dng(tmp_path / "scene.dng"), 32)
    assert raw is not None and max(raw.shape[:2]) == 32  # developed, not the (absent) embedded preview
