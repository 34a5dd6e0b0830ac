"""The ground-truth panel: the spec it emits, the score table with the best values highlighted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from irstudio.core.resize import imresize
from irstudio.data.degradations import Degradation, Downscale, Jpeg, Noise, Rain, RealPhoto
from irstudio.gui.widgets.ground_truth_panel import BEST_BRUSH, GroundTruthPanel
from irstudio.inference.ground_truth import GroundTruthSpec, make_ground_truth, score_input, score_result
from irstudio.models.spec import Task

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def panel(qtbot) -> GroundTruthPanel:
    widget = GroundTruthPanel()
    qtbot.addWidget(widget)
    return widget


def click_degrade(qtbot, panel: GroundTruthPanel) -> GroundTruthSpec:
    with qtbot.waitSignal(panel.degrade_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.degrade_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def choose(panel: GroundTruthPanel, kind: str) -> None:
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData(kind))


def test_defaults_emit_noise_sigma_25_seed_0(qtbot, panel: GroundTruthPanel) -> None:
    spec = click_degrade(qtbot, panel)
    assert spec == GroundTruthSpec(Degradation((Noise(sigma=25.0),)), seed=0)
    assert panel.seed_spin.isEnabled()
    panel.show()
    assert panel.sigma_spin.isVisible() and not panel.scale_combo.isVisible()
    choose(panel, "downscale")
    assert panel.scale_combo.isVisible() and not panel.sigma_spin.isVisible()


def test_each_kind_emits_its_step_with_the_chosen_parameters(qtbot, panel: GroundTruthPanel) -> None:
    choose(panel, "downscale")
    panel.scale_combo.setCurrentIndex(panel.scale_combo.findData(2))
    assert click_degrade(qtbot, panel).degradation == Degradation((Downscale(scale=2),))
    assert panel.parameter_fields() == [panel.scale_combo] and not panel.seed_spin.isEnabled()

    choose(panel, "jpeg")
    panel.quality_spin.setValue(30)
    assert click_degrade(qtbot, panel).degradation == Degradation((Jpeg(quality=30),))

    choose(panel, "rain")
    panel.density_spin.setValue(0.01)
    panel.length_spin.setValue(30)
    panel.angle_spin.setValue(-15)
    panel.seed_spin.setValue(42)
    spec = click_degrade(qtbot, panel)
    assert spec.seed == 42
    assert spec.step == Rain(density=0.01, length=30.0, angle=-15.0, width=1.5, brightness=0.7)

    choose(panel, "noise")
    panel.sigma_spin.setValue(50)
    panel.gray_noise_check.setChecked(True)
    assert click_degrade(qtbot, panel).step == Noise(sigma=50.0, gray_probability=1.0)


def test_set_spec_shows_a_spec_in_the_controls(panel: GroundTruthPanel) -> None:
    for spec in (
        GroundTruthSpec.of(Jpeg(quality=40)),
        GroundTruthSpec.of(Downscale(scale=3)),
        GroundTruthSpec.of(Rain(density=0.002, length=12, angle=5, width=2, brightness=0.5), seed=9),
        GroundTruthSpec.of(Noise(sigma=15), seed=3),
    ):
        panel.set_spec(spec)
        assert panel.spec() == spec


def test_table_shows_the_rows_and_highlights_the_best_of_each_column(panel: GroundTruthPanel) -> None:
    rows = [("input (degraded)", 20.5, 0.61), ("model A", 31.25, 0.8812), ("model B", 30.9, 0.8901)]
    panel.set_scores(rows, protocol="noise σ 25 (seed 0); PSNR/SSIM on RGB, crop 0, uint8 outputs")
    table = panel.table
    assert [table.item(r, 0).text() for r in range(3)] == ["input (degraded)", "model A", "model B"]
    assert [table.item(r, 1).text() for r in range(3)] == ["20.50", "31.25", "30.90"]
    assert [table.item(r, 2).text() for r in range(3)] == ["0.6100", "0.8812", "0.8901"]
    assert panel.best_cells() == [(1, 1), (2, 2)]
    assert table.item(1, 1).background() == BEST_BRUSH and table.item(1, 2).background() != BEST_BRUSH
    assert "PSNR/SSIM on RGB, crop 0" in panel.protocol_label.text()

    panel.set_scores([("perfect", float("inf"), 1.0), ("other", 40.0, 1.0)])
    assert panel.table.item(0, 1).text() == "∞"
    assert panel.best_cells() == [(0, 1), (0, 2), (1, 2)]  # ties are all best
    panel.clear_scores()
    assert panel.table.rowCount() == 0 and panel.best_cells() == []


def test_real_pair_scores_and_screenshot(qtbot, panel: GroundTruthPanel) -> None:
    """Wire the panel as the window does: spec → pair → restorations → scored rows; save a screenshot."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    clean = np.stack([x / 128, y / 96, 0.5 + 0.4 * np.sin(x / 6) * np.cos(y / 9)], axis=2)
    clean = np.clip(clean + 0.03 * rng.standard_normal(clean.shape, dtype=np.float32), 0, 1).astype(
        np.float32
    )
    choose(panel, "downscale")
    pair = make_ground_truth(clean, click_degrade(qtbot, panel))
    bicubic = imresize(pair.degraded, output_shape=pair.reference.shape[:2])
    nearest = np.repeat(np.repeat(pair.degraded, 4, axis=0), 4, axis=1)
    rows = [
        score_input(pair),
        ("nearest ×4", *score_result(nearest, pair)),
        ("bicubic ×4 + 0.02", *score_result(np.clip(bicubic + 0.02, 0, 1), pair)),
    ]
    panel.set_scores(rows, protocol=pair.header)
    assert panel.protocol_label.text() == "bicubic ÷4; PSNR/SSIM on Y, crop 4, uint8 outputs"
    assert panel.best_cells() == [(0, 1), (0, 2)]  # plain bicubic beats the other two
    assert panel.table.item(1, 1).text() == f"{rows[1][1]:.2f}"

    panel.resize(380, 640)
    panel.show()
    qtbot.waitExposed(panel)
    ARTIFACTS.mkdir(exist_ok=True)
    assert panel.grab().save(str(ARTIFACTS / "ground_truth_panel.png"))
    choose(panel, "rain")
    assert panel.grab().save(str(ARTIFACTS / "ground_truth_panel_rain.png"))


def test_the_real_photo_mix_is_seeded_and_follows_the_real_photo_task(qtbot, panel: GroundTruthPanel) -> None:
    panel.follow_task(Task.REALPHOTO, 4)
    assert panel.kind() == "real_photo" and panel.seed_spin.isEnabled()
    panel.seed_spin.setValue(3)
    spec = click_degrade(qtbot, panel)
    assert spec == GroundTruthSpec(Degradation.for_task(Task.REALPHOTO, 4), seed=3)
    assert spec.task is Task.REALPHOTO and spec.scale == 4
    panel.real_scale_combo.setCurrentIndex(panel.real_scale_combo.findData(1))
    assert click_degrade(qtbot, panel).step == RealPhoto.mild()
    panel.set_spec(spec)
    assert panel.real_scale_combo.currentData() == 4
