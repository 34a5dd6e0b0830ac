"""Choose how a registry model runs over an image: device, precision, tile size, context and backend.

``plan_for`` gives the static defaults (no measuring); ``auto_plan`` measures once per model and
device (precision probe, memory probe for the tile size, backend timing; all cached) and returns
the plan with the module to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.inference.autotile import MARGIN, AutoTile, auto_tile_size, memory_budget
from irstudio.inference.backends import EAGER, BackendVerdict, VerdictCache, choose_backend
from irstudio.inference.backends.cache import (
    AUTOTILE_CACHE_NAME,
    BACKEND_CACHE_NAME,
    CPU_TILE_CACHE_NAME,
    PRECISION_CACHE_NAME,
    default_cache_path,
)
from irstudio.inference.cpu_tile import CPU_TILE_SIDES, CpuTileVerdict, choose_cpu_tile, read_side_of
from irstudio.inference.precision import PrecisionVerdict, choose_precision
from irstudio.inference.runner import TilePlan
from irstudio.models.spec import ModelSpec, Tiling

CPU_TILE = 256
"""The CPU's first tile side: the backend race runs at its read shape; larger sides (``cpu_tile``)
are then timed for the winner, as per-pixel cost grows with the tile for eager window attention
but not for ONNX Runtime (performance.md §2.4)."""
GPU_TILE = 512
BASELINE_TILE = 1024


def _round_to_multiple(value: int, multiple: int) -> int:
    return max(multiple, (value // multiple) * multiple)


def auto_tile(spec: ModelSpec, device: DeviceInfo) -> int | None:
    """The default tile side for ``spec`` on ``device`` (None: whole image)."""
    if spec.tiling is Tiling.WHOLE_IMAGE:
        return None
    if not spec.learned:
        return BASELINE_TILE
    return CPU_TILE if device.spec == "cpu" else GPU_TILE


def plan_for(
    spec: ModelSpec,
    device: DeviceInfo,
    *,
    tile: int | None = None,
    context: int | None = None,
    dtype: str = "fp32",
) -> TilePlan:
    """A ``TilePlan`` for ``spec``: explicit ``tile``/``context`` win, else the defaults; the tile is
    rounded down to the model's ``tile_multiple``. ``dtype`` must be fp32 or one of ``spec.half_dtypes``."""
    if dtype != "fp32" and dtype not in spec.half_dtypes:
        allowed = ", ".join(("fp32", *spec.half_dtypes))
        raise ValueError(f"{spec.id} does not run in {dtype}; allowed: {allowed}")
    chosen = tile if tile is not None else auto_tile(spec, device)
    if chosen is not None:
        chosen = _round_to_multiple(chosen, spec.tile_multiple)
    return TilePlan(
        tile=chosen,
        context=spec.context if context is None else context,
        multiple=spec.tile_multiple,
        scale=spec.scale,
        device=device.spec,
        dtype=dtype,
    )


MAX_GPU_BATCH = 8


@dataclass(frozen=True)
class AutoPlan:
    """What ``auto_plan`` chose: the plan, the module to run in place of the model, and why.

    ``module`` takes the model's place in ``run_tiled`` (the model itself, a channels_last or ONNX
    Runtime wrapper, or a compiled module). ``tile`` is None when the tile was given or not probed;
    ``cpu_tile`` is the CPU's timed choice of tile side (None elsewhere or when not timed).
    """

    plan: TilePlan
    module: nn.Module
    backend: BackendVerdict
    precision: PrecisionVerdict
    tile: AutoTile | None = None
    cpu_tile: CpuTileVerdict | None = None

    def describe(self) -> str:
        """One line, e.g. ``"backend onnx (2.4x eager), fp32 (the CPU runs fp32), tile 256"``."""
        speed = self.backend.speedup_over(EAGER)
        backend = self.backend.backend + (
            f" ({speed:.2f}x eager)" if speed and self.backend.backend != EAGER else ""
        )
        precision = self.precision.dtype + (f" ({self.precision.note})" if self.precision.note else "")
        parts = [f"backend {backend}", precision, f"tile {self.plan.tile or 'whole image'}"]
        if self.plan.batch > 1:
            parts.append(f"batch {self.plan.batch}")
        return ", ".join(parts + list(self.backend.notes))


def read_side(plan: TilePlan) -> int | None:
    """The side of an interior tile's read region (core + ``seam_overlap``; the largest read of a plan);
    None untiled."""
    return None if plan.tile is None else read_side_of(plan, plan.tile)


def _gpu_batch(tile: AutoTile | None, device: DeviceInfo) -> int:
    """Tiles per forward on a GPU: as many predicted tile peaks as fit the margin, at most 8."""
    if device.spec == "cpu" or tile is None or not tile.predicted_bytes or not tile.budget_bytes:
        return 1
    fits = int(MARGIN * tile.budget_bytes // max(tile.predicted_bytes, 1.0))
    return max(1, min(MAX_GPU_BATCH, fits))


class _AnnouncingCache:
    """A ``VerdictCache`` that calls ``announce`` when a lookup misses (a measurement follows)."""

    def __init__(self, store: VerdictCache, announce: Callable[[], None]) -> None:
        self._store = store
        self._announce = announce

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._store.get(key)
        if entry is None:
            self._announce()
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self._store.put(key, entry)


def _once(callback: Callable[[], None] | None) -> Callable[[], None]:
    called = False

    def call() -> None:
        nonlocal called
        if callback is not None and not called:
            called = True
            callback()

    return call


def auto_plan(
    spec: ModelSpec,
    model: nn.Module,
    device: DeviceInfo,
    *,
    tile: int | None = None,
    context: int | None = None,
    dtype: str | None = None,
    allow_compile: bool = False,
    backends: Sequence[str] | None = None,
    state_dir: Path | None = None,
    repeat: int = 3,
    on_measure: Callable[[], None] | None = None,
) -> AutoPlan:
    """Plan ``spec`` on ``device`` with the measured best precision, tile size and backend.

    Explicit ``tile``/``context``/``dtype`` win; otherwise the precision probe (GPUs), the memory
    probe (auto tile; on the CPU the race runs at ``CPU_TILE`` and ``choose_cpu_tile`` then times
    the winner at the larger sides memory allows) and the backend chooser decide, each measured
    once and cached under ``state_dir`` (default ``paths.user_state_dir()``). ``model``: the built
    model; it is put in eval mode on the device (and may be converted to channels_last in place).
    ``backends``: restrict the backends timed (default: all that suit the device and precision).
    Classical baselines and whole-image models run eagerly, unprobed. ``on_measure`` is called once,
    before the first measurement, when some verdict is not cached (e.g. to say "measuring, once").
    """
    announce = _once(on_measure)

    def cache(name: str) -> Any:
        store = VerdictCache(state_dir / name if state_dir is not None else default_cache_path(name))
        return _AnnouncingCache(store, announce)

    model.eval().to(device.spec)
    if dtype is not None:
        precision = PrecisionVerdict(dtype, note="as requested")
    elif spec.learned:
        precision = choose_precision(
            model,
            model_id=spec.id,
            allowed=spec.half_dtypes,
            device=device,
            cache=cache(PRECISION_CACHE_NAME),
        )
    else:
        precision = PrecisionVerdict("fp32", note="classical baseline")
    probed = None
    probe_tile = tile is None and spec.learned and spec.tiling is Tiling.SUPPORTED
    if probe_tile:
        probed = auto_tile_size(
            model,
            model_id=spec.id,
            device=device,
            multiple=spec.tile_multiple,
            context=spec.context if context is None else context,
            dtype=precision.dtype,
            default_tile=auto_tile(spec, device) or GPU_TILE,
            max_tile=max(CPU_TILE_SIDES) if device.spec == "cpu" else None,
            cache=cache(AUTOTILE_CACHE_NAME),
        )
        tile = min(probed.tile, CPU_TILE) if device.spec == "cpu" else probed.tile
    plan = plan_for(spec, device, tile=tile, context=context, dtype=precision.dtype)
    plan = replace(plan, batch=_gpu_batch(probed, device))
    side = read_side(plan)
    if not spec.learned or side is None:
        return AutoPlan(
            plan, model, BackendVerdict(EAGER, (0, 0), notes=("not measured",)), precision, probed
        )
    if backends is not None and tuple(backends) == (EAGER,):
        return AutoPlan(plan, model, BackendVerdict(EAGER, (side, side)), precision, probed)
    module, verdict = choose_backend(
        model,
        model_id=spec.id,
        device=device,
        shape=(side, side),
        dtype=plan.dtype,
        multiple=spec.tile_multiple,
        repeat=repeat,
        allow_compile=allow_compile,
        candidates=backends,
        cache=cache(BACKEND_CACHE_NAME),
        onnx_cache_dir=state_dir / "onnx" if state_dir is not None else None,
    )
    timed = None
    if device.spec == "cpu" and probed is not None and plan.tile == CPU_TILE:
        timed = choose_cpu_tile(
            module,
            model_id=spec.id,
            device=device,
            plan=plan,
            backend=verdict.backend,
            max_tile=probed.tile,
            budget_bytes=memory_budget("cpu"),
            channels=spec.in_channels,
            cache=cache(CPU_TILE_CACHE_NAME),
        )
        plan = replace(plan, tile=timed.tile)
    return AutoPlan(plan, module, verdict, precision, probed, timed)
