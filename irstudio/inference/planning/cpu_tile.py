"""The CPU tile side by measured speed and memory: time the chosen backend at a few tile sides, keep
the cheapest per core pixel that fits in memory.

On a CPU the tile side trades two costs. Every tile reads ``seam_overlap`` pixels of context beyond
its core, so small tiles spend more of their time on context (256 px tiles with 32 px of context read
1.56x their core; 768 px tiles 1.17x). But the cost of one pixel depends on the read size, and how
differs by backend: ONNX Runtime stays flat or gets cheaper per pixel as the read grows, eager window
attention gets dearer (performance.md §2.4; ``irstudio bench`` prints each model's timed sides).
So it is measured.

``choose_cpu_tile`` runs one forward pass of an interior tile's read region at each side of
``CPU_TILE_SIDES`` up to ``max_tile`` (an untimed warm-up, then a timed pass), from small to large,
and records the time per core pixel and the peak resident memory above what the process held before
the first side (ONNX Runtime keeps its arena between passes, so that is what a restore at that side
holds). It stops before a side whose memory, extrapolated from the last side by read area, would
pass ``MARGIN`` of the free memory (ONNX Runtime needs about twice what the eager memory probe
predicts: restoring 1 MP at 512 px, ast-t-derain's process peaked at 6.7 GiB where the eager fit
predicts 2.6 GiB for the pass; and on Linux running out of memory kills the process), and at the
first side that is not at least ``MIN_GAIN`` cheaper than the best so far (a dearer side was
never followed by a cheaper one in these measurements, and a large pass of a slow model costs
minutes). The verdict is cached per (model, device and its name, backend, precision, threads);
``CpuTileVerdict.pick`` chooses again from the cached figures against the memory free now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.memory import PeakMeter, resident_bytes
from irstudio.core.tiling import seam_overlap
from irstudio.inference.backends import VerdictCache, median_seconds
from irstudio.inference.backends.cache import make_key
from irstudio.inference.planning.autotile import MARGIN
from irstudio.inference.runner import TilePlan

CPU_TILE_SIDES = (256, 512, 768)
MIN_GAIN = 0.10
"""A larger tile must be this much cheaper per core pixel: it costs memory (compacter-x1-jpeg on ONNX
Runtime: 54, 45 and 42 µs per core pixel at 256, 512 and 768 px for 2.2, 5.6 and 8.6 GiB; it keeps
512)."""


@dataclass(frozen=True)
class CpuTileVerdict:
    """The chosen core side; per side timed, microseconds per core pixel and the peak bytes above
    the process's size before the first side (None where it could not be measured)."""

    tile: int
    us_per_core_px: dict[int, float] = field(default_factory=dict)
    peak_bytes: dict[int, int | None] = field(default_factory=dict)
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "tile": self.tile,
            "us_per_core_px": {str(k): v for k, v in self.us_per_core_px.items()},
            "peak_bytes": {str(k): v for k, v in self.peak_bytes.items()},
        }

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> CpuTileVerdict:
        costs = {int(k): float(v) for k, v in entry.get("us_per_core_px", {}).items()}
        peaks = {int(k): (None if v is None else int(v)) for k, v in entry.get("peak_bytes", {}).items()}
        return cls(int(entry["tile"]), costs, peaks, cached=True)

    def pick(self, budget_bytes: int | None) -> CpuTileVerdict:
        """This verdict with its tile chosen again against ``budget_bytes`` free now (``_decide``)."""
        return _decide(self.us_per_core_px, self.peak_bytes, budget_bytes, cached=self.cached)

    def describe(self) -> str:
        """E.g. ``"tile 512 (µs per core px: 256 70.2, 512 49.1, 768 47.0)"``."""
        timed = ", ".join(f"{side} {cost:.1f}" for side, cost in sorted(self.us_per_core_px.items()))
        return f"tile {self.tile} (µs per core px: {timed})"


def _decide(
    costs: Mapping[int, float],
    peaks: Mapping[int, int | None],
    budget_bytes: int | None,
    *,
    cached: bool = False,
) -> CpuTileVerdict:
    """The verdict for these timings: the ``_cheapest`` side among those whose measured peak fits
    ``MARGIN`` of ``budget_bytes`` (the smallest side always qualifies; unknown: fits)."""
    smallest = min(costs)

    def fits(side: int) -> bool:
        peak = peaks.get(side)
        return side == smallest or budget_bytes is None or peak is None or peak <= MARGIN * budget_bytes

    best = _cheapest({side: cost for side, cost in costs.items() if fits(side)})
    return CpuTileVerdict(best, dict(costs), dict(peaks), cached)


def _cheapest(costs: Mapping[int, float]) -> int:
    """The side to use: walking up from the smallest, a larger side only when ``MIN_GAIN`` cheaper."""
    best = None
    for side in sorted(costs):
        if best is None or costs[side] <= (1.0 - MIN_GAIN) * costs[best]:
            best = side
    assert best is not None
    return best


def cpu_tile_key(model_id: str, device: DeviceInfo, backend: str, dtype: str) -> str:
    return make_key(
        model=model_id,
        device=device.spec,
        device_name=device.name,
        backend=backend,
        dtype=dtype,
        threads=torch.get_num_threads(),
    )


def read_side_of(plan: TilePlan, tile: int) -> int:
    """The side of an interior tile's read region for a core of ``tile`` (on ``plan.multiple``)."""
    core = max(plan.multiple, tile // plan.multiple * plan.multiple)
    return core + seam_overlap(plan.context, plan.multiple)


def _measure(module: nn.Module, side: int, channels: int, baseline: int | None) -> tuple[float, int | None]:
    """(seconds of one forward pass after a warm-up, peak resident bytes above ``baseline``)."""
    x = torch.rand(1, channels, side, side)

    def forward() -> None:
        with torch.inference_mode():
            module(x)

    with PeakMeter("cpu", baseline) as meter:
        seconds = median_seconds(forward, "cpu", repeat=1, warmup=1)
    return seconds, meter.peak


def choose_cpu_tile(
    module: nn.Module,
    *,
    model_id: str,
    device: DeviceInfo,
    plan: TilePlan,
    backend: str,
    max_tile: int,
    budget_bytes: int | None,
    channels: int = 3,
    cache: VerdictCache | None = None,
    sides: tuple[int, ...] = CPU_TILE_SIDES,
) -> CpuTileVerdict:
    """The core side in ``sides`` (at most ``max_tile``, at least the smallest) that runs ``module``
    (the backend's module, eval mode, on the CPU) cheapest per core pixel for ``plan``'s context and
    multiple, within ``MARGIN`` of ``budget_bytes`` (free memory; None: unknown, not limited).
    Cached under ``cpu_tile_key``; measures only on a miss."""
    key = cpu_tile_key(model_id, device, backend, plan.dtype)
    entry = cache.get(key) if cache is not None else None
    if entry is not None:
        return CpuTileVerdict.from_json(entry).pick(budget_bytes)
    allowed = [side for side in sorted(sides) if side <= max_tile] or [min(sides)]
    costs: dict[int, float] = {}
    peaks: dict[int, int | None] = {}
    previous = None
    baseline = resident_bytes()  # peaks count from here: arenas kept from smaller sides are real
    for side in allowed:
        read = read_side_of(plan, side)
        if previous is not None and _too_big(
            peaks[previous], read_side_of(plan, previous), read, budget_bytes
        ):
            break
        seconds, peaks[side] = _measure(module, read, channels, baseline)
        costs[side] = 1e6 * seconds / (side * side)
        if previous is not None and _cheapest(costs) != side:
            break
        previous = side
    verdict = _decide(costs, peaks, budget_bytes)
    if cache is not None:
        cache.put(key, verdict.to_json())
    return verdict


def _too_big(peak: int | None, read: int, next_read: int, budget_bytes: int | None) -> bool:
    """Whether a pass at ``next_read`` would pass ``MARGIN`` of the budget, scaling the measured
    ``peak`` at ``read`` by area (unknown peak or budget: not too big)."""
    if peak is None or budget_bytes is None:
        return False
    return peak * (next_read / read) ** 2 > MARGIN * budget_bytes
