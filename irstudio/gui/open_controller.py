"""Getting an image into the app: open dialog, recent files, drag and drop, clipboard, folder strip.

``OpenController`` reads files with ``core.image_io.read_image`` (every format it supports) and
puts them into ``AppState``; an unreadable file gives a message ("Cannot open image") and leaves
the current image as it was. Opening a file remembers its folder and adds it to the recent files,
and lists its folder in the thumbnail strip (thumbnails are made on ``Lane.THUMBNAILS``).

Threads: the main thread never decodes a file. ``start_open(path)`` submits an ``open_work`` job
(key ``OPEN_KEY``, lane ``OPEN_LANE``) to the ``TaskRunner``: the worker reads the file and builds
its display picture (``CanvasImage``: QImages only, with its zoom pyramid), and the job's handle
(``result``) hands both to the main thread, which shows them. A newer open supersedes an
older one still in flight (the older one is never shown). ``prepared_picture(rgb)`` lets the view
that shows the new image use the worker's picture instead of converting it again.

Two ways to open:
- ``start_open(path)``: asynchronous; what the dialog, the recent-files menu, drag and drop, paste
  and the folder strip use. The window stays fully usable while the file is read.
- ``open_file(path) -> bool``: ``start_open`` and wait for the outcome in a local event loop (the
  window keeps painting and handling input); True when the image is shown, False when it could not
  be read, was superseded by a newer open, or was cancelled. For scripts, tests and the start-up
  path (``irstudio photo.png``).

Images without a file (pasted or dropped pixels) are small and shown at once (``open_image``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QMimeData, QObject, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QWidget

from irstudio.core import CancelToken
from irstudio.core.image_io import READ_SUFFIXES, ImageInfo, LoadedImage, read_image
from irstudio.gui.qimage import from_qimage
from irstudio.gui.settings import Settings
from irstudio.gui.state import AppState
from irstudio.gui.tasks import JobHandle, Lane, TaskRunner, Work
from irstudio.gui.widgets.image_canvas import CanvasImage
from irstudio.gui.widgets.thumbnail_strip import ThumbnailStrip, thumbnail_work

__all__ = ["OPEN_KEY", "OPEN_LANE", "OpenController", "OpenedImage", "image_from_qimage", "open_work"]

THUMBNAILS_KEY = "thumbnails"
OPEN_KEY = "open"
OPEN_LANE = Lane.IO
CLIPBOARD_NAME = "Clipboard"
OPEN_ERROR_TITLE = "Cannot open image"
_DECODED = "decoded"  # the progress item between reading and converting


@dataclass(frozen=True)
class OpenedImage:
    """What an open job hands to the main thread: the file, its pixels and their display picture
    (``picture`` is ``loaded.rgb`` converted, pyramid built; it has no QPixmap yet)."""

    path: Path
    loaded: LoadedImage
    picture: CanvasImage


def open_work(path: Path) -> Work:
    """A ``TaskRunner`` job: read ``path`` and build its display picture; returns an ``OpenedImage``.

    Runs on a worker thread (touches no widget, no QPixmap). Raises ``ImageError`` for a file it
    cannot read; stops after the read when a newer open superseded it (the runner checks the token
    at the yield).
    """

    def work(token: CancelToken) -> Generator[str, None, OpenedImage]:
        token.raise_if_cancelled()
        loaded = read_image(path)
        yield _DECODED
        picture = CanvasImage(loaded.rgb)
        picture.build_pyramid()
        return OpenedImage(path, loaded, picture)

    return work


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


@dataclass(eq=False)
class _Opening:
    """One open in flight: its file, whether a failure drops it from the recent files, its job, its
    outcome (None while pending) and the local event loop of an ``open_file`` waiting for it."""

    path: Path
    forget_on_failure: bool
    job: JobHandle
    outcome: bool | None = None
    waiter: QEventLoop | None = None


class OpenController(QObject):
    """Opens images into ``state``; ``warn(title, message)`` shows errors, ``status(text)`` notes."""

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
        self._opening: _Opening | None = None
        self._prepared: OpenedImage | None = None
        strip.file_activated.connect(self.start_open)

    def choose_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(READ_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open a photo", self._settings.last_folder, f"Images ({patterns});;All files (*)"
        )
        if path:
            self.start_open(Path(path))

    # ------------------------------------------------------------------ opening files

    def start_open(self, path: Path, *, forget_on_failure: bool = False) -> None:
        """Read ``path`` on a worker and show it when done; supersedes an open still in flight.
        ``forget_on_failure``: remove ``path`` from the recent files if it cannot be read."""
        path = Path(path)
        self._conclude(False)  # an older open in flight is superseded
        job = self._runner.submit(OPEN_KEY, open_work(path), lane=OPEN_LANE)
        job.result.connect(self._on_opened)
        job.error.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self._opening = _Opening(path, forget_on_failure, job)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._status(f"Opening {path.name}…")

    def open_file(self, path: Path) -> bool:
        """Open ``path`` and wait (events keep flowing) until it is shown (True) or not (False)."""
        self.start_open(path)
        opening = self._opening
        assert opening is not None
        if opening.outcome is None:
            opening.waiter = QEventLoop()
            opening.waiter.exec()
            opening.waiter = None
        return bool(opening.outcome)

    def is_opening(self) -> bool:
        """True while a file is being read or converted."""
        return self._opening is not None

    def cancel(self) -> None:
        """Stop the open in flight (it is not shown; a waiting ``open_file`` returns False)."""
        if self._opening is not None:
            self._opening.job.cancel()
            self._conclude(False)

    def prepared_picture(self, rgb: np.ndarray) -> CanvasImage | None:
        """While a newly opened image is being shown: its worker-made picture if ``rgb`` is its array."""
        prepared = self._prepared
        return prepared.picture if prepared is not None and prepared.loaded.rgb is rgb else None

    def _conclude(self, shown: bool) -> _Opening | None:
        """End the open in flight with ``shown`` as its outcome; wakes its waiter. Returns it."""
        opening, self._opening = self._opening, None
        if opening is None:
            return None
        QApplication.restoreOverrideCursor()
        opening.outcome = shown
        if opening.waiter is not None:
            opening.waiter.quit()
        return opening

    def _on_opened(self, result: object) -> None:
        if self._opening is None or not isinstance(result, OpenedImage):
            return
        shown = False
        try:
            self._show(result)
            shown = True
        finally:  # a waiting open_file must wake up whatever happened
            self._conclude(shown)

    def _on_failed(self, message: str) -> None:
        opening = self._conclude(False)
        if opening is None:
            return
        self._status("")
        if opening.forget_on_failure:
            self._settings.remove_recent(opening.path)
        self._warn(OPEN_ERROR_TITLE, message)

    def _on_cancelled(self) -> None:
        if self._conclude(False) is not None:
            self._status("Opening cancelled")

    def _show(self, opened: OpenedImage) -> None:
        """Put ``opened`` into the state (its picture is offered through ``prepared_picture``)."""
        self._prepared = opened
        try:
            self._state.set_image(opened.loaded, opened.path)
        finally:
            self._prepared = None
        self._settings.last_folder = str(opened.path.parent)
        self._settings.add_recent(opened.path)
        self._show_folder(opened.path)

    # ------------------------------------------------------------------ images without a file

    def open_image(self, image: LoadedImage, name: str) -> None:
        """Show an image that has no file (pasted, dropped, generated); an open in flight is dropped."""
        self.cancel()
        self._state.set_image(image, None, name=name)
        self._strip.select(None)

    def paste(self) -> bool:
        """Open the clipboard's image, or the image file it names; False when it holds neither."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and self.drop(mime):
            return True
        text = QGuiApplication.clipboard().text().strip().strip('"')
        if text and Path(text).suffix.lower() in READ_SUFFIXES and Path(text).is_file():
            self.start_open(Path(text))
            return True
        self._status("The clipboard holds no image")
        return False

    # ------------------------------------------------------------------ drag and drop

    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        """True when ``mime`` carries an image file we read or image data."""
        return bool(_local_images(mime)) or mime.hasImage()

    def drop(self, mime: QMimeData) -> bool:
        """Start opening the first image file in ``mime``, else show its image data; False if neither."""
        files = _local_images(mime)
        if files:
            self.start_open(files[0])
            return True
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
        self.start_open(path, forget_on_failure=True)

    # ------------------------------------------------------------------ folder strip

    def _show_folder(self, path: Path) -> None:
        if self._strip.set_folder(path.parent, path):
            work = thumbnail_work(self._strip.paths())
            job = self._runner.submit(THUMBNAILS_KEY, work, lane=Lane.THUMBNAILS)
            job.progress.connect(self._on_thumbnail)

    def _on_thumbnail(self, item: object) -> None:
        path, pixels = item  # type: ignore[misc]
        self._strip.set_thumbnail(path, pixels)
