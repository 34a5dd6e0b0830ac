"""``irstudio eval`` runs the planned way too (OpenVINO on the CPU), and its scores do not depend on
it: fp32 on the CPU, within 1e-3 dB of eager fp32.

Denoising (sigma 25) by a tiny learned model (compacter-x1, saved weights) on two 24x28 images
with ``--tile 32``. The real ONNX Runtime export costs a minute, so that comparison is slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irstudio.cli import main
from tests.cli.conftest import MEASURING, PLAN_MODEL, PREPARING

MODEL = PLAN_MODEL
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A denoising benchmark folder: two small smooth colour images."""
    folder = tmp_path / "bench"
    folder.mkdir()
    y, x = np.mgrid[0:24, 0:28].astype(np.float32)
    for index in range(2):
        rgb = np.stack([x / 27, y / 23, 0.3 + 0.4 * index + 0 * x], axis=2)
        Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(folder / f"img{index}.png")
    return folder


def evaluate(capsys, data: Path, weights: Path, *options: str) -> tuple[dict, str]:
    """``irstudio eval --json``: (the JSON report, stderr)."""
    argv = ["eval", "-m", MODEL, "--weights", str(weights), "--data", str(data), "--task", "denoise"]
    assert main([*argv, "--tile", "32", "--json", *options]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def assert_same_scores(report: dict, reference: dict) -> None:
    assert report["n"] == reference["n"] == 2 and report["protocol"] == reference["protocol"]
    assert abs(report["psnr"] - reference["psnr"]) < 1e-3
    for image, expected in zip(report["per_image"], reference["per_image"], strict=True):
        assert image["name"] == expected["name"] and abs(image["psnr"] - expected["psnr"]) < 1e-3


def test_eval_reports_its_plan_and_prepares_once(capsys, data, weights) -> None:
    eager, said = evaluate(capsys, data, weights, "--backend", "eager", "--precision", "fp32")
    assert MEASURING not in said and PREPARING not in said
    assert "backend eager" in eager["plan"] and "fp32 (as requested)" in eager["plan"]
    assert eager["plan"] in said
    auto, said = evaluate(capsys, data, weights)
    assert MEASURING not in said
    again, said_again = evaluate(capsys, data, weights)
    assert MEASURING not in said_again and PREPARING not in said_again
    assert again["per_image"] == auto["per_image"] and again["plan"] == auto["plan"]


def test_auto_plan_scores_match_eager_fp32(capsys, data, weights) -> None:
    eager, _ = evaluate(capsys, data, weights, "--backend", "eager", "--precision", "fp32")
    auto, _said = evaluate(capsys, data, weights)
    assert "fp32" in auto["plan"] and "bf16" not in auto["plan"]
    assert_same_scores(auto, eager)


@pytest.mark.slow
def test_auto_plan_scores_match_eager_fp32_with_onnx_runtime(capsys, data, weights) -> None:
    pytest.importorskip("onnxruntime")
    eager, _ = evaluate(capsys, data, weights, "--backend", "eager", "--precision", "fp32")
    auto, _ = evaluate(capsys, data, weights, "--backend", "onnx")
    assert_same_scores(auto, eager)


def test_classical_eval_is_not_measured(capsys, data) -> None:
    assert main(["eval", "-m", "identity", "--data", str(data), "--task", "denoise", "--json"]) == 0
    captured = capsys.readouterr()
    assert MEASURING not in captured.err
    assert "not measured" in json.loads(captured.out)["plan"]
