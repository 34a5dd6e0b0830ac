"""Export: EMA weights as safetensors with metadata, loadable as a model; the library by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from irstudio.models.catalog import resolve_id
from irstudio.models.loading import load_model
from irstudio.training import ExportError, export_model, latest_checkpoint, load_checkpoint, run_to_end, train
from tests.training.helpers import install_tiny_models, tiny_config


@pytest.fixture(autouse=True)
def _tiny_models(monkeypatch) -> None:
    install_tiny_models(monkeypatch)


@pytest.fixture
def finished_run(tmp_path: Path):
    config = tiny_config(tmp_path, steps=3)
    run_to_end(train(config))
    return config


def test_export_writes_the_ema_weights_with_metadata(finished_run, tmp_path: Path) -> None:
    target = export_model(finished_run.run_dir, destination=tmp_path / "out", name="my denoiser")
    assert target == tmp_path / "out" / "my_denoiser.safetensors"
    with safe_open(str(target), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "irstudio" and metadata["preset"] == "tiny-compacter"
    assert json.loads(metadata["task"]) == "denoise" and json.loads(metadata["name"]) == "my denoiser"
    training = json.loads(metadata["training"])
    assert training["steps"] == 3 and training["weights"] == "ema" and training["psnr"] is not None

    model = load_model(resolve_id("tiny-compacter"), target)
    ema = load_checkpoint(latest_checkpoint(finished_run.run_dir)).ema
    for key, value in model.state_dict().items():
        assert torch.equal(value, ema[key]), key
    with pytest.raises(ExportError, match="already exists"):
        export_model(finished_run.run_dir, destination=tmp_path / "out", name="my denoiser")


def test_export_defaults_to_the_user_library(finished_run, tmp_path: Path, monkeypatch) -> None:
    library = tmp_path / "library"
    monkeypatch.setattr("irstudio.training.export.user_library_dir", lambda: library)
    target = export_model(latest_checkpoint(finished_run.run_dir), use_ema=False)
    assert target == library / "run-3.safetensors"
    with safe_open(str(target), framework="pt") as handle:
        assert json.loads(handle.metadata()["training"])["weights"] == "raw"


def test_a_registry_preset_fine_tunes_and_its_export_opens(tmp_path: Path) -> None:
    """The real compacter-x1 preset (not a test model): two steps, export, open as a model."""
    config = tiny_config(tmp_path, model="compacter-x1", steps=2)
    summary = run_to_end(train(config))
    assert summary.final_step == 2 and summary.psnr is not None
    target = export_model(config.run_dir, destination=tmp_path / "library")
    spec = resolve_id("compacter-x1")
    model = load_model(spec, target)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 24, 24)).shape == (1, 3, 24, 24)
