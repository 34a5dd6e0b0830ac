"""Ground-truth mode in the window: degrade the shown photo, restore it, and the score table follows.

The screenshot test saves test-artifacts/main_window_ground_truth.png (a noisy Set14 crop restored
by the identity and NL-means, scores beside the views) for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from irstudio.core.image_io import read_image
from irstudio.data.degradations import Jpeg, Noise
from irstudio.gui.widgets.compare_view import CompareMode
from irstudio.inference.ground_truth import GroundTruthSpec, make_ground_truth, score_rows
from irstudio.models.catalog import REGISTRY
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RUN_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def degrade(qtbot, window, kind: str) -> None:
    """Press "Degrade this photo" with ``kind`` chosen and wait for the degraded input."""
    panel = window.ground_truth.panel
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData(kind))
    with qtbot.waitSignal(window.state.reference_changed, timeout=RUN_TIMEOUT_MS):
        panel.degrade_button.click()


def run_models(qtbot, window, *models: str) -> None:
    for model in models:
        assert window.model_panel.select_model(model)
        with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
            window.runs.run()


def test_degrade_then_two_models_fill_the_score_table(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.model_panel.set_task("sr4")  # degrading noise switches to the denoise task
    clean_file = write_png(tmp_path / "photo.png", gradient_image(40, 48))
    assert window.open_file(clean_file)
    clean = window.state.image.rgb
    panel = window.ground_truth.panel
    assert panel.sigma_spin.value() == 25.0 and panel.seed_spin.value() == 0

    degrade(qtbot, window, "noise")
    pair = window.ground_truth.pair
    expected = make_ground_truth(clean, GroundTruthSpec.of(Noise(sigma=25.0), seed=0))
    np.testing.assert_array_equal(window.state.image.rgb, expected.degraded)  # unclipped, as the papers
    np.testing.assert_array_equal(window.state.reference, clean)
    assert abs(float(np.std(window.state.image.rgb - clean)) - 25 / 255) < 0.01
    assert window.state.name == "photo.png, noise σ 25 (seed 0)" and window.state.path is None
    assert window.model_panel.task().key == "denoise" and window.state.task == "denoise"
    assert window.compare.canvases()[0].has_image()
    # the noisy input is not called "Original" (it used to be)
    assert window.compare.shown_label() == "Degraded input: noise σ 25 (seed 0)"

    run_models(qtbot, window, "identity", "nlmeans")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=RUN_TIMEOUT_MS)
    results = window.state.results
    table = [[panel.table.item(r, c).text() for c in range(3)] for r in range(3)]
    rows = score_rows(pair, [(r.label, r.image) for r in results.values()])
    assert [row[0] for row in table] == [
        "input (degraded)",
        REGISTRY.get("identity").name,
        REGISTRY.get("nlmeans").name,
    ]
    assert [[f"{psnr:.2f}", f"{ssim:.4f}"] for _, psnr, ssim in rows] == [row[1:] for row in table]
    assert (
        panel.protocol() == pair.header and "noise σ 25" in pair.header and "PSNR/SSIM on RGB" in pair.header
    )
    assert rows[2][1] > rows[0][1] + 3  # NL-means removes noise: best in both columns
    assert panel.best_cells() == [(2, 1), (2, 2)]

    # degrading again starts from the clean photo, not from the noisy one
    degrade(qtbot, window, "jpeg")
    np.testing.assert_array_equal(window.state.reference, clean)
    expected = make_ground_truth(clean, GroundTruthSpec.of(Jpeg(quality=10), seed=0))
    np.testing.assert_array_equal(window.state.image.rgb, expected.degraded)
    assert window.model_panel.task().key == "jpeg"
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=RUN_TIMEOUT_MS)
    assert panel.protocol() == window.ground_truth.pair.header and "PSNR/SSIM on Y" in panel.protocol()

    # another photo leaves ground-truth mode
    assert window.open_file(clean_file)
    assert window.state.reference is None and window.ground_truth.pair is None
    assert panel.table.rowCount() == 0 and "Degrade a photo" in panel.protocol()
    assert window.compare.shown_label() == "Original"


def test_degrading_needs_a_photo(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.ground_truth.panel.degrade_button.click()
    assert "Open a photo first" in window.statusBar().currentMessage()
    assert not window.runner.is_busy()


@pytest.mark.data
def test_screenshot_of_the_main_window_in_ground_truth_mode(qtbot, tmp_path: Path, shared_data: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    photo = read_image(shared_data / "bench/sr/Set14/HR/monarch.png").rgb[150:390, 150:470]
    window = make_window(qtbot, tmp_path)
    window.resize(1400, 860)
    assert window.open_file(write_png(tmp_path / "monarch.png", photo))
    degrade(qtbot, window, "noise")
    run_models(qtbot, window, "identity", "nlmeans")
    panel = window.ground_truth.panel
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=RUN_TIMEOUT_MS)
    window.commands.modes[CompareMode.SIDE_BY_SIDE].trigger()
    qtbot.waitUntil(lambda: all(c.viewport().width() > 100 for c in window.compare.canvases()))
    path = ARTIFACTS / "main_window_ground_truth.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 20_000


def test_the_degradation_offered_follows_the_task(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    panel = window.ground_truth.panel
    for task, kind in (("jpeg", "jpeg"), ("derain", "rain"), ("sr4", "downscale"), ("denoise", "noise")):
        window.model_panel.set_task(task)
        assert panel.kind() == kind, task
    window.model_panel.set_task("sr2")
    assert panel.kind() == "downscale" and panel.spec().step.scale == 2
