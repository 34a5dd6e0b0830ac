"""OpenVINO backend: direct conversion of the torch module, checks against PyTorch, static fallback,
bf16 only where the CPU has it and quality holds, the cached graph and its digest, fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import irstudio.inference.backends.openvino_graph as ov_graph
import irstudio.inference.backends.openvino_rt as ov_backend
from irstudio.inference.backends.openvino_rt import (
    TOLERANCE,
    OpenVinoModule,
    OpenVinoUnavailable,
    build_openvino_module,
    is_converted,
    openvino_unavailable_reason,
)
from tests.inference.test_backends import TinyNet

OV_MISSING = openvino_unavailable_reason()
pytestmark = [
    pytest.mark.skipif(OV_MISSING is not None, reason=f"OpenVINO: {OV_MISSING}"),
    pytest.mark.usefixtures("one_torch_thread"),
]


class ShapeBakingNet(nn.Module):
    """Adds a ramp whose length is read from the traced input as a Python int: a trace bakes it in,
    so a dynamic graph is wrong at any other width (what the check must catch)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = int(x.shape[-1])
        ramp = torch.arange(width, dtype=x.dtype) / 100.0
        return self.conv(x) + ramp


def build(model: nn.Module, folder: Path, dtype: str = "fp32", shape=(32, 40)) -> OpenVinoModule:
    return build_openvino_module(
        model, model_id="tiny", shape=shape, multiple=8, dtype=dtype, cache_dir=folder
    )


def test_matches_pytorch_at_the_tile_shape_and_at_other_aligned_shapes(tmp_path: Path) -> None:
    model = TinyNet().eval()
    module = build(model, tmp_path)
    assert module.static_shape is None and module.dtype == "fp32"
    for shape in ((32, 40), (16, 32), (48, 24)):
        x = torch.rand(1, 3, *shape)
        with torch.inference_mode():
            got, expected = module(x), model(x)
        assert got.dtype == torch.float32 and got.shape == expected.shape
        assert float((got - expected).abs().max()) <= TOLERANCE


def test_inputs_it_cannot_serve_go_to_pytorch(tmp_path: Path) -> None:
    model = TinyNet().eval()
    module = build(model, tmp_path)
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    with torch.inference_mode():
        module(torch.rand(1, 3, 32, 40))  # served by OpenVINO
        assert calls == []
        module(torch.rand(1, 3, 30, 40))  # not on the multiple
        module(torch.rand(2, 3, 32, 40))  # batch 2
        with torch.autocast("cpu", dtype=torch.bfloat16):
            module(torch.rand(1, 3, 32, 40))  # under autocast
    assert len(calls) == 3


def test_a_graph_that_bakes_a_shape_falls_back_to_a_static_one(tmp_path: Path) -> None:
    model = ShapeBakingNet().eval()
    module = build(model, tmp_path)
    assert module.static_shape == (32, 40)
    x = torch.rand(1, 3, 16, 32)
    with torch.inference_mode():
        assert torch.equal(module(x), model(x))  # other shapes run in PyTorch


def test_the_checked_graph_is_cached_and_a_damaged_one_is_converted_again(tmp_path, monkeypatch) -> None:
    model = TinyNet().eval()
    assert not is_converted(model, model_id="tiny", shape=(32, 40), cache_dir=tmp_path)
    build(model, tmp_path)
    assert is_converted(model, model_id="tiny", shape=(32, 40), cache_dir=tmp_path)
    conversions = []
    real_convert = ov_backend.convert_model
    monkeypatch.setattr(ov_backend, "convert_model", lambda *a: conversions.append(1) or real_convert(*a))
    build(model, tmp_path)
    assert conversions == []  # loaded from the cache
    weights = next(tmp_path.glob("*.bin"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: wrong pixels if it were trusted
    weights.write_bytes(bytes(data))
    assert not is_converted(model, model_id="tiny", shape=(32, 40), cache_dir=tmp_path)
    module = build(model, tmp_path)
    assert conversions == [1] and "damaged or stale" in module.notes[0]
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert float((module(x) - model(x)).abs().max()) <= TOLERANCE


def test_other_weights_get_their_own_graph(tmp_path: Path) -> None:
    build(TinyNet(seed=0).eval(), tmp_path)
    retrained = TinyNet(seed=1).eval()
    module = build(retrained, tmp_path)
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert float((module(x) - retrained(x)).abs().max()) <= TOLERANCE
    assert len(list(tmp_path.glob("*.xml"))) == 2


def test_bf16_is_used_only_where_the_cpu_has_it_and_quality_holds(tmp_path, monkeypatch) -> None:
    model = TinyNet().eval()
    monkeypatch.setattr(ov_backend, "cpu_has_bf16", lambda: False)
    module = build(model, tmp_path, dtype="bf16")
    assert module.dtype == "fp32" and "no native bf16" in module.notes[0]
    monkeypatch.setattr(ov_backend, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(ov_graph, "BF16_MIN_PSNR", 1000.0)
    monkeypatch.setattr(ov_backend, "BF16_MIN_PSNR", 1000.0)
    module = build(model, tmp_path / "strict", dtype="bf16")
    assert module.dtype == "fp32" and "fp32 runs" in module.notes[0]
    ledger = json.loads(next((tmp_path / "strict").glob("*.shapes.json")).read_text())
    assert ledger["precisions"] == ["fp32"]
    again = build(model, tmp_path / "strict", dtype="bf16")  # the failed bf16 check is remembered
    assert again.dtype == "fp32" and "fp32 runs" in again.notes[0]


@pytest.mark.skipif(not ov_backend.cpu_has_bf16(), reason="this CPU has no native bf16")
def test_bf16_graph_stays_close_to_fp32(tmp_path: Path) -> None:
    model = TinyNet().eval()
    module = build(model, tmp_path, dtype="bf16")
    assert module.dtype == "bf16"
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        error = float((module(x) - model(x)).abs().max())
    assert 0 < error < 0.05


def test_missing_package_and_failed_conversion_say_why(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ov_backend, "openvino_unavailable_reason", lambda: "not installed: openvino")
    with pytest.raises(OpenVinoUnavailable, match="not installed: openvino"):
        build(TinyNet().eval(), tmp_path)
    monkeypatch.undo()

    class Untraceable(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if float(x.mean()) > 2 else None  # returns None: not traceable

    with pytest.raises(OpenVinoUnavailable, match="conversion failed"):
        build(Untraceable().eval(), tmp_path)


def test_a_shape_that_fails_at_run_time_is_served_by_pytorch_from_then_on(tmp_path, monkeypatch) -> None:
    model = TinyNet().eval()
    module = build(model, tmp_path)

    def broken(*args):
        raise RuntimeError("Exception from src/inference: broken")

    monkeypatch.setattr(ov_backend, "infer", broken)
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert torch.equal(module(x), model(x))
    assert "OpenVINO failed on input (1, 3, 32, 40)" in module.notes[-1]


def test_a_cached_graph_that_no_longer_compiles_is_converted_again(tmp_path, monkeypatch) -> None:
    model = TinyNet().eval()
    build(model, tmp_path)
    real_compile = ov_backend.compile_model
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Exception from src/plugin: cannot compile")
        return real_compile(*args, **kwargs)

    monkeypatch.setattr(ov_backend, "compile_model", fails_once)
    module = build(model, tmp_path)
    assert any("failed now" in note and "cannot compile" in note for note in module.notes)
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert float((module(x) - model(x)).abs().max()) <= TOLERANCE


def test_converting_sends_no_telemetry_and_writes_nothing_in_the_home(tmp_path: Path) -> None:
    """openvino.convert_model made ~/intel (a client id and usage stats) in the user's real home."""
    import os
    import subprocess
    import sys

    code = (
        "import torch; from irstudio.inference.backends.openvino_graph import convert_model; "
        "from tests.inference.test_backends import TinyNet; "
        "convert_model(TinyNet().eval(), torch.rand(1, 3, 16, 16), dynamic=True)"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    environment["HOME"] = str(tmp_path)
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], env=environment, cwd=root, check=True, timeout=300)
    assert not (tmp_path / "intel").exists()
    assert "CI" not in environment  # the opt-out is the converter's, not the caller's
