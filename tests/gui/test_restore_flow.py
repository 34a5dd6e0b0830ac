"""Open, run, cancel, supersede and preview through the main window, with real models on tiny images."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import QMessageBox

from irstudio.core.resize import imresize
from irstudio.core.tiling import Region
from irstudio.gui.restore_jobs import RunOptions
from irstudio.gui.run_controller import region_of
from irstudio.gui.widgets.compare_view import CompareMode
from irstudio.inference import UNTRAINED_SEED
from irstudio.inference.runner import TilePlan, restore
from irstudio.models.catalog import REGISTRY
from tests.gui.app_helpers import (
    BusyIdentity,
    Failing,
    GatedIdentity,
    choice_for,
    gradient_image,
    make_window,
    restore_app_look,
    write_png,
)

_look = pytest.fixture(autouse=True)(restore_app_look)

RUN_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: the worker and the GUI thread share a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _eager_plans(eager_gui_plans):
    """Flow tests run eager PyTorch: the backend race costs tens of seconds per model here (it is
    tested in test_restore_auto_plan.py)."""
    return eager_gui_plans


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _parent, title, text, *a: shown.append(f"{title}: {text}")
    )
    return shown


def opened(qtbot, tmp_path: Path, height: int = 24, width: int = 32):
    window = make_window(qtbot, tmp_path)
    image = gradient_image(height, width)
    path = write_png(tmp_path / "photo.png", image)
    assert window.open_file(path)
    return window, window.state.image.rgb


def run_to_result(qtbot, window, **kwargs):
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS) as blocker:
        assert window.runs.run(**kwargs)
    return window.state.result(blocker.args[0])


def assert_view_shows(window, expected: np.ndarray) -> None:
    """The compare view holds ``expected`` as its active result: with it as the reference, the
    difference map (mean |result - reference| over RGB) is zero everywhere."""
    window.state.set_reference(expected.copy())
    window.compare.set_mode(CompareMode.DIFFERENCE)
    difference = window.compare.difference_map()
    assert difference is not None and difference.shape == expected.shape[:2]
    assert float(difference.max()) == 0.0


def select(window, task: str, model: str) -> None:
    window.model_panel.set_task(task)
    assert window.model_panel.select_model(model)


def test_identity_restores_to_the_input_and_the_view_holds_it(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path)
    select(window, "denoise", "identity")
    result = run_to_result(qtbot, window)
    assert result.key == "identity" and not result.is_preview
    np.testing.assert_array_equal(result.image, rgb)
    assert window.compare.result_keys() == ["identity"] and window.compare.active_key() == "identity"
    assert "photo.png" in window.windowTitle() and "Identity" in window.windowTitle()
    assert window.progress.isHidden()
    assert_view_shows(window, rgb)


def test_bicubic_x2_gives_the_matlab_upscale(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path)
    select(window, "sr2", "bicubic-x2")
    result = run_to_result(qtbot, window)
    assert result.image.shape == (48, 64, 3)
    np.testing.assert_allclose(result.image, np.clip(imresize(rgb, 2), 0, 1), atol=1e-6)
    assert_view_shows(window, result.image)


def test_a_random_weight_preset_runs_and_matches_the_runner(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path, 16, 16)
    select(window, "denoise", "compacter-x1")
    assert window.model_panel.current_choice().untrained
    assert "random weights" in window.model_panel.card.text()
    window.model_panel.set_tiling(32, None)  # one tile, as 256 on this image; no memory probe
    result = run_to_result(qtbot, window)
    spec = REGISTRY.get("compacter-x1")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        model = spec.build().eval()
    expected = restore(model, rgb, TilePlan(tile=256, context=spec.context, multiple=spec.tile_multiple))
    np.testing.assert_array_equal(result.image, expected)
    assert_view_shows(window, expected)


def test_cancel_stops_within_one_tile_and_keeps_nothing(qtbot, tmp_path: Path) -> None:
    window, _ = opened(qtbot, tmp_path, 64, 64)
    files_before = sorted(tmp_path.rglob("*"))
    model = GatedIdentity(block_at=3)
    window.runs.run(choice_for(model), RunOptions(device="cpu", tile=16, context=0))  # 16 tiles
    try:
        qtbot.waitUntil(model.reached.is_set, timeout=RUN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: window.progress.bar.value() == 2, timeout=RUN_TIMEOUT_MS)
        assert not window.progress.isHidden() and window.progress.bar.maximum() == 16
        assert window.progress.label.text() == "Restoring with test-model"
        assert window.progress.eta.text().endswith("s left")
        job = window.runner.job("restore:test-model")
        with qtbot.waitSignal(job.cancelled, timeout=RUN_TIMEOUT_MS):
            window.commands.cancel.trigger()  # Esc
            # said at once, while the tile in flight still runs
            assert window.progress.label.text() == "Restoring with test-model: stopping…"
            assert not window.progress.cancel_button.isEnabled() and window.progress.eta.text() == ""
            model.gate.set()
    finally:
        model.gate.set()
    assert model.calls == 3  # the tile in flight finished; no further tile started
    assert window.state.results == {} and window.compare.result_keys() == []
    assert window.progress.isHidden()
    assert sorted(p for p in tmp_path.rglob("*") if p.name != "settings.ini") == [
        p for p in files_before if p.name != "settings.ini"
    ]


def test_the_event_loop_stays_responsive_during_a_run(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path, 96, 96)
    model = BusyIdentity()
    qtbot.waitUntil(lambda: not window.runner.is_busy(), timeout=RUN_TIMEOUT_MS)  # folder thumbnails
    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    result = run_to_result(qtbot, window, choice=choice_for(model), options=RunOptions(tile=16, context=4))
    timer.stop()
    gaps = np.diff(ticks)
    assert model.calls == 36 and len(gaps) >= 5
    assert gaps.max() < 0.100, f"the GUI thread stalled for {gaps.max() * 1000:.0f} ms"
    np.testing.assert_array_equal(result.image, rgb)


def test_a_newer_run_of_the_same_model_supersedes_the_older(qtbot, tmp_path: Path) -> None:
    window, _ = opened(qtbot, tmp_path, 32, 32)
    model = GatedIdentity(block_at=1)
    choice = choice_for(model)
    added: list[str] = []
    window.state.result_added.connect(added.append)
    window.runs.run(choice, RunOptions(tile=16, context=0))  # 4 tiles, blocked in the first
    qtbot.waitUntil(model.reached.is_set, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        window.runs.run(choice, RunOptions(tile=32, context=0))  # 1 tile
        model.gate.set()
    assert added == ["test-model"]
    assert "tile 32" in window.state.result("test-model").details
    assert model.calls == 2  # one tile of the superseded run, one of the newer
    qtbot.waitUntil(lambda: not window.runner.is_busy(), timeout=RUN_TIMEOUT_MS)
    assert added == ["test-model"]


def test_a_newer_preview_supersedes_the_older(qtbot, tmp_path: Path) -> None:
    window, _ = opened(qtbot, tmp_path, 32, 32)
    model = GatedIdentity(block_at=1)
    choice = choice_for(model)
    window.runs.preview(Region(0, 0, 8, 8), choice, RunOptions(tile=16, context=0))
    qtbot.waitUntil(model.reached.is_set, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        window.runs.preview(Region(20, 20, 28, 28), choice, RunOptions(tile=16, context=0))
        model.gate.set()
    result = window.state.result("test-model")
    assert result.is_preview and result.region == Region(20, 20, 28, 28)
    assert result.label.endswith("(preview)")


def test_the_region_preview_equals_the_same_region_of_the_full_run(qtbot, tmp_path: Path) -> None:
    window, _ = opened(qtbot, tmp_path, 48, 48)
    select(window, "sr2", "asid-x2")
    window.model_panel.set_tiling(24, 8)
    window.runs.set_visible_rect(QRectF(10.5, 4.2, 20.0, 17.0))  # what the view shows (input px)
    region = window.runs.visible_region()
    assert region == Region(4, 10, 22, 31)
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        assert window.runs.preview()
    preview = window.state.result("asid-x2")
    assert preview.is_preview and preview.region == region and preview.image.shape == (96, 96, 3)
    full = run_to_result(qtbot, window)
    assert not full.is_preview
    r = region.scaled(2)
    np.testing.assert_array_equal(
        preview.image[r.y0 : r.y1, r.x0 : r.x1], full.image[r.y0 : r.y1, r.x0 : r.x1]
    )
    assert not window.runs.preview()  # the whole image is already restored: no preview replaces it
    assert window.state.result("asid-x2") is full


def test_region_of_a_view_rectangle_covers_whole_pixels_inside_the_image() -> None:
    assert region_of(QRectF(-3, -2, 10, 10), 5, 6) == Region(0, 0, 5, 6)
    assert region_of(QRectF(1.5, 2.5, 1.0, 1.0), 10, 10) == Region(2, 1, 4, 3)
    assert region_of(QRectF(20, 20, 5, 5), 10, 10) is None


def test_errors_are_shown_and_the_app_stays_usable(qtbot, tmp_path: Path, warnings: list[str]) -> None:
    window, rgb = opened(qtbot, tmp_path)
    oom = choice_for(Failing(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8 GiB")), "oom")
    assert window.runs.run(oom, RunOptions(tile=16, context=0, device="cpu"))
    with qtbot.waitSignal(window.runner.job("restore:oom").error, timeout=RUN_TIMEOUT_MS):
        pass  # (reports reach the handle only once the event loop runs)
    assert len(warnings) == 1 and "Out of memory" in warnings[0]
    broken = choice_for(Failing(ValueError("weights do not fit")), "broken")
    assert window.runs.run(broken)
    with qtbot.waitSignal(window.runner.job("restore:broken").error, timeout=RUN_TIMEOUT_MS):
        pass
    assert "broken: weights do not fit" in warnings[1]
    assert window.progress.isHidden()
    select(window, "denoise", "identity")
    np.testing.assert_array_equal(run_to_result(qtbot, window).image, rgb)


def test_running_without_an_image_says_so(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    assert not window.runs.run()
    assert "Open an image" in window.statusBar().currentMessage()
    assert not window.model_panel.run_button.isEnabled()


def test_live_preview_follows_the_view(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path, 40, 40)
    select(window, "denoise", "identity")
    window.compare.visible_region_changed.emit(QRectF(5, 6, 10, 12))
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        window.commands.live_preview.setChecked(True)
    preview = window.state.result("identity")
    assert preview.is_preview and preview.region == Region(6, 5, 18, 15)
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        window.compare.visible_region_changed.emit(QRectF(20, 20, 8, 8))  # the user panned
    assert window.state.result("identity").region == Region(20, 20, 28, 28)
    np.testing.assert_array_equal(window.state.result("identity").image, rgb)  # identity everywhere


def test_opening_another_image_cancels_runs_and_drops_their_results(qtbot, tmp_path: Path) -> None:
    window, _ = opened(qtbot, tmp_path, 32, 32)
    model = GatedIdentity(block_at=1)
    window.runs.run(choice_for(model), RunOptions(tile=16, context=0))
    try:
        qtbot.waitUntil(model.reached.is_set, timeout=RUN_TIMEOUT_MS)
        with qtbot.waitSignal(window.runner.job("restore:test-model").cancelled, timeout=RUN_TIMEOUT_MS):
            assert window.open_file(write_png(tmp_path / "other.png", gradient_image(8, 8, seed=3)))
            model.gate.set()
    finally:
        model.gate.set()
    assert model.calls == 1 and window.state.results == {}
    assert window.state.path == tmp_path / "other.png"


def test_preview_restores_what_the_view_shows(qtbot, tmp_path: Path) -> None:
    window, rgb = opened(qtbot, tmp_path, 600, 900)  # larger than the view at 100 %
    select(window, "denoise", "identity")
    window.commands.zoom_actual.trigger()
    shown = window.compare.visible_region()
    expected = region_of(shown, 600, 900)
    assert expected is not None and expected.area < 600 * 900
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        window.commands.preview.trigger()  # Ctrl+Shift+R
    preview = window.state.result("identity")
    assert preview.region == expected
    r = expected
    np.testing.assert_array_equal(preview.image[r.y0 : r.y1, r.x0 : r.x1], rgb[r.y0 : r.y1, r.x0 : r.x1])
