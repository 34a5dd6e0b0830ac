"""Models of the user's library (what the training panel exports) by name on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from irstudio import paths
from irstudio.cli import main
from irstudio.core.image_io import read_image
from irstudio.models.catalog import REGISTRY
from irstudio.models.loading import save_weights
from tests.inference.test_batch import write_photo


def _export(name: str) -> Path:
    """A compacter-x1 model in the (test-isolated) library, as ``training.export`` writes one."""
    spec = REGISTRY.get("compacter-x1")
    torch.manual_seed(5)
    path = paths.user_library_dir() / f"{name}.safetensors"
    return save_weights(spec.build(), path, spec=spec, extra={"name": "My grain remover", "task": "denoise"})


def test_models_lists_the_library_with_a_header(capsys) -> None:
    _export("my-grain")
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "ARCH", "TASKS"]
    row = next(line for line in lines if line.startswith("my-grain "))
    assert "compacter" in row and "my-grain.safetensors (your library)" in row
    assert main(["models", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out) if e["id"] == "my-grain")
    assert entry["source"] == "library" and entry["weights"] == "my-grain.safetensors"


def test_restore_runs_a_library_model_by_name_with_its_weights(tmp_path: Path, capsys) -> None:
    exported = _export("my-grain")
    write_photo(tmp_path / "a.png", 1, size=(48, 32))
    assert (
        main(
            [
                "restore",
                str(tmp_path / "a.png"),
                "-m",
                "my-grain",
                "--backend",
                "eager",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    assert "no trained weights" not in capsys.readouterr().err
    by_name = read_image(tmp_path / "a_my-grain.png").rgb
    assert (
        main(
            [
                "restore",
                str(tmp_path / "a.png"),
                "-m",
                "compacter-x1",
                "--weights",
                str(exported),
                "--backend",
                "eager",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(by_name, read_image(tmp_path / "a_compacter-x1.png").rgb)


def test_an_unknown_name_still_says_unknown(tmp_path: Path, capsys) -> None:
    write_photo(tmp_path / "a.png", 1)
    assert main(["restore", str(tmp_path / "a.png"), "-m", "not-a-model"]) == 1
    assert "unknown model 'not-a-model'" in capsys.readouterr().err
