"""The first start: the photo area gets the room, a welcome page, and it fits a small screen.

Before: 1280x820 on a 720 px screen (Run and the status bar off-screen), the Ground truth dock a
third of the width, the model card filling the left panel, an empty grey photo area.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from irstudio.gui.main_window import MainWindow
from tests.gui.app_helpers import CPU_ONLY, gradient_image, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)


def _fresh_window(qtbot, tmp_path: Path) -> MainWindow:
    """A window with empty settings, at the size it picks itself (not the helpers' 1000x700)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        settings=settings, library_dir=tmp_path / "lib", manifest=tmp_path / "m.json", devices=CPU_ONLY
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_window_fits_the_screen_it_opens_on(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    available = window.screen().availableGeometry()
    assert window.width() <= available.width() and window.height() <= available.height()


def test_tools_start_closed_and_the_photo_area_shows_a_welcome(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    assert window.ground_truth.dock.isHidden() and window.inside.dock.isHidden()
    assert window.folder_dock.isHidden() and not window.model_dock.isHidden()
    assert window.photo_area.currentWidget() is window.welcome
    assert (
        not window.model_panel.card_section.expanded() and not window.model_panel.advanced_section.expanded()
    )
    assert window.model_panel.card_section.header.text().startswith("Model card: ")
    assert window.model_panel.run_button.isVisibleTo(window)


def test_opening_a_photo_replaces_the_welcome_and_brings_the_folder_strip(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    photo = write_png(tmp_path / "a.png", gradient_image(30, 40))
    assert window.open_file(photo)
    assert window.photo_area.currentWidget() is window.compare
    assert not window.folder_dock.isHidden()


def test_the_sample_photo_button_opens_the_sample(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    assert window.welcome.sample_button.isVisibleTo(window)
    with qtbot.waitSignal(window.state.image_changed, timeout=20_000):
        window.welcome.sample_button.click()
    assert window.state.name == "sample.png"


def test_recent_photos_are_offered_when_they_still_exist(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    kept = write_png(tmp_path / "kept.png", gradient_image(20, 20))
    window.welcome.set_recent([tmp_path / "gone.png", kept])
    assert [button.text() for button in window.welcome.recent_buttons] == ["kept.png"]
    with qtbot.waitSignal(window.state.image_changed, timeout=20_000):
        window.welcome.recent_buttons[0].click()
    assert window.state.name == "kept.png"


def test_a_tool_opened_later_gets_room_for_its_controls(qtbot, tmp_path: Path) -> None:
    window = _fresh_window(qtbot, tmp_path)
    window.resize(1280, 800)
    window.ground_truth.dock.show()
    qtbot.waitUntil(lambda: window.ground_truth.dock.width() >= 300, timeout=5000)


@pytest.mark.parametrize(
    ("screen", "size"),
    [
        ((1280, 680), (1280, 680)),  # a 1280x720 laptop: the whole area
        ((1920, 1040), (1536, 884)),  # 80 % wide, 85 % high
        ((2560, 1400), (2048, 1190)),
        ((1366, 728), (1280, 728)),
    ],
)
def test_the_first_size_grows_with_the_screen_and_never_exceeds_it(screen, size) -> None:
    from irstudio.gui.main_window import first_window_size

    assert first_window_size(*screen) == size
