"""Saving a result: choose where and how, never replace a file without asking, write off the main thread.

``SaveController.save_current()`` shows the ``SaveDialog`` for the active result (default name
``<stem>_<model>.png`` beside the original). ``save_result(key, options)`` asks before replacing
an existing file (No is the default answer; No writes nothing) and then writes on ``Lane.IO``
with ``core.image_io.write_image``: EXIF (orientation reset) and the RGB ICC profile of the source
are kept, alpha is carried (resized for SR), 8 or 16 bit as chosen, atomically. ``saved(Path)``
is emitted when the file is written (the write's own ``JobHandle`` reports it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from irstudio.core import CancelToken
from irstudio.core.image_io import ImageInfo, resize_alpha, write_image
from irstudio.gui.save_dialog import SaveDialog, SaveOptions, default_name
from irstudio.gui.settings import Settings
from irstudio.gui.state import AppState, Result
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.paths import resources_dir

__all__ = ["SAVE_KEY", "SaveController"]

SAVE_KEY = "save"


def _write_work(path: Path, rgb: np.ndarray, alpha, info: ImageInfo | None, options: SaveOptions, overwrite):
    def work(token: CancelToken):
        token.raise_if_cancelled()
        return write_image(
            path,
            rgb,
            alpha=alpha,
            source=info,
            bit_depth=options.bit_depth,
            quality=options.quality,
            overwrite=overwrite,
        )

    return work


def _writable_user_folder(folder: Path) -> bool:
    """False for the app's own resources (the sample photo) and folders the user cannot write."""
    try:
        if folder.resolve() == resources_dir().resolve():
            return False
    except OSError:
        return False
    return os.access(folder, os.W_OK)


class SaveController(QObject):
    """Save dialog, overwrite question and the write itself."""

    saved = Signal(Path)

    def __init__(
        self,
        *,
        parent: QWidget,
        state: AppState,
        settings: Settings,
        runner: TaskRunner,
        active_key: Callable[[], str | None],
        warn: Callable[[str, str], None],
        status: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self._parent, self._state, self._settings, self._runner = parent, state, settings, runner
        self._active_key, self._warn, self._status = active_key, warn, status

    def _result_to_save(self) -> Result | None:
        key = self._active_key()
        result = self._state.result(key) if key else None
        if result is None and self._state.results:
            result = list(self._state.results.values())[-1]
        return result

    def default_path(self, result: Result) -> Path:
        """``<stem>_<model>.png`` beside the original; for a pasted image, the app's sample or an
        original in a folder the user cannot write, in the last save folder (else the home folder)."""
        source = self._state.path
        elsewhere = Path(self._settings.save_folder or Path.home())
        folder = source.parent if source is not None and _writable_user_folder(source.parent) else elsewhere
        stem = source.stem if source is not None else "pasted"
        model = result.model_id if not result.key.startswith("library:") else result.label
        return folder / default_name(stem, model)

    def save_current(self) -> bool:
        """Ask where and how to save the active result, then save it; False when nothing was saved."""
        result = self._result_to_save()
        if result is None:
            self._status("Nothing to save yet: run a model first (Ctrl+R)")
            return False
        if result.is_preview:
            self._warn(
                "Only a preview",
                "This result covers only the previewed region. Run the whole image (Ctrl+R), then save.",
            )
            return False
        image = self._state.image
        sixteen = image is not None and image.info.bit_depth >= 16
        dialog = SaveDialog(self.default_path(result), bit_depth=16 if sixteen else 8, parent=self._parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return self.save_result(result.key, dialog.options())

    def save_result(self, key: str, options: SaveOptions) -> bool:
        """Write result ``key`` as ``options`` says; an existing file is replaced only if the user
        says Yes. True when the write was started."""
        result, image = self._state.result(key), self._state.image
        if result is None or image is None:
            return False
        overwrite = options.path.exists()
        if overwrite and not self._confirm_replace(options.path):
            self._status(f"Not saved: {options.path.name} exists")
            return False
        alpha = image.alpha
        height, width = result.image.shape[:2]
        if alpha is not None and alpha.shape != (height, width):
            alpha = resize_alpha(alpha, height, width)
        work = _write_work(options.path, result.image, alpha, image.info, options, overwrite)
        job = self._runner.submit(SAVE_KEY, work, lane=Lane.IO)
        job.result.connect(self._on_written)
        job.error.connect(self._on_failed)
        self._settings.save_folder = str(options.path.parent)
        self._status(f"Saving {options.path.name}…")
        return True

    def _confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self._parent,
            "Replace file?",
            f"{path.name} already exists in {path.parent}.\nReplace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_written(self, written: object) -> None:
        if isinstance(written, Path):
            self._status(f"Saved {written}")
            self.saved.emit(written)

    def _on_failed(self, message: str) -> None:
        self._warn("Cannot save", message)
