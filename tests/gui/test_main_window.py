"""The main window: opening (dialog path, drop, paste, recent, folder strip), settings, shortcuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QMessageBox

from irstudio.gui.qimage import to_qimage
from irstudio.gui.widgets.compare_view import CompareMode
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)

OPEN_TIMEOUT_MS = 10_000  # the dialog, drop, paste, recent and strip paths open on a worker


def grey(tmp_path: Path, name: str = "grey.png", size: tuple[int, int] = (20, 30)) -> Path:
    Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(tmp_path / name)
    return tmp_path / name


def test_opening_a_photo_shows_it_and_a_bad_file_shows_a_message(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = make_window(qtbot, tmp_path)
    assert window.open_file(grey(tmp_path))
    assert window.state.image.rgb.shape == (20, 30, 3)
    assert window.compare.canvases()[0].has_image()
    assert "30×20" in window.image_info.text()
    assert window.windowTitle().startswith("grey.png — ")

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert not window.open_file(tmp_path / "broken.png")
    assert warnings and "broken.png" in warnings[0]
    assert window.state.path == tmp_path / "grey.png"  # the previous image stays
    assert window.state.image.rgb.shape == (20, 30, 3)


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropping_an_image_file_opens_it_and_other_files_are_refused(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    photo = grey(tmp_path, "dropped.png", (12, 10))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    only_text, with_photo = _mime(text), _mime(text, photo)  # events do not own their mime data
    refused = QDragEnterEvent(QPointF(5, 5), actions, only_text, buttons, modifiers)
    refused.ignore()
    window.dragEnterEvent(refused)
    assert not refused.isAccepted()
    accepted = QDragEnterEvent(QPointF(5, 5), actions, with_photo, buttons, modifiers)
    accepted.ignore()
    window.dragEnterEvent(accepted)
    assert accepted.isAccepted()

    window.dropEvent(QDropEvent(QPointF(5, 5), actions, with_photo, buttons, modifiers))
    qtbot.waitUntil(lambda: window.state.path == photo, timeout=OPEN_TIMEOUT_MS)  # read on a worker
    assert window.state.image.rgb.shape == (12, 10, 3)


def test_pasting_an_image_from_the_clipboard_opens_it_with_its_alpha(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    rgba = np.zeros((6, 9, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[0, 0, 3] = 0
    QGuiApplication.clipboard().setImage(to_qimage(rgba))
    window.commands.paste.trigger()
    assert window.state.path is None and window.state.name == "Clipboard"
    image = window.state.image
    assert image.rgb.shape == (6, 9, 3) and abs(float(image.rgb[1, 1, 0]) - 200 / 255) < 1e-6
    assert image.alpha is not None and image.alpha[0, 0] == 0.0 and image.alpha[1, 1] == 1.0

    QGuiApplication.clipboard().setText("no picture here")
    assert not window.opener.paste()
    assert "no image" in window.statusBar().currentMessage()


def test_recent_files_are_remembered_newest_first_and_reopen(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: None)
    window = make_window(qtbot, tmp_path)
    first, second = grey(tmp_path, "first.png"), grey(tmp_path, "second.png")
    assert window.open_file(first) and window.open_file(second)
    assert window.settings.recent_files()[:2] == [second.resolve(), first.resolve()]
    menu = window.commands.recent_menu
    window.opener.fill_recent_menu(menu)
    names = [a.text() for a in menu.actions()]
    assert names[:2] == ["second.png", "first.png"]
    menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: window.state.path == first.resolve(), timeout=OPEN_TIMEOUT_MS)

    first.unlink()
    window.opener.fill_recent_menu(menu)
    menu.actions()[1].trigger()  # second.png is now first in the list; first.png is gone
    qtbot.waitUntil(lambda: window.state.path == second.resolve(), timeout=OPEN_TIMEOUT_MS)
    window.opener.fill_recent_menu(menu)
    missing = [a for a in menu.actions() if a.text() == "first.png"]
    missing[0].trigger()
    qtbot.waitUntil(lambda: first.resolve() not in window.settings.recent_files(), timeout=OPEN_TIMEOUT_MS)
    assert window.state.path == second.resolve()  # the failed open left the image as it was


def test_the_folder_strip_lists_the_folder_with_thumbnails_and_opens_on_click(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "c.tif"):
        Image.fromarray((gradient_image(40, 60) * 255).astype(np.uint8)).save(folder / name)
    (folder / "readme.txt").write_text("skip me")
    assert window.open_file(folder / "b.png")
    strip = window.thumbnails
    assert [p.name for p in strip.paths()] == ["a.jpg", "b.png", "c.tif"]
    assert strip.currentItem().text() == "b.png"
    qtbot.waitUntil(lambda: not window.runner.is_busy("thumbnails"), timeout=10_000)
    assert all(not strip.item(i).icon().isNull() for i in range(strip.count()))
    strip.itemClicked.emit(strip.item(2))
    qtbot.waitUntil(lambda: window.state.path == folder / "c.tif", timeout=OPEN_TIMEOUT_MS)


def test_settings_are_restored_in_a_new_window(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    assert window.open_file(grey(tmp_path))
    window.model_panel.set_task("sr4")
    assert window.model_panel.select_model("asid-x4")
    window.set_theme("light")
    window.commands.modes[CompareMode.SPLIT].trigger()
    window.folder_dock.hide()
    window.resize(720, 560)
    window.close()

    again = make_window(qtbot, tmp_path)
    assert again.model_panel.task().key == "sr4"
    assert again.model_panel.current_choice().key == "asid-x4"
    assert again.state.task == "sr4" and again.state.model == "asid-x4"
    assert again.settings.theme == "light" and again.commands.themes["light"].isChecked()
    assert again.compare.mode() is CompareMode.SPLIT
    assert again.settings.last_folder == str(tmp_path)
    assert (again.width(), again.height()) == (720, 560)  # within the 800 px offscreen screen
    assert again.folder_dock.isHidden() and not again.model_dock.isHidden()
    again.set_theme("dark")


def test_shortcuts_switch_compare_modes_and_zoom(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    assert window.open_file(write_png(tmp_path / "photo.png", gradient_image(40, 50)))
    shortcuts = [a.shortcut().toString() for a in window.commands.modes.values()]
    assert shortcuts == [f"Ctrl+{i}" for i in range(1, 7)]
    for mode, action in window.commands.modes.items():
        action.trigger()
        assert window.compare.mode() is mode and action.isChecked()
    window.commands.modes[CompareMode.SINGLE].trigger()
    window.commands.zoom_actual.trigger()
    assert window.compare.zoom() == 1.0 and not window.compare.is_fit()
    window.commands.zoom_fit.trigger()
    assert window.compare.is_fit()
    assert [s.toString() for s in window.commands.zoom_fit.shortcuts()] == ["F", "Ctrl+0"]
    all_keys = [s.toString() for a in window.findChildren(type(window.commands.run)) for s in a.shortcuts()]
    assert len(all_keys) == len(set(all_keys)), "two actions share a shortcut"
    assert {"Ctrl+O", "Ctrl+S", "Ctrl+R", "Esc", "Ctrl+V"} <= set(all_keys)


def test_about_names_the_version(qtbot, tmp_path: Path, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda _parent, title, text: shown.append((title, text)))
    window = make_window(qtbot, tmp_path)
    window.commands.about.trigger()
    assert shown and "IR Studio" in shown[0][0] and "PyTorch" in shown[0][1]


def test_pasting_a_dropped_qimage_without_a_file(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    mime = QMimeData()
    mime.setImageData(QImage(to_qimage(np.full((4, 5, 3), 0.25, np.float32))))
    window.dropEvent(
        QDropEvent(
            QPointF(1, 1),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    )
    assert window.state.image.rgb.shape == (4, 5, 3) and window.state.path is None
