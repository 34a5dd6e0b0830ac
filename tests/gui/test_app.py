"""``irstudio`` with no command: the app starts, opens the file it is given, and quits cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from irstudio import app
from irstudio.gui import main_window
from irstudio.gui.widgets.progress_status import format_eta
from tests.gui.app_helpers import gradient_image, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)


def test_the_app_opens_the_file_named_on_the_command_line(qtbot, tmp_path: Path, monkeypatch) -> None:
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(main_window, "default_store", lambda: store)
    monkeypatch.setattr(main_window, "user_library_dir", lambda: tmp_path / "library")
    photo = write_png(tmp_path / "start.png", gradient_image(10, 12))
    seen = {}

    deadline = time.monotonic() + 10.0

    def look_and_quit() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, main_window.MainWindow))
        if window.state.path is None and time.monotonic() < deadline:  # the file is read on a worker
            QTimer.singleShot(10, look_and_quit)
            return
        seen["path"] = window.state.path
        seen["visible"] = window.isVisible()
        window.close()
        window.deleteLater()

    threads = torch.get_num_threads()
    QTimer.singleShot(0, look_and_quit)
    try:
        assert app.main(["irstudio", str(photo)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert seen == {"path": photo, "visible": True}
    assert store.value("files/last_folder") == str(tmp_path)


def test_eta_texts() -> None:
    assert format_eta(4.4) == "4 s left"
    assert format_eta(185) == "3 min 05 s left"
    assert format_eta(3720) == "1 h 02 min left"
