"""The Inside dock in the window: a click on the compare view chooses the query and the map follows.

The screenshot test saves test-artifacts/main_window_inside.png (the window with the Inside dock
showing a random-weight Compacter's window attention on a Set14 crop) for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF

from irstudio.core.image_io import read_image
from irstudio.gui.inside_controller import MAPS_KEY, MAPS_LANE
from irstudio.inference.maps import MapKind
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png
from tests.gui.canvas_events import click

_look = pytest.fixture(autouse=True)(restore_app_look)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MAPS_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def inside_window(qtbot, tmp_path: Path, image: np.ndarray, model: str = "compacter-x1"):
    """A window showing ``image`` with ``model`` selected and the Inside dock in front."""
    window = make_window(qtbot, tmp_path)
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model(model)
    assert window.open_file(write_png(tmp_path / "photo.png", image))
    window.ground_truth.dock.show()  # the tools start closed; opened from the View menu
    with qtbot.waitSignal(window.inside.dock.visibilityChanged, check_params_cb=bool):
        window.inside.dock.show()
        window.inside.dock.raise_()
    return window, window.inside.view


def wait_for_maps(qtbot, window) -> None:
    """Wait for the maps job just asked for (its handle has heard nothing yet) to deliver its result."""
    job = window.runner.job(MAPS_KEY)
    assert job is not None and job.lane is MAPS_LANE
    with qtbot.waitSignal(job.result, timeout=MAPS_TIMEOUT_MS):
        pass


def click_pixel(qtbot, window, x: int, y: int) -> None:
    """Click the middle of original pixel (x, y) on the compare view; wait for the maps."""
    canvas = window.compare.canvases()[0]
    qtbot.waitUntil(lambda: canvas.viewport().width() > 50)
    point = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    with qtbot.waitSignal(window.compare.pixel_clicked) as clicked:
        click(canvas.viewport(), QPointF(point))
    assert clicked.args == [x, y]
    wait_for_maps(qtbot, window)


def test_clicking_the_compare_view_updates_the_inside_map(qtbot, tmp_path: Path) -> None:
    window, view = inside_window(qtbot, tmp_path, gradient_image(64, 64))
    assert view.kind() is MapKind.ATTENTION and view.layer() is not None
    assert view.result() is None and "query" in view.status.text()

    click_pixel(qtbot, window, 20, 12)
    result = view.result()
    assert result.model_id == "compacter-x1" and result.pixel == (20, 12)
    first = view.current_map()
    crop = result.crop
    assert first.key == "spatial/h0" and first.marker == (20 - crop.x0, 12 - crop.y0)
    rows = np.nan_to_num(first.values)
    assert abs(float(rows.sum()) - 1.0) < 1e-3  # one softmax row of the query

    click_pixel(qtbot, window, 45, 50)  # another window of the image
    moved = view.current_map()
    assert view.result().pixel == (45, 50) and view.query() == (45, 50)
    assert moved.marker == (45 - view.result().crop.x0, 50 - view.result().crop.y0)
    assert not np.array_equal(np.nan_to_num(moved.values), rows)


def test_a_hidden_inside_dock_computes_nothing_until_shown(qtbot, tmp_path: Path) -> None:
    window, view = inside_window(qtbot, tmp_path, gradient_image(48, 48))
    with qtbot.waitSignal(window.inside.dock.visibilityChanged, check_params_cb=lambda shown: not shown):
        window.ground_truth.dock.raise_()  # tabbed with Inside: Inside is hidden now
    with qtbot.assertNotEmitted(view.compute_requested):
        window.compare.pixel_clicked.emit(10, 10)
    assert view.query() == (10, 10) and not window.runner.is_busy(MAPS_KEY)
    with qtbot.waitSignal(view.compute_requested):
        window.inside.dock.raise_()
    wait_for_maps(qtbot, window)
    assert view.result().pixel == (10, 10)


def test_the_selected_models_result_and_the_reference_reach_the_view(qtbot, tmp_path: Path) -> None:
    window, view = inside_window(qtbot, tmp_path, gradient_image(32, 32), model="identity")
    assert view._spec.id == "identity" and view._output is None
    with qtbot.waitSignal(window.state.result_added, timeout=MAPS_TIMEOUT_MS):
        window.runs.run()
    assert view._output is window.state.result("identity").image
    assert window.model_panel.select_model("nlmeans")
    assert view._spec.id == "nlmeans" and view._output is None  # no nlmeans result yet
    window.state.set_reference(window.state.image.rgb)
    assert view._reference is window.state.reference


@pytest.mark.data
def test_screenshot_of_the_window_with_attention_maps(qtbot, tmp_path: Path, shared_data: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    photo = read_image(shared_data / "bench/sr/Set14/HR/monarch.png").rgb[150:390, 150:470]
    window, view = inside_window(qtbot, tmp_path, photo)
    window.resize(1400, 860)
    click_pixel(qtbot, window, 180, 120)
    assert view.current_map().key == "spatial/h0"
    path = ARTIFACTS / "main_window_inside.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 20_000
