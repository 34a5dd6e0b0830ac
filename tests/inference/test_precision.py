"""Precision probe: NaN/Inf and PSNR >= 45 dB against fp32, per-device candidates, cached verdicts.

There is no GPU here: the probe itself runs on the CPU (autocast bf16/fp16 work there), and the
policy around it is tested with explicit candidates and injected timings.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import irstudio.inference.planning.precision as precision
from irstudio.core.device import DeviceInfo
from irstudio.inference.backends import VerdictCache
from irstudio.inference.planning.precision import (
    MIN_PSNR_DB,
    PrecisionVerdict,
    choose_precision,
    probe_crop,
    probe_precision,
    psnr_db,
    supported_half_dtypes,
)

CPU = DeviceInfo("cpu", "Test CPU", None, None)


class Gentle(nn.Module):
    """Output = input + a small conv correction: reduced precision changes it by far less than 45 dB."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 * self.conv(x)


class Overflowing(nn.Module):
    """A 1x1 conv with weights 1e5: in fp16 (max 65504) the activations overflow to Inf."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.Conv2d(3, 3, 1, bias=False)
        self.down = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.up.weight.fill_(1e5)
            self.down.weight.fill_(1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.up(x))


class Cancelling(nn.Module):
    """y = x + (256.001 x - 256 x) * 100: the two 1x1 convs round differently in bf16 (8-bit mantissa),
    so the small difference the output depends on is lost: finite, but far below 45 dB."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 3, 1, bias=False)
        self.b = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.a.weight.copy_(torch.eye(3)[:, :, None, None] * 256.001)
            self.b.weight.copy_(torch.eye(3)[:, :, None, None] * 256.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.a(x) - self.b(x)) * 100.0


def test_psnr_is_infinite_for_identical_images_and_known_for_a_constant_error() -> None:
    a = np.full((4, 4, 3), 0.5, dtype=np.float32)
    assert psnr_db(a, a) == math.inf
    assert psnr_db(a, a + 0.01) == pytest.approx(40.0, abs=1e-3)


def test_probe_crop_is_a_deterministic_rgb_crop_in_range() -> None:
    crop = probe_crop(64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.float32
    assert crop.min() >= 0.0 and crop.max() <= 1.0 and crop.std() > 0.02
    np.testing.assert_array_equal(crop, probe_crop(64))
    synthetic = precision._synthetic_crop(32)
    assert synthetic.shape == (32, 32, 3) and 0.0 <= synthetic.min() <= synthetic.max() <= 1.0


def test_a_gentle_model_passes_bf16() -> None:
    score, reason = probe_precision(Gentle().eval(), "cpu", "bf16", probe_crop(32))
    assert reason is None and score >= MIN_PSNR_DB


def test_overflow_to_inf_fails_with_the_count() -> None:
    score, reason = probe_precision(Overflowing().eval(), "cpu", "fp16", probe_crop(16))
    assert math.isnan(score) and reason is not None and "NaN/Inf" in reason


def test_lost_precision_fails_on_psnr() -> None:
    score, reason = probe_precision(Cancelling().eval(), "cpu", "bf16", probe_crop(32))
    assert score < MIN_PSNR_DB and reason is not None and "dB from fp32" in reason


def test_the_cpu_runs_fp32_without_probing(tmp_path: Path) -> None:
    verdict = choose_precision(
        Gentle().eval(), model_id="g", allowed=("bf16",), device=CPU, cache=VerdictCache(tmp_path / "p.json")
    )
    assert verdict == PrecisionVerdict("fp32", note="the CPU runs fp32")
    assert not (tmp_path / "p.json").exists()
    assert supported_half_dtypes("cpu") == ()


def test_only_allowed_precisions_are_probed(tmp_path: Path) -> None:
    verdict = choose_precision(
        Overflowing().eval(),
        model_id="o",
        allowed=("bf16",),
        device=CPU,
        candidates=("fp16",),
        cache=VerdictCache(tmp_path / "p.json"),
    )
    assert (
        verdict.dtype == "fp32"
        and verdict.psnr_db == {}
        and "no reduced precision both allowed" in verdict.note
    )


def test_a_passing_precision_is_chosen_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_path = tmp_path / "precision-cache.json"
    model = Gentle().eval()
    kwargs = {"model_id": "g", "allowed": ("bf16", "fp16"), "device": CPU, "candidates": ("bf16", "fp16")}
    verdict = choose_precision(model, **kwargs, cache=VerdictCache(cache_path), time_candidates=False)
    assert verdict.dtype in ("bf16", "fp16") and not verdict.rejected
    assert verdict.psnr_db["fp16"] > verdict.psnr_db["bf16"] >= MIN_PSNR_DB  # fp16 keeps more mantissa

    def must_not_probe(*args, **kwargs):
        raise AssertionError("probed again despite a cached verdict")

    monkeypatch.setattr(precision, "probe_precision", must_not_probe)
    again = choose_precision(model, **kwargs, cache=VerdictCache(cache_path), time_candidates=False)
    assert again.cached and again.dtype == verdict.dtype


def test_new_weights_are_probed_again(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "p.json")
    kwargs = {"model_id": "g", "allowed": ("fp16",), "device": CPU, "candidates": ("fp16",)}
    first = choose_precision(Gentle().eval(), **kwargs, cache=cache, time_candidates=False)
    blown = Gentle().eval()
    with torch.no_grad():
        blown.conv.weight.mul_(1e7)  # now overflows fp16
    second = choose_precision(blown, **kwargs, cache=cache, time_candidates=False)
    assert first.dtype == "fp16" and second.dtype == "fp32" and "fp16" in second.rejected


def test_a_passing_precision_that_is_not_faster_keeps_fp32(tmp_path: Path, monkeypatch) -> None:
    def fp32_fastest(candidates, device, *, repeat, warmup):
        return {name: (1.0 if name == "fp32" else 2.0) for name, _ in candidates}

    monkeypatch.setattr(precision, "interleaved_medians", fp32_fastest)
    verdict = choose_precision(
        Gentle().eval(),
        model_id="g",
        allowed=("bf16",),
        device=CPU,
        candidates=("bf16",),
        cache=VerdictCache(tmp_path / "p.json"),
    )
    assert verdict.dtype == "fp32" and verdict.speedup == {"bf16": 0.5} and not verdict.rejected


def test_a_faster_passing_precision_wins(tmp_path: Path, monkeypatch) -> None:
    def half_fastest(candidates, device, *, repeat, warmup):
        return {name: (1.0 if name == "fp32" else 0.4) for name, _ in candidates}

    monkeypatch.setattr(precision, "interleaved_medians", half_fastest)
    verdict = choose_precision(
        Gentle().eval(),
        model_id="g",
        allowed=("bf16",),
        device=CPU,
        candidates=("bf16",),
        cache=VerdictCache(tmp_path / "p.json"),
    )
    assert verdict.dtype == "bf16" and verdict.speedup["bf16"] == pytest.approx(2.5)


def test_cuda_candidates_follow_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert supported_half_dtypes("cuda:0") == ("bf16", "fp16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert supported_half_dtypes("cuda:0") == ("fp16",)
    assert supported_half_dtypes("mps") == ("fp16", "bf16")


def test_verdict_json_round_trip_keeps_infinite_scores() -> None:
    verdict = PrecisionVerdict("bf16", {"bf16": math.inf, "fp16": 50.0}, {"fp16": "why"}, {"bf16": 2.0})
    again = PrecisionVerdict.from_json(verdict.to_json())
    assert again.psnr_db == verdict.psnr_db and again.rejected == verdict.rejected and again.cached


def test_gpu_timing_uses_a_crop_large_enough_to_keep_the_device_busy() -> None:
    crop = probe_crop(128)
    assert precision._timing_crop(crop, "cpu") is crop
    big = precision._timing_crop(crop, "cuda:0")
    assert big.shape == (512, 512, 3)
    np.testing.assert_array_equal(big[128:256, :128], crop)
