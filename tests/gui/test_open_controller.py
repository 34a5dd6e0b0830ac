"""Opening keeps the main thread free: the file is read and converted on a worker, the window handles
events meanwhile, a newer open supersedes an older one, errors still give the clear message, and
closing the window ends a waiting open."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from irstudio.gui import open_controller
from irstudio.gui.main_window import MainWindow
from irstudio.gui.widgets.image_canvas import picture as canvas_picture
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)

GATE_TIMEOUT_S = 10.0
OPEN_TIMEOUT_MS = 10_000


class GatedRead:
    """Replaces ``read_image``: records the reading threads; reads of ``gated`` wait for ``gate``."""

    def __init__(self, gated: Path | None = None) -> None:
        self.real = open_controller.read_image
        self.gated = gated
        self.gate, self.started = threading.Event(), threading.Event()
        self.on_main_thread: list[bool] = []
        self.released_in_time: bool | None = None

    def __call__(self, path: Path):
        self.on_main_thread.append(threading.current_thread() is threading.main_thread())
        if path == self.gated:
            self.started.set()
            self.released_in_time = self.gate.wait(GATE_TIMEOUT_S)
        return self.real(path)


def _when(condition: Callable[[], bool], action: Callable[[], None]) -> None:
    """Run ``action`` on the main thread's event loop as soon as ``condition`` holds (polled)."""

    def poll() -> None:
        if condition():
            action()
        else:
            QTimer.singleShot(5, poll)

    QTimer.singleShot(0, poll)


def _shown_paths(window: MainWindow) -> list[Path | None]:
    shown: list[Path | None] = []
    window.state.image_changed.connect(lambda: shown.append(window.state.path))
    return shown


def test_the_file_is_read_and_converted_off_the_main_thread(qtbot, tmp_path: Path, monkeypatch) -> None:
    reader = GatedRead()
    monkeypatch.setattr(open_controller, "read_image", reader)
    conversions: list[tuple[tuple[int, ...], bool]] = []
    real_to_qimage = canvas_picture.to_qimage

    def recording_to_qimage(image: np.ndarray):
        conversions.append((np.shape(image), threading.current_thread() is threading.main_thread()))
        return real_to_qimage(image)

    monkeypatch.setattr(canvas_picture, "to_qimage", recording_to_qimage)
    window = make_window(qtbot, tmp_path)
    photo = write_png(tmp_path / "photo.png", gradient_image(37, 53))

    assert window.open_file(photo)
    assert reader.on_main_thread == [False]
    of_photo = [on_main for shape, on_main in conversions if shape[:2] == (37, 53)]
    assert of_photo == [False]  # converted once, by the worker; the view used that picture
    canvas = window.compare.canvases()[0]
    assert canvas.has_image() and (canvas.image_size().width(), canvas.image_size().height()) == (53, 37)
    np.testing.assert_allclose(window.state.image.rgb, gradient_image(37, 53), atol=0.5 / 255)
    assert not window.opener.is_opening()


def test_the_window_handles_events_while_a_slow_read_runs(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = make_window(qtbot, tmp_path)
    photo = write_png(tmp_path / "slow.png", gradient_image(20, 24))
    reader = GatedRead(gated=photo)
    monkeypatch.setattr(open_controller, "read_image", reader)
    during_read: dict[str, object] = {}

    def look_while_reading() -> None:  # runs only if the main thread's event loop turns during the read
        window.compare.zoom_in()  # a user action is handled meanwhile
        during_read["path"] = window.state.path
        during_read["busy"] = window.opener.is_opening()
        reader.gate.set()

    _when(reader.started.is_set, look_while_reading)
    assert window.open_file(photo)
    assert reader.released_in_time is True, "the event loop did not run while the file was read"
    assert during_read == {"path": None, "busy": True}
    assert window.state.path == photo and not window.opener.is_opening()


def test_a_newer_open_supersedes_an_older_one(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = make_window(qtbot, tmp_path)
    older = write_png(tmp_path / "older.png", gradient_image(30, 30, seed=1))
    newer = write_png(tmp_path / "newer.png", gradient_image(16, 12, seed=2))
    reader = GatedRead(gated=older)
    monkeypatch.setattr(open_controller, "read_image", reader)
    shown = _shown_paths(window)

    def open_the_newer() -> None:
        window.opener.start_open(newer)  # e.g. a click in the folder strip while the older one loads
        reader.gate.set()

    _when(reader.started.is_set, open_the_newer)
    assert window.open_file(older) is False  # superseded: never shown
    qtbot.waitUntil(lambda: window.state.path == newer, timeout=OPEN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy(open_controller.OPEN_KEY), timeout=OPEN_TIMEOUT_MS)
    assert shown == [newer]
    assert window.state.image.rgb.shape == (16, 12, 3)
    assert window.settings.recent_files()[0] == newer.resolve()
    assert older.resolve() not in window.settings.recent_files()


def test_an_unreadable_file_gives_the_message_and_keeps_the_image(qtbot, tmp_path: Path, monkeypatch) -> None:
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, title, text: warnings.append((title, text)))
    window = make_window(qtbot, tmp_path)
    good = write_png(tmp_path / "good.png", gradient_image(10, 10))
    assert window.open_file(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    window.opener.start_open(broken)  # the asynchronous path (dialog, drop, strip)
    qtbot.waitUntil(lambda: bool(warnings), timeout=OPEN_TIMEOUT_MS)
    title, text = warnings[0]
    assert title == "Cannot open image" and "broken.png" in text
    assert window.state.path == good and not window.opener.is_opening()


def test_closing_the_window_ends_a_waiting_open(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = make_window(qtbot, tmp_path)
    photo = write_png(tmp_path / "photo.png", gradient_image(12, 12))
    reader = GatedRead(gated=photo)
    monkeypatch.setattr(open_controller, "read_image", reader)

    def release_then_close() -> None:
        reader.gate.set()  # (the read ends; closing waits for the worker threads)
        window.close()  # cancels the open: its result, queued or not, is never shown

    _when(reader.started.is_set, release_then_close)
    assert window.open_file(photo) is False
    assert window.state.image is None and not window.opener.is_opening()
