"""Auto tile size from measured memory: probe a few tile sizes once, fit memory against area, keep a
margin, pick the largest tile that fits (performance.md §2.6 item 4).

Measuring: ``core.memory.measure_peak``, the peak memory one forward pass adds on the device (on a
CPU where it cannot be measured, the static default tile is kept).

Fitting (``fit_memory``): least squares ``peak = base + per_pixel * read_pixels`` over the probes
(ascending sizes, after an untimed warm-up at the smallest), slope and base clamped at >= 0. The fit
is cached per (model, device and its name, precision) in ``user_state_dir()/"autotile-cache.json"``;
the budget is read anew each time (free memory changes).

Choosing (``pick_tile``): an interior tile's read region is the core plus ``seam_overlap`` (the
context on both sides, snapped to the model's grid); the largest core side on the model's multiple
whose predicted peak stays within ``margin`` (0.7) of the budget, clamped to [``min_tile``,
``max_tile``]. On MPS the prediction must also stay under 4 GiB (MPS aborts the process on larger
tensors, performance.md §5). The runner's halve-and-resume on out-of-memory stays underneath for
whatever the fit misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.memory import collect_garbage, measure_peak, memory_budget, resident_bytes
from irstudio.core.precision import Precision
from irstudio.core.tiling import round_up, seam_overlap
from irstudio.inference.backends.cache import AUTOTILE_CACHE_NAME, VerdictCache, default_cache_path, make_key

MARGIN = 0.7
GPU_MAX_TILE = 2048
MPS_TENSOR_LIMIT = 4 * 1024**3
PROBE_SIDES = {"cpu": (96, 160, 224), "gpu": (256, 384, 512)}


@dataclass(frozen=True)
class MemoryFit:
    """``peak bytes = base_bytes + bytes_per_pixel * input pixels`` for one forward pass.

    ``samples``: the probes it was fitted to, as (input pixels, peak bytes).
    """

    base_bytes: float
    bytes_per_pixel: float
    samples: tuple[tuple[int, int], ...] = ()

    def predict(self, pixels: int) -> float:
        return self.base_bytes + self.bytes_per_pixel * pixels

    def to_json(self) -> dict[str, Any]:
        return {
            "base_bytes": self.base_bytes,
            "bytes_per_pixel": self.bytes_per_pixel,
            "samples": [list(s) for s in self.samples],
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> MemoryFit:
        samples = tuple((int(p), int(b)) for p, b in entry.get("samples", []))
        return cls(float(entry["base_bytes"]), float(entry["bytes_per_pixel"]), samples)


@dataclass(frozen=True)
class AutoTile:
    """The chosen core side (input pixels), the fit and budget it came from, and why."""

    tile: int
    reason: str
    fit: MemoryFit | None = None
    budget_bytes: int | None = None
    predicted_bytes: float | None = None
    cached: bool = False


def fit_memory(samples: Sequence[tuple[int, int]]) -> MemoryFit:
    """Least-squares line through (pixels, bytes) samples; one sample gives a line through zero."""
    if not samples:
        raise ValueError("need at least one (pixels, bytes) sample")
    pixels = np.array([p for p, _ in samples], dtype=np.float64)
    peaks = np.array([b for _, b in samples], dtype=np.float64)
    if len(set(pixels.tolist())) < 2:
        slope, base = float(peaks.max() / max(pixels.max(), 1.0)), 0.0
    else:
        slope, base = (float(v) for v in np.polyfit(pixels, peaks, 1))
    if slope <= 0:  # memory cannot shrink with area: fall back to the worst bytes per pixel
        slope, base = float(np.max(peaks / np.maximum(pixels, 1.0))), 0.0
    return MemoryFit(max(0.0, base), slope, tuple((int(p), int(b)) for p, b in samples))


# ------------------------------------------------------------------------------------- measuring


def probe_sides(device: str, multiple: int) -> tuple[int, ...]:
    """Input sides to probe on ``device``: three sizes on the model's multiple (at least two distinct)."""
    group = "cpu" if torch.device(device).type == "cpu" else "gpu"
    sides = sorted({round_up(side, multiple) for side in PROBE_SIDES[group]})
    while len(sides) < 2:
        sides.append(sides[-1] + multiple)
    return tuple(sides)


def probe_memory(
    model: nn.Module, device: str, sides: Sequence[int], *, dtype: str = "fp32", channels: int = 3
) -> MemoryFit | None:
    """Fit peak memory against input pixels from forward passes at ``sides`` (square inputs).

    ``model``: eval mode on ``device`` (any module-like callable). None when the device's memory
    cannot be measured here.
    """
    sides = sorted(sides)

    def forward(side: int) -> None:
        x = torch.rand(1, channels, side, side, device=device)
        with torch.inference_mode(), Precision(dtype).autocast(device):
            model(x)
        del x

    forward(sides[0])  # warm-up: one-time allocations (thread pools, packed weights) are not tile cost
    collect_garbage()
    baseline = resident_bytes() if torch.device(device).type == "cpu" else None
    samples = []
    for side in sides:
        peak = measure_peak(lambda side=side: forward(side), device, baseline)
        if peak is None:
            return None
        samples.append((side * side, peak))
    return fit_memory(samples)


# ------------------------------------------------------------------------------------- choosing


def pick_tile(
    fit: MemoryFit,
    budget_bytes: float,
    *,
    context: int,
    multiple: int = 1,
    margin: float = MARGIN,
    min_tile: int = 32,
    max_tile: int = GPU_MAX_TILE,
) -> int:
    """The largest core side (on ``multiple``, within [min_tile, max_tile]) whose read region's
    predicted peak stays within ``margin * budget_bytes``; ``min_tile`` (on the multiple) if none does."""
    lowest = round_up(max(min_tile, multiple), multiple)
    highest = max(lowest, max_tile // multiple * multiple)
    allowed = margin * budget_bytes - fit.base_bytes
    if allowed <= 0:
        return lowest
    read_side = math.isqrt(int(allowed / max(fit.bytes_per_pixel, 1e-9)))
    core = (read_side - seam_overlap(context, multiple)) // multiple * multiple
    return int(min(highest, max(lowest, core)))


def autotile_key(model_id: str, device: DeviceInfo, dtype: str) -> str:
    return make_key(model=model_id, device=device.spec, device_name=device.name, dtype=dtype)


def auto_tile_size(
    model: nn.Module,
    *,
    model_id: str,
    device: DeviceInfo,
    multiple: int,
    context: int,
    dtype: str = "fp32",
    default_tile: int,
    max_tile: int | None = None,
    min_tile: int = 32,
    margin: float = MARGIN,
    cache: VerdictCache | None = None,
    sides: Sequence[int] | None = None,
    budget_bytes: int | None = None,
) -> AutoTile:
    """The tile side for ``model`` on ``device``: from the cached or freshly probed memory fit and the
    budget now; ``default_tile`` when memory cannot be measured or the budget is unknown.

    ``max_tile``: cap (the CPU's speed-optimal side; default ``GPU_MAX_TILE`` elsewhere).
    ``budget_bytes``: override the measured free memory (tests, or a user limit).
    """
    cap = max_tile if max_tile is not None else GPU_MAX_TILE
    cache = cache if cache is not None else VerdictCache(default_cache_path(AUTOTILE_CACHE_NAME))
    key = autotile_key(model_id, device, dtype)
    entry = cache.get(key)
    cached = entry is not None
    if entry is not None:
        fit = MemoryFit.from_json(entry)
    else:
        fit = probe_memory(model, device.spec, sides or probe_sides(device.spec, multiple), dtype=dtype)
        if fit is not None:
            cache.put(key, fit.to_json())
    budget = budget_bytes if budget_bytes is not None else memory_budget(device.spec)
    if fit is None or budget is None:
        why = "memory not measurable here" if fit is None else "free memory unknown"
        return AutoTile(min(default_tile, cap), f"default tile ({why})", fit, budget, None, cached)
    if device.spec == "mps":
        budget = min(budget, int(MPS_TENSOR_LIMIT / margin))
    tile = pick_tile(
        fit, budget, context=context, multiple=multiple, margin=margin, min_tile=min_tile, max_tile=cap
    )
    read = tile + seam_overlap(context, multiple)
    predicted = fit.predict(read * read)
    reason = (
        f"{fit.bytes_per_pixel / 1024:.2f} KiB/px + {fit.base_bytes / 2**20:.0f} MiB; "
        f"{read}x{read} read predicts {predicted / 2**20:.0f} MiB of {budget / 2**20:.0f} MiB free "
        f"(margin {margin:g}, cap {cap})"
    )
    return AutoTile(tile, reason, fit, budget, predicted, cached)
