"""The CPU tile side by measured speed: time the chosen backend at a few tile sides, keep the cheapest.

On a CPU the tile side trades two costs. Every tile reads ``seam_overlap`` pixels of context beyond
its core, so small tiles spend more of their time on context (256 px tiles with 32 px of context read
1.56x their core; 768 px tiles 1.17x). But the cost of one pixel depends on the read size, and how
differs by backend: ONNX Runtime stays flat or gets cheaper per pixel as the read grows, eager window
attention gets dearer (performance.md §2.4; measured here with the shipped models, 2 threads on an
AMD EPYC VM: Compacter on ONNX Runtime 70, 49 and 44 µs per core pixel at 256, 512 and 768 px;
ASID on eager channels_last 31, 59 and 73 µs). So it is measured.

``choose_cpu_tile`` times one forward pass (after one untimed warm-up) of an interior tile's read
region at each side of ``CPU_TILE_SIDES`` up to the memory cap, from small to large, and stops at
the first side that is not at least ``MIN_GAIN`` cheaper per core pixel than the best so far (a
dearer side is not followed by a cheaper one in these measurements, and a large forward on a slow
model costs minutes). All sides are timed in the same sitting (the backend race's figure for 256
px may come from another load on the machine). The verdict is cached per (model, device and its
name, backend, precision, threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.tiling import seam_overlap
from irstudio.inference.backends import VerdictCache, median_seconds
from irstudio.inference.backends.cache import make_key
from irstudio.inference.runner import TilePlan

CPU_TILE_SIDES = (256, 512, 768)
MIN_GAIN = 0.05


@dataclass(frozen=True)
class CpuTileVerdict:
    """The chosen core side and the measured seconds per core pixel of each side timed."""

    tile: int
    us_per_core_px: dict[int, float] = field(default_factory=dict)
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"tile": self.tile, "us_per_core_px": {str(k): v for k, v in self.us_per_core_px.items()}}

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> CpuTileVerdict:
        costs = {int(k): float(v) for k, v in entry.get("us_per_core_px", {}).items()}
        return cls(int(entry["tile"]), costs, cached=True)

    def describe(self) -> str:
        """E.g. ``"tile 512 (µs per core px: 256 70.2, 512 49.1, 768 47.0)"``."""
        timed = ", ".join(f"{side} {cost:.1f}" for side, cost in sorted(self.us_per_core_px.items()))
        return f"tile {self.tile} (µs per core px: {timed})"


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


def _seconds_at(module: nn.Module, side: int, channels: int) -> float:
    x = torch.rand(1, channels, side, side)

    def forward() -> None:
        with torch.inference_mode():
            module(x)

    return median_seconds(forward, "cpu", repeat=1, warmup=1)


def choose_cpu_tile(
    module: nn.Module,
    *,
    model_id: str,
    device: DeviceInfo,
    plan: TilePlan,
    backend: str,
    max_tile: int,
    channels: int = 3,
    cache: VerdictCache | None = None,
    sides: tuple[int, ...] = CPU_TILE_SIDES,
) -> CpuTileVerdict:
    """The core side in ``sides`` (at most ``max_tile``, at least the smallest) that runs ``module``
    (the backend's module, eval mode, on the CPU) cheapest per core pixel for ``plan``'s context and
    multiple. Cached under ``cpu_tile_key``; measures only on a miss."""
    key = cpu_tile_key(model_id, device, backend, plan.dtype)
    entry = cache.get(key) if cache is not None else None
    if entry is not None:
        return CpuTileVerdict.from_json(entry)
    allowed = [side for side in sorted(sides) if side <= max_tile] or [min(sides)]
    costs: dict[int, float] = {}
    best = None
    for side in allowed:
        seconds = _seconds_at(module, read_side_of(plan, side), channels)
        costs[side] = 1e6 * seconds / (side * side)
        if best is not None and costs[side] > (1.0 - MIN_GAIN) * costs[best]:
            break
        best = side
    assert best is not None
    verdict = CpuTileVerdict(best, costs)
    if cache is not None:
        cache.put(key, verdict.to_json())
    return verdict
