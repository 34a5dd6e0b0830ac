"""Shared fixtures: seeded RNGs, private user folders (for the whole run, and per test), the
benchmark data folder (skips with a reason when absent).

The whole test run never touches the user's real settings, state, data or cache folders: before
anything is imported, ``HOME`` and every XDG home point into one temporary folder (``TEST_HOME``), the state
folder override is cleared, and Qt's settings paths are set there too (``_private_settings``)."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TEST_HOME = Path(tempfile.mkdtemp(prefix="irstudio-tests-"))
for _variable, _folder in (
    ("XDG_CONFIG_HOME", "config"),
    ("XDG_CACHE_HOME", "cache"),
    ("XDG_STATE_HOME", "state"),
    ("XDG_DATA_HOME", "data"),
    ("HOME", "home"),  # libraries that write beside the user's files (OpenVINO's ~/intel) find this one
):
    (TEST_HOME / _folder).mkdir()
    os.environ[_variable] = str(TEST_HOME / _folder)
os.environ.pop("IRSTUDIO_STATE_DIR", None)
atexit.register(shutil.rmtree, TEST_HOME, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _private_settings() -> None:
    """Qt's user-scope settings (the app's ``QSettings``: recent files, layout) go to ``TEST_HOME``."""
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        return
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(TEST_HOME / "config"))


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


@pytest.fixture
def one_torch_thread():
    """One intra-op thread (the machine is shared; cache keys record the count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark/training images at ../shared/data; the test is skipped when they are absent."""
    if not (SHARED_DATA / "bench").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (a clone without ../shared)")
    return SHARED_DATA
