"""UI preferences kept between sessions (``QSettings``): folders, recent files, selection, theme, layout.

Only the GUI's own preferences live here (training configuration has its own files). Values are
read with defaults, so a fresh or damaged store gives a working window. Tests pass a ``QSettings``
on an ini file in a temporary folder so they never touch the user's store.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from irstudio.paths import APP_NAME

__all__ = ["MAX_RECENT", "Settings", "default_store"]

MAX_RECENT = 10


def default_store() -> QSettings:
    """The user's settings store (native format, per user)."""
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, APP_NAME, APP_NAME)


class Settings:
    """Typed accessors over a ``QSettings`` store."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _text(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return value if isinstance(value, str) else default

    def _set(self, key: str, value: object) -> None:
        self.store.setValue(key, value)

    # ------------------------------------------------------------------ folders and files

    @property
    def last_folder(self) -> str:
        """Where the open dialog starts (the folder of the last opened file)."""
        return self._text("files/last_folder")

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._set("files/last_folder", folder)

    @property
    def save_folder(self) -> str:
        """Where the last result was saved ("" = beside the original)."""
        return self._text("files/save_folder")

    @save_folder.setter
    def save_folder(self, folder: str) -> None:
        self._set("files/save_folder", folder)

    def recent_files(self) -> list[Path]:
        """Most recent first, at most ``MAX_RECENT``."""
        try:
            names = json.loads(self._text("files/recent", "[]"))
        except ValueError:
            return []
        return [Path(name) for name in names if isinstance(name, str)][:MAX_RECENT]

    def add_recent(self, path: Path) -> None:
        resolved = str(path.resolve())
        names = [resolved] + [str(p) for p in self.recent_files() if str(p) != resolved]
        self._set("files/recent", json.dumps(names[:MAX_RECENT]))

    def remove_recent(self, path: Path) -> None:
        names = [str(p) for p in self.recent_files() if p != path]
        self._set("files/recent", json.dumps(names))

    def clear_recent(self) -> None:
        self._set("files/recent", "[]")

    # ------------------------------------------------------------------ selection and look

    @property
    def task(self) -> str:
        return self._text("model/task", "denoise")

    @task.setter
    def task(self, key: str) -> None:
        self._set("model/task", key)

    @property
    def model(self) -> str:
        return self._text("model/model")

    @model.setter
    def model(self, key: str) -> None:
        self._set("model/model", key)

    @property
    def device(self) -> str:
        return self._text("model/device", "auto")

    @device.setter
    def device(self, spec: str) -> None:
        self._set("model/device", spec)

    @property
    def theme(self) -> str:
        """ "dark" (default) or "light"."""
        value = self._text("view/theme", "dark")
        return value if value in ("dark", "light") else "dark"

    @theme.setter
    def theme(self, name: str) -> None:
        self._set("view/theme", name)

    @property
    def compare_mode(self) -> str:
        return self._text("view/compare_mode")

    @compare_mode.setter
    def compare_mode(self, mode: str) -> None:
        self._set("view/compare_mode", mode)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        """Dock and toolbar layout (``QMainWindow.saveState``)."""
        return self._bytes("window/state")

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._set("window/state", value)

    def sync(self) -> None:
        self.store.sync()
