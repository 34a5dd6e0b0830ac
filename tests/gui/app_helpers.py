"""Helpers for the main-window tests: a window on temporary settings, test models, image files."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from torch import nn

from irstudio.core import DeviceInfo
from irstudio.gui.main_window import MainWindow
from irstudio.models import BASELINE, ModelChoice, ModelSpec, Task

GATE_TIMEOUT_S = 10
CPU_ONLY = [DeviceInfo("cpu", "Test CPU", None, None)]


def restore_app_look(qapp):
    """Fixture body: the window applies its theme to the whole application; put the style sheet and
    palette back afterwards so other tests see Qt's defaults. Use as
    ``_look = pytest.fixture(autouse=True)(restore_app_look)`` (``qapp``, pytest-qt's fixture, makes
    the application when this test is the first to need one)."""
    app = qapp
    sheet, palette = app.styleSheet(), QPalette(app.palette())
    yield
    app.setStyleSheet(sheet)
    app.setPalette(palette)


def make_window(
    qtbot, tmp_path: Path, *, library: Path | None = None, manifest: Path | None = None
) -> MainWindow:
    """A window whose settings, library and manifest live in ``tmp_path`` (never the user's)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        settings=settings,
        library_dir=library if library is not None else tmp_path / "library",
        manifest=manifest if manifest is not None else tmp_path / "manifest.json",
        devices=CPU_ONLY,
    )
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    return window


def gradient_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient plus mild noise, float32 HxWx3 in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / max(1, width - 1), y / max(1, height - 1), 0.5 + 0.0 * x], axis=2)
    return np.clip(base + 0.05 * rng.standard_normal((height, width, 3)), 0, 1).astype(np.float32)


def write_png(path: Path, image: np.ndarray) -> Path:
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
    return path


def choice_for(model: nn.Module, key: str = "test-model", scale: int = 1) -> ModelChoice:
    """A model the panel does not list, run through the same path (the cache builds it once)."""
    spec = ModelSpec(
        id=key, name=key, arch="test", tasks=(Task.DENOISE,), scale=scale, build=lambda: model, learned=False
    )
    return ModelChoice(key, key, spec, BASELINE)


class GatedIdentity(nn.Module):
    """Identity that counts its calls and, at call ``block_at``, waits until ``gate`` opens."""

    def __init__(self, block_at: int) -> None:
        super().__init__()
        self.block_at = block_at
        self.calls = 0
        self.reached = threading.Event()
        self.gate = threading.Event()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.block_at:
            self.reached.set()
            assert self.gate.wait(GATE_TIMEOUT_S), "the test never opened the gate"
        return x.clone()


class BusyIdentity(nn.Module):
    """Identity that does some real compute per call (matrix products), like a small network."""

    def __init__(self, products: int = 40, size: int = 256) -> None:
        super().__init__()
        self.products = products
        self.weight = torch.randn(size, size) / size**0.5
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        y = self.weight
        for _ in range(self.products):
            y = torch.tanh(y @ self.weight)
        return x + 0.0 * y.mean()


class Failing(nn.Module):
    """Raises ``error`` on every call."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error
