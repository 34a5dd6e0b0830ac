"""Screenshots of the compare view in every mode with real photos, for people to look at.

Writes test-artifacts/compare_<mode>.png (and compare_split_sr.png, compare_side_by_side_sr.png for a
x4 result) at the repository root. The "results" are a blurred, a sharpened and a noisy copy of a
Set14 photo; the SR case shows the bicubic x4 input next to the HR photo.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPointF

from irstudio.core.image_io import read_image
from irstudio.gui.widgets.compare_view import CompareMode, CompareView

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.data


def _fake_results(photo: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    blurred = cv2.GaussianBlur(photo, (0, 0), 2.0)
    sharpened = np.clip(photo + 1.5 * (photo - cv2.GaussianBlur(photo, (0, 0), 1.5)), 0, 1)
    noise = np.random.default_rng(0).normal(0.0, 0.05, photo.shape).astype(np.float32)
    return {
        "blur": ("Gaussian blur σ2", blurred),
        "sharp": ("Unsharp mask", sharpened.astype(np.float32)),
        "noisy": ("Noise σ0.05", np.clip(photo + noise, 0, 1)),
    }


def _save(view: CompareView, qtbot, name: str) -> Path:
    qtbot.waitUntil(lambda: all(canvas.viewport().width() > 100 for canvas in view.canvases()))
    path = ARTIFACTS / f"compare_{name}.png"
    assert view.grab().save(str(path))
    assert path.stat().st_size > 10_000
    return path


def test_screenshots_of_every_mode(qtbot, shared_data: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    photo = read_image(shared_data / "bench/sr/Set14/HR/monarch.png").rgb
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1100, 720)
    view.show()
    qtbot.waitExposed(view)
    view.set_original(photo)
    for key, (label, image) in _fake_results(photo).items():
        view.set_result(key, label, image)
    view.set_active("blur")

    for mode in CompareMode:
        view.set_mode(mode)
        if mode == CompareMode.SIDE_BY_SIDE:
            view.canvases()[0].set_zoom(2.0, anchor=QPointF(260, 330))  # a wing edge at 200 %
        if mode == CompareMode.FLICKER:
            view.activate_index(1)
        if mode == CompareMode.GRID:
            view.zoom_fit()
        if mode == CompareMode.DIFFERENCE:
            view.activate_index(0)
        _save(view, qtbot, mode.value)


def test_screenshots_of_an_sr_result(qtbot, shared_data: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    sr = shared_data / "bench/sr/Set14"
    high = read_image(sr / "HR/comic.png").rgb
    low = read_image(sr / "LR_bicubic/X4/comicx4.png").rgb
    height, width = low.shape[0] * 4, low.shape[1] * 4
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1000, 640)
    view.show()
    qtbot.waitExposed(view)
    view.set_original(low)
    view.set_result("hr", "HR (stands in for an SR x4 model)", np.ascontiguousarray(high[:height, :width]))
    view.set_mode(CompareMode.SPLIT)
    view.canvases()[0].set_view(3.0, QPointF(width * 0.45, height * 0.3))
    view.canvases()[0].set_zoom(3.0)  # emit once so the shared view follows
    _save(view, qtbot, "split_sr")
    view.set_mode(CompareMode.SIDE_BY_SIDE)
    _save(view, qtbot, "side_by_side_sr")
