"""Screenshots of the whole main window in every compare mode, for people to look at.

A noisy crop of a Set14 photo is restored by NL-means and by the identity (the "do nothing"
reference); the window is then saved in each mode as test-artifacts/main_window_<mode>.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from irstudio.core.image_io import read_image
from irstudio.gui.widgets.compare_view import CompareMode
from tests.gui.app_helpers import make_window, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.data


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def noisy_photo(shared_data: Path, tmp_path: Path) -> Path:
    photo = read_image(shared_data / "bench/sr/Set14/HR/monarch.png").rgb[150:390, 150:470]
    noise = np.random.default_rng(0).normal(0.0, 20 / 255, photo.shape).astype(np.float32)
    return write_png(tmp_path / "monarch_noisy.png", np.clip(photo + noise, 0, 1))


def test_screenshots_of_the_main_window_in_every_mode(qtbot, tmp_path: Path, shared_data: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    window = make_window(qtbot, tmp_path)
    window.resize(1400, 860)
    assert window.open_file(noisy_photo(shared_data, tmp_path))
    window.model_panel.set_task("denoise")
    for model in ("identity", "nlmeans"):
        assert window.model_panel.select_model(model)
        with qtbot.waitSignal(window.state.result_added, timeout=30_000):
            window.runs.run()
    qtbot.waitUntil(lambda: not window.runner.is_busy(), timeout=10_000)
    for mode, action in window.commands.modes.items():
        action.trigger()
        assert window.compare.mode() is mode
        qtbot.waitUntil(lambda: all(c.viewport().width() > 100 for c in window.compare.canvases()))
        path = ARTIFACTS / f"main_window_{mode.value}.png"
        assert window.grab().save(str(path))
        assert path.stat().st_size > 20_000
    assert window.compare.mode() is CompareMode.DIFFERENCE
    window.commands.modes[CompareMode.SIDE_BY_SIDE].trigger()
    window.set_theme("light")
    try:
        assert window.grab().save(str(ARTIFACTS / "main_window_light.png"))
    finally:
        window.set_theme("dark")
