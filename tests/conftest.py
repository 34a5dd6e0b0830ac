"""Shared fixtures: seeded RNGs, private per-test user folders, the benchmark data folder (skips
with a reason when absent)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the XDG state and data homes at a fresh folder per test, so measured verdicts
    (``paths.user_state_dir()``: backend, precision and tile caches, ONNX exports) and the user's
    model library (``paths.user_library_dir()``) are never read from or written to the real home;
    platformdirs honours both variables on Linux. Returns the folder holding both homes."""
    root = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "data"))
    return root


@pytest.fixture
def eager_gui_plans(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The GUI's ``auto_plan`` restricted to eager PyTorch (``backends=("eager",)``): no ONNX export
    or backend race, which cost tens of seconds per model on a busy CPU. Returns the keyword
    arguments of every call, in order."""
    from irstudio.gui import restore_jobs
    from irstudio.inference.planning import auto_plan

    calls: list[dict[str, object]] = []

    def eager_only(*args: object, **kwargs: object):
        calls.append(kwargs)
        return auto_plan(*args, **{**kwargs, "backends": ("eager",)})

    monkeypatch.setattr(restore_jobs, "auto_plan", eager_only)
    return calls


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark/training images at ../shared/data; the test is skipped when they are absent."""
    if not (SHARED_DATA / "bench").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (a clone without ../shared)")
    return SHARED_DATA
