"""Fixtures shared by the command-line tests of the measured plan (restore and eval)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from irstudio.inference.backends import OnnxUnavailable, chooser
from irstudio.models.catalog import REGISTRY
from irstudio.models.loading import save_weights

MEASURING = "measuring the fastest way to run"
"""What the CLI prints on stderr before it measures a model's plan."""
PREPARING = "for OpenVINO (once for these weights"
"""What the CLI prints on stderr before it converts a model for OpenVINO."""
PLAN_MODEL = "compacter-x1"


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    """compacter-x1 weights from a fixed seed, so every run loads the same model."""
    spec = REGISTRY.get(PLAN_MODEL)
    torch.manual_seed(3)
    return save_weights(spec.build(), tmp_path / "weights" / "tiny.safetensors", spec=spec)


@pytest.fixture
def no_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime unavailable: the backend race stays fast (no export)."""

    def unavailable(*_args, **_kwargs):
        raise OnnxUnavailable("switched off in this test")

    monkeypatch.setattr(chooser, "build_onnx_module", unavailable)
