"""Folder-strip thumbnails: TIFF layouts Pillow gets wrong are decoded by the I/O layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
