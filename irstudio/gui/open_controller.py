"""Getting an image into the app: open dialog, recent files, drag and drop, clipboard, folder strip.

``OpenController`` reads files with ``core.image_io.read_image`` (every format it supports) and
puts them into ``AppState``; an unreadable file gives a message and leaves the current image as it
was. Opening a file remembers its folder and adds it to the recent files, and lists its folder in
the thumbnail strip (thumbnails are made on the "thumbnails" lane).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QObject, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QWidget

from irstudio.core.image_io import READ_SUFFIXES, ImageError, ImageInfo, LoadedImage, read_image
from irstudio.gui.qimage import from_qimage
from irstudio.gui.settings import Settings
from irstudio.gui.state import AppState
from irstudio.gui.tasks import TaskRunner
from irstudio.gui.widgets.thumbnail_strip import ThumbnailStrip, thumbnail_work

__all__ = ["OpenController", "image_from_qimage"]

THUMBNAILS_KEY = "thumbnails"
CLIPBOARD_NAME = "Clipboard"


def image_from_qimage(image: QImage, name: str = "clipboard.png") -> LoadedImage:
    """A pasted or dropped QImage as a ``LoadedImage`` (8-bit RGB, alpha kept, no metadata)."""
    pixels = from_qimage(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    rgb = np.ascontiguousarray(pixels[:, :, :3], dtype=np.float32) / np.float32(255.0)
    alpha = pixels[:, :, 3].astype(np.float32) / np.float32(255.0) if pixels.shape[2] == 4 else None
    height, width = rgb.shape[:2]
    info = ImageInfo(
        path=Path(name),
        format="PNG",
        width=width,
        height=height,
        bit_depth=8,
        mode="RGBA" if alpha is not None else "RGB",
        has_alpha=alpha is not None,
        icc_profile=None,
        exif=None,
        orientation=1,
    )
    return LoadedImage(rgb=rgb, alpha=alpha, info=info)


def _local_images(mime: QMimeData) -> list[Path]:
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in READ_SUFFIXES]


class OpenController(QObject):
    """Opens images into ``state``; ``warn(title, message)`` shows errors."""

    def __init__(
        self,
        *,
        parent: QWidget,
        state: AppState,
        settings: Settings,
        runner: TaskRunner,
        strip: ThumbnailStrip,
        warn: Callable[[str, str], None],
        status: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self._parent, self._state, self._settings = parent, state, settings
        self._runner, self._strip, self._warn, self._status = runner, strip, warn, status
        strip.file_activated.connect(self.open_file)
        runner.progressed.connect(self._on_thumbnail)

    def choose_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(READ_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open a photo", self._settings.last_folder, f"Images ({patterns});;All files (*)"
        )
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        """Show ``path``; a bad file gives a message and leaves the window as it was."""
        path = Path(path)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            loaded = read_image(path)
        except ImageError as error:
            QApplication.restoreOverrideCursor()
            self._warn("Cannot open image", str(error))
            return False
        QApplication.restoreOverrideCursor()
        self._state.set_image(loaded, path)
        self._settings.last_folder = str(path.parent)
        self._settings.add_recent(path)
        self._show_folder(path)
        return True

    def open_image(self, image: LoadedImage, name: str) -> None:
        """Show an image that has no file (pasted, dropped, generated)."""
        self._state.set_image(image, None, name=name)
        self._strip.select(None)

    def paste(self) -> bool:
        """Open the clipboard's image, or the image file it names; False when it holds neither."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and self.drop(mime):
            return True
        text = QGuiApplication.clipboard().text().strip().strip('"')
        if text and Path(text).suffix.lower() in READ_SUFFIXES and Path(text).is_file():
            return self.open_file(Path(text))
        self._status("The clipboard holds no image")
        return False

    # ------------------------------------------------------------------ drag and drop

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        """True when ``mime`` carries an image file we read or image data."""
        return bool(_local_images(mime)) or mime.hasImage()

    def drop(self, mime: QMimeData) -> bool:
        """Open the first image file in ``mime``, else its image data."""
        files = _local_images(mime)
        if files:
            return self.open_file(files[0])
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.open_image(image_from_qimage(image), CLIPBOARD_NAME)
                return True
        return False

    # ------------------------------------------------------------------ recent files

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self._settings.recent_files()
        for path in recent:
            action = menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear recent files", self._settings.clear_recent).setEnabled(bool(recent))

    def _open_recent(self, path: Path) -> None:
        if not self.open_file(path):
            self._settings.remove_recent(path)

    # ------------------------------------------------------------------ folder strip

    def _show_folder(self, path: Path) -> None:
        if self._strip.set_folder(path.parent, path):
            self._runner.submit(THUMBNAILS_KEY, thumbnail_work(self._strip.paths()), lane="thumbnails")

    def _on_thumbnail(self, key: str, item: object) -> None:
        if key == THUMBNAILS_KEY:
            path, pixels = item  # type: ignore[misc]
            self._strip.set_thumbnail(path, pixels)
