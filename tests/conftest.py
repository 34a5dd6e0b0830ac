"""Shared fixtures: seeded RNGs, the benchmark data folder (skips with a reason when absent)."""

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark/training images at ../shared/data; the test is skipped when they are absent."""
    if not (SHARED_DATA / "bench").is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (a clone without ../shared)")
    return SHARED_DATA
