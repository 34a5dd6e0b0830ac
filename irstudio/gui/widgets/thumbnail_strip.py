"""``ThumbnailStrip``: the images of the current folder as a horizontal strip; click to open one.

``set_folder(folder, current)`` lists the folder's images (the suffixes the I/O layer reads,
sorted by name, at most ``MAX_FILES``) with placeholder icons; the window then runs
``thumbnail_work(strip.paths())`` on a worker lane and passes each yielded ``(path, pixels)`` to
``set_thumbnail``. A click emits ``file_activated(Path)``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from irstudio.core import CancelToken
from irstudio.core.image_io import (
    AVIF_SUFFIXES,
    HEIF_SUFFIXES,
    RAW_SUFFIXES,
    READ_SUFFIXES,
    SAMPLE_MAX,
    read_image,
    to_uint8,
)
from irstudio.gui.qimage import to_qimage

__all__ = ["MAX_FILES", "THUMBNAIL_SIZE", "ThumbnailStrip", "folder_images", "thumbnail_work"]

THUMBNAIL_SIZE = 88
MAX_FILES = 1000
_PATH_ROLE = Qt.ItemDataRole.UserRole


def folder_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by suffix), sorted case-insensitively; hidden files skipped."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    images = [
        p for p in entries if p.suffix.lower() in READ_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(images, key=lambda p: p.name.lower())[:MAX_FILES]


_DECODED_BY_IO = frozenset({".tif", ".tiff"}) | HEIF_SUFFIXES | AVIF_SUFFIXES | RAW_SUFFIXES


def _thumbnail(path: Path, size: int) -> np.ndarray | None:
    """A uint8 HxWx3 thumbnail at most ``size`` px, upright; None when the file cannot be read.

    TIFF, HEIC/AVIF and camera RAW files are decoded by the I/O layer (Pillow gets planar,
    premultiplied and 32-bit TIFF layouts wrong, needs plug-ins for HEIC, and would show a RAW's
    embedded preview or nothing); the other formats by Pillow, whose JPEG draft mode decodes at a
    reduced size."""
    if path.suffix.lower() in _DECODED_BY_IO:
        return _thumbnail_of_decoded(path, size)
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size))
            return np.asarray(upright.convert("RGB"))
    except Exception:
        return None


def _thumbnail_of_decoded(path: Path, size: int) -> np.ndarray | None:
    """Decoded in the file's own sample type (not float32: a big scan would cost 12 bytes a pixel),
    shrunk, then made 8-bit."""
    try:
        samples = read_image(path, native=True).rgb
    except Exception:
        return None
    scale = size / max(samples.shape[:2])
    if scale < 1:
        shape = (max(1, round(samples.shape[1] * scale)), max(1, round(samples.shape[0] * scale)))
        samples = cv2.resize(samples, shape, interpolation=cv2.INTER_AREA)
    if samples.dtype == np.uint8:
        return samples
    white = SAMPLE_MAX.get(samples.dtype, 1.0)
    return to_uint8(samples.astype(np.float32) / np.float32(white))


def thumbnail_work(paths: list[Path], size: int = THUMBNAIL_SIZE):
    """Work for a ``TaskRunner`` lane: yields ``(path, pixels or None)`` for each path in order."""

    def work(token: CancelToken):
        for path in paths:
            token.raise_if_cancelled()
            yield path, _thumbnail(path, size)

    return work


class ThumbnailStrip(QListWidget):
    """A one-row icon list of a folder's images."""

    file_activated = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setUniformItemSizes(True)
        self.setFixedHeight(THUMBNAIL_SIZE + 44)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setGridSize(QSize(THUMBNAIL_SIZE + 24, THUMBNAIL_SIZE + 26))
        self._folder: Path | None = None
        self.itemClicked.connect(self._on_clicked)

    def folder(self) -> Path | None:
        return self._folder

    def paths(self) -> list[Path]:
        return [self.item(i).data(_PATH_ROLE) for i in range(self.count())]

    def set_folder(self, folder: Path, current: Path | None = None) -> bool:
        """List ``folder`` (True) or, when it is already listed, only select ``current`` (False)."""
        changed = folder != self._folder
        if changed:
            self._folder = folder
            with QSignalBlocker(self):
                self.clear()
                for path in folder_images(folder):
                    item = QListWidgetItem(path.name)
                    item.setData(_PATH_ROLE, path)
                    item.setToolTip(str(path))
                    item.setSizeHint(self.gridSize())
                    self.addItem(item)
        self.select(current)
        return changed

    def select(self, path: Path | None) -> None:
        with QSignalBlocker(self):
            for i in range(self.count()):
                if self.item(i).data(_PATH_ROLE) == path:
                    self.setCurrentRow(i)
                    self.scrollToItem(self.item(i))
                    return
            self.clearSelection()

    def set_thumbnail(self, path: Path, pixels: np.ndarray | None) -> None:
        if pixels is None:
            return
        icon = QIcon(QPixmap.fromImage(to_qimage(pixels)))
        for i in range(self.count()):
            if self.item(i).data(_PATH_ROLE) == path:
                self.item(i).setIcon(icon)
                return

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.file_activated.emit(item.data(_PATH_ROLE))
