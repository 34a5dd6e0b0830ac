"""``irstudio restore`` plans without measuring on the CPU: ``--precision auto``/``--backend auto`` by
default take the committed plan (OpenVINO, bf16 where the CPU has it), the model converted once per
set of weights in the (per-test, private) state folder, then reused; nothing is timed.

A tiny learned model (compacter-x1, saved weights) on a 16-bit 20x24 photo with ``--tile 32``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from irstudio import paths
from irstudio.cli import main
from irstudio.core.image_io import read_image
from irstudio.inference.backends.cache import BACKEND_CACHE_NAME
from irstudio.inference.backends.openvino_rt import openvino_unavailable_reason
from tests.cli.conftest import MEASURING, PLAN_MODEL, PREPARING

needs_ov = pytest.mark.skipif(openvino_unavailable_reason() is not None, reason="OpenVINO not installed")

MODEL = PLAN_MODEL
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 16-bit RGB PNG (outputs are 16-bit too, fine enough to compare at 1e-3)."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:20, 0:24].astype(np.float32)
    rgb = np.stack([x / 23, y / 19, 0.5 + 0 * x], axis=2) + 0.05 * rng.standard_normal((20, 24, 3))
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.round(np.clip(rgb, 0, 1) * 65535).astype(np.uint16)[:, :, ::-1])
    return path


def restore(capsys, photo: Path, weights: Path, out: Path, *options: str) -> tuple[np.ndarray, str]:
    """Run ``irstudio restore`` into ``out``; (restored float32 RGB, stderr)."""
    argv = ["restore", str(photo), "-m", MODEL, "--weights", str(weights), "--tile", "32", "-o", str(out)]
    assert main([*argv, *options]) == 0
    error = capsys.readouterr().err
    output = read_image(out / f"{photo.stem}_{MODEL}.png")
    assert output.info.bit_depth == 16
    return output.rgb, error


def backend_verdicts() -> dict[str, dict]:
    """The backend verdicts measured so far in this test's state folder."""
    path = paths.user_state_dir() / BACKEND_CACHE_NAME
    return json.loads(path.read_text(encoding="utf-8"))["entries"] if path.exists() else {}


def test_tests_keep_measurements_out_of_the_real_home(_private_user_dirs: Path) -> None:
    state = paths.user_state_dir()
    assert state.is_relative_to(_private_user_dirs) and not state.is_relative_to(Path.home())
    assert paths.user_library_dir().is_relative_to(_private_user_dirs)


@needs_ov
def test_the_first_restore_prepares_once_and_measures_nothing(capsys, tmp_path, photo, weights) -> None:
    first, said = restore(capsys, photo, weights, tmp_path / "one")
    assert PREPARING in said and MEASURING not in said
    assert f"{MODEL} on " in said and "backend openvino" in said and "known plan for compacter" in said
    assert backend_verdicts() == {}  # no race was run
    second, said_again = restore(capsys, photo, weights, tmp_path / "two")
    assert PREPARING not in said_again and MEASURING not in said_again
    np.testing.assert_array_equal(second, first)


def test_forced_eager_times_no_backend(capsys, tmp_path, photo, weights) -> None:
    _, said = restore(capsys, photo, weights, tmp_path / "one", "--backend", "eager")
    assert "backend eager" in said and backend_verdicts() == {}


def test_eager_plan_gives_the_same_pixels_as_forced_fp32(capsys, tmp_path, photo, weights) -> None:
    auto, _ = restore(capsys, photo, weights, tmp_path / "auto", "--backend", "eager")
    forced, said = restore(
        capsys, photo, weights, tmp_path / "fp32", "--backend", "eager", "--precision", "fp32"
    )
    assert "fp32 (as requested)" in said
    np.testing.assert_array_equal(forced, auto)


@needs_ov
def test_auto_backend_matches_eager(capsys, tmp_path, photo, weights) -> None:
    eager, _ = restore(capsys, photo, weights, tmp_path / "eager", "--backend", "eager")
    fp32, said = restore(capsys, photo, weights, tmp_path / "fp32", "--precision", "fp32")
    assert "backend openvino," in said
    np.testing.assert_allclose(fp32, eager, atol=1e-3)
    auto, said = restore(capsys, photo, weights, tmp_path / "auto")
    np.testing.assert_allclose(auto, eager, atol=0.03)  # bf16 where the CPU has it (>= 45 dB)


@pytest.mark.slow
def test_auto_backend_with_onnx_runtime_matches_eager(capsys, tmp_path, photo, weights) -> None:
    pytest.importorskip("onnxruntime")
    eager, _ = restore(capsys, photo, weights, tmp_path / "eager", "--backend", "eager")
    auto, said = restore(capsys, photo, weights, tmp_path / "auto", "--backend", "onnx")
    assert "backend onnx" in said  # exported and checked
    np.testing.assert_allclose(auto, eager, atol=1e-3)


def test_a_forced_precision_the_model_refuses_fails_before_measuring(
    capsys, tmp_path, photo, weights
) -> None:
    argv = ["restore", str(photo), "-m", MODEL, "--weights", str(weights), "-o", str(tmp_path / "out")]
    assert main([*argv, "--precision", "fp16"]) == 1
    said = capsys.readouterr().err
    assert "does not run in fp16" in said and MEASURING not in said
    assert not (tmp_path / "out").exists() and backend_verdicts() == {}


def test_classical_models_are_not_measured(capsys, tmp_path, photo) -> None:
    assert main(["restore", str(photo), "-m", "identity", "-o", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().err
    assert MEASURING not in said and "backend eager" in said and "not measured" in said
    np.testing.assert_array_equal(
        read_image(tmp_path / "out" / "photo_identity.png").rgb, read_image(photo).rgb
    )
    assert not paths.user_state_dir().exists()
