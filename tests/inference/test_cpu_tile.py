"""``choose_cpu_tile``: the cheapest tile side per core pixel that fits in memory, timed from small
to large, cached, and chosen again against the memory free now."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import irstudio.inference.planning.cpu_tile as cpu_tile
from irstudio.core.device import DeviceInfo
from irstudio.inference.backends import VerdictCache
from irstudio.inference.planning.cpu_tile import CpuTileVerdict, choose_cpu_tile, read_side_of
from irstudio.inference.runner import TilePlan

CPU = DeviceInfo("cpu", "Test CPU", None, None)
PLAN = TilePlan(tile=256, context=32, multiple=8)
GIB = 2**30


@pytest.fixture
def timed(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replaces the stopwatch and the memory meter: seconds = ``per_px(read side) * read side²``
    (by default falling with the read, as ONNX Runtime's does), peak = 1 KiB per read pixel;
    records the read sides run."""
    state: dict[str, object] = {"sides": [], "per_px": lambda side: 1e-6 * 320 / side}

    def fake(module: nn.Module, side: int, channels: int, baseline: int | None) -> tuple[float, int]:
        state["sides"].append(side)
        return state["per_px"](side) * side * side, 1024 * side * side

    monkeypatch.setattr(cpu_tile, "_measure", fake)
    return state


def choose(tmp_path, **kwargs) -> CpuTileVerdict:
    arguments = {
        "model_id": "m",
        "device": CPU,
        "plan": PLAN,
        "backend": "onnx",
        "max_tile": 768,
        "budget_bytes": 16 * GIB,
        "cache": VerdictCache(tmp_path / "cpu-tile.json"),
    }
    return choose_cpu_tile(nn.Identity(), **{**arguments, **kwargs})


def test_cost_falling_with_the_read_picks_the_largest_tile(tmp_path, timed) -> None:
    verdict = choose(tmp_path)
    assert verdict.tile == 768 and not verdict.cached
    assert timed["sides"] == [read_side_of(PLAN, side) for side in (256, 512, 768)] == [320, 576, 832]
    # context overhead alone: (320/256)² = 1.5625 µs per core pixel at 256 px
    assert verdict.us_per_core_px[256] == pytest.approx(1.5625)
    assert verdict.us_per_core_px[768] == pytest.approx((832 / 768) ** 2 * 320 / 832)
    assert verdict.peak_bytes[768] == 1024 * 832 * 832


def test_cost_growing_with_the_tile_keeps_256_and_stops_timing(tmp_path, timed) -> None:
    timed["per_px"] = lambda side: 1e-6 * side / 100  # eager window attention: dearer per pixel
    verdict = choose(tmp_path)
    assert verdict.tile == 256
    assert timed["sides"] == [320, 576]  # 768 is not run once 512 lost


@pytest.mark.parametrize(("gain", "tile"), [(0.08, 256), (0.12, 512)])
def test_a_larger_tile_must_be_ten_percent_cheaper(tmp_path, timed, gain: float, tile: int) -> None:
    assert cpu_tile.MIN_GAIN == 0.10
    base = (320 / 256) ** 2  # µs per core pixel at 256 px
    timed["per_px"] = lambda side: 1e-6 * {320: 1.0, 576: (1 - gain) * base / (576 / 512) ** 2}.get(side, 9.0)
    assert choose(tmp_path).tile == tile


def test_the_memory_cap_bounds_the_sides_run(tmp_path, timed) -> None:
    verdict = choose(tmp_path, max_tile=600)
    assert timed["sides"] == [320, 576]  # 768 is beyond the cap
    assert verdict.tile == 512 and set(verdict.us_per_core_px) == {256, 512}


def test_a_side_whose_memory_would_not_fit_is_never_run(tmp_path, timed) -> None:
    """576² reads measured 324 MiB; 832² extrapolates to 676 MiB, beyond 0.7 of 900 MiB free."""
    verdict = choose(tmp_path, budget_bytes=900 * 2**20)
    assert timed["sides"] == [320, 576] and verdict.tile == 512


def test_a_cached_verdict_is_chosen_again_against_the_memory_free_now(tmp_path, timed) -> None:
    assert choose(tmp_path).tile == 768
    timed["sides"].clear()
    tight = choose(tmp_path, budget_bytes=400 * 2**20)  # 0.7 of it: 768 (676 MiB) and 512 (324) too big
    assert tight.cached and tight.tile == 256 and timed["sides"] == []
    assert choose(tmp_path, budget_bytes=None).tile == 768  # unknown free memory: not limited


def test_the_verdict_is_cached_per_backend_and_threads(tmp_path, timed) -> None:
    first = choose(tmp_path)
    timed["sides"].clear()
    again = choose(tmp_path)
    assert again.cached and again.tile == first.tile and timed["sides"] == []
    choose(tmp_path, backend="eager")
    assert timed["sides"]  # another backend is measured anew
    before = torch.get_num_threads()
    timed["sides"].clear()
    try:
        torch.set_num_threads(1 if before != 1 else 2)
        choose(tmp_path)
    finally:
        torch.set_num_threads(before)
    assert timed["sides"]


def test_real_measuring_runs_the_module_on_the_read_shape(tmp_path) -> None:
    shapes = []

    class Recorder(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            shapes.append(tuple(x.shape))
            return x

    verdict = choose_cpu_tile(
        Recorder(), model_id="r", device=CPU, plan=PLAN, backend="eager", max_tile=256, budget_bytes=None
    )
    assert verdict.tile == 256 and shapes == [(1, 3, 320, 320)] * 2  # warm-up, then the timed run
    assert "tile 256" in verdict.describe()
