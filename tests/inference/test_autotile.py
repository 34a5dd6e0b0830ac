"""Auto tile size: fit memory against area, pick the largest tile within a margin, measure peaks
(CPU resident high-water mark here; CUDA through a simulated allocator), cache the fit."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import irstudio.inference.planning.autotile as autotile
from irstudio.core.device import DeviceInfo
from irstudio.core.memory import PeakMeter, measure_peak
from irstudio.inference.backends import VerdictCache
from irstudio.inference.planning.autotile import (
    MPS_TENSOR_LIMIT,
    MemoryFit,
    auto_tile_size,
    fit_memory,
    pick_tile,
    probe_memory,
    probe_sides,
)

CPU = DeviceInfo("cpu", "Test CPU", None, None)
MIB = 2**20
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Wide(nn.Module):
    """3 -> 64 channels: 256 B of activation per pixel per layer, enough for RSS to see."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 64, 3, padding=1)
        self.b = nn.Conv2d(64, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


# ------------------------------------------------------------------------------- fit and pick


def test_fit_recovers_a_line_and_predicts() -> None:
    fit = fit_memory([(1000, 5000 + 3 * 1000), (4000, 5000 + 3 * 4000), (9000, 5000 + 3 * 9000)])
    assert fit.base_bytes == pytest.approx(5000) and fit.bytes_per_pixel == pytest.approx(3)
    assert fit.predict(10_000) == pytest.approx(35_000)


def test_fit_never_lets_memory_shrink_with_area() -> None:
    fit = fit_memory([(1000, 9000), (4000, 8000)])  # noise made the slope negative
    assert fit.bytes_per_pixel == pytest.approx(9.0) and fit.base_bytes == 0.0
    single = fit_memory([(100, 500)])
    assert single.bytes_per_pixel == pytest.approx(5.0)
    with pytest.raises(ValueError):
        fit_memory([])


def test_pick_tile_is_the_largest_aligned_core_within_the_margin() -> None:
    fit = MemoryFit(base_bytes=100 * MIB, bytes_per_pixel=4096)
    budget = 2048 * MIB
    tile = pick_tile(fit, budget, context=16, multiple=8, margin=0.7, max_tile=4096)
    read = tile + 32
    assert tile % 8 == 0
    assert fit.predict(read * read) <= 0.7 * budget < fit.predict((read + 8) ** 2)


def test_pick_tile_clamps_to_the_floor_and_the_cap() -> None:
    fit = MemoryFit(0.0, 4096)
    assert pick_tile(fit, 1 * MIB, context=16, multiple=8, min_tile=32) == 32  # nothing fits: floor
    assert pick_tile(fit, 10**15, context=16, multiple=8, max_tile=256) == 256
    assert (
        pick_tile(MemoryFit(10**12, 1), 10**9, context=0, multiple=128, min_tile=32) == 128
    )  # on the multiple


def test_probe_sides_are_aligned_and_distinct() -> None:
    assert probe_sides("cpu", 8) == (96, 160, 224)
    assert probe_sides("cpu", 128) == (128, 256)
    assert probe_sides("cuda:0", 128) == (256, 384, 512)


def test_fit_json_round_trip() -> None:
    fit = fit_memory([(100, 1000), (400, 3000)])
    assert MemoryFit.from_json(fit.to_json()) == fit


# ------------------------------------------------------------------------------- measuring


@linux_only
def test_cpu_peak_sees_a_temporary_allocation_that_is_already_freed() -> None:
    def allocate() -> None:
        block = np.ones(64 * MIB // 8)  # 64 MiB, touched, then freed before the meter reads
        del block

    peak = measure_peak(allocate, "cpu")
    assert peak is not None and 56 * MIB <= peak <= 96 * MIB
    small = measure_peak(lambda: None, "cpu")
    assert small is not None and small < 16 * MIB


def test_cuda_peak_reads_the_allocator_high_water_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"allocated": 100, "peak": 100}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: state.update(peak=100))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: state["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    with PeakMeter("cuda:0") as meter:
        state["peak"] = 100 + 5000  # a pass that allocated 5000 bytes at its peak
    assert meter.peak == 5000


@linux_only
def test_probe_fits_a_growing_line_for_a_real_model() -> None:
    fit = probe_memory(Wide().eval(), "cpu", (96, 160, 224))
    assert fit is not None and len(fit.samples) == 3
    # Each pass holds at least one 64-channel float32 activation: >= 256 bytes per pixel.
    assert 200 <= fit.bytes_per_pixel <= 4096
    assert fit.samples[-1][1] > fit.samples[0][1]


# ------------------------------------------------------------------------------- auto_tile_size


def test_auto_tile_probes_once_then_uses_the_cached_fit(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def fake_probe(model, device, sides, *, dtype="fp32", channels=3):
        calls.append(tuple(sides))
        return MemoryFit(0.0, 4096, tuple((s * s, 4096 * s * s) for s in sides))

    monkeypatch.setattr(autotile, "probe_memory", fake_probe)
    cache = VerdictCache(tmp_path / "autotile-cache.json")
    kwargs = {
        "model_id": "m",
        "device": CPU,
        "multiple": 8,
        "context": 32,
        "default_tile": 256,
        "cache": cache,
    }
    first = auto_tile_size(Wide(), **kwargs, max_tile=4096, budget_bytes=2048 * MIB)
    second = auto_tile_size(Wide(), **kwargs, max_tile=4096, budget_bytes=2048 * MIB)
    assert calls == [(96, 160, 224)] and not first.cached and second.cached
    assert first.tile == second.tile and first.tile % 8 == 0
    read = first.tile + 64
    assert (
        first.predicted_bytes == pytest.approx(4096 * read * read)
        and first.predicted_bytes <= 0.7 * 2048 * MIB
    )
    capped = auto_tile_size(Wide(), **kwargs, max_tile=256, budget_bytes=2048 * MIB)
    assert capped.tile == 256 and "cap 256" in capped.reason


def test_auto_tile_keeps_the_default_when_memory_cannot_be_measured(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(autotile, "probe_memory", lambda *args, **kwargs: None)
    result = auto_tile_size(
        Wide(),
        model_id="m",
        device=CPU,
        multiple=8,
        context=32,
        default_tile=256,
        cache=VerdictCache(tmp_path / "a.json"),
    )
    assert result.tile == 256 and "not measurable" in result.reason and result.fit is None


def test_mps_tiles_stay_under_the_4_gib_tensor_limit(tmp_path: Path) -> None:
    mps = DeviceInfo("mps", "Apple GPU", None, None)
    cache = VerdictCache(tmp_path / "a.json")
    cache.put(autotile.autotile_key("m", mps, "fp32"), MemoryFit(0.0, 8192).to_json())
    result = auto_tile_size(
        Wide(),
        model_id="m",
        device=mps,
        multiple=8,
        context=32,
        default_tile=512,
        cache=cache,
        budget_bytes=64 * 2**30,  # a 64 GiB Mac: memory alone would allow a huge tile
    )
    assert result.cached and result.predicted_bytes is not None
    assert result.predicted_bytes <= MPS_TENSOR_LIMIT
    assert result.tile < math.isqrt(int(0.7 * 64 * 2**30 / 8192))
