"""Choose how a registry model runs over an image: device, precision, tile size, context and backend.

``plan_for`` gives the static defaults (no measuring). ``auto_plan`` returns the plan with the module
to run:
- on the CPU, without measuring anything: this computer's calibration record when one was measured
  (``calibration.py``), else the committed plan for the architecture (``known.py``), with the tile
  shrunk until the memory estimate fits what is free now. The only one-off cost is converting the
  model for OpenVINO (seconds; cached).
- with ``measure=True`` (``irstudio bench``, "Optimise for this computer") or on a GPU: the probes
  (precision, memory for the tile, backend race, on the CPU the timed tile side), each cached; on
  the CPU the outcome is stored as this computer's calibration record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.memory import memory_budget
from irstudio.core.precision import Precision
from irstudio.inference.backends import (
    CHANNELS_LAST,
    EAGER,
    BackendUnavailable,
    BackendVerdict,
    VerdictCache,
    build_backend,
    choose_backend,
)
from irstudio.inference.backends.cache import (
    AUTOTILE_CACHE_NAME,
    BACKEND_CACHE_NAME,
    CPU_TILE_CACHE_NAME,
    PRECISION_CACHE_NAME,
    default_cache_path,
)
from irstudio.inference.backends.chooser import OPENVINO_BF16
from irstudio.inference.backends.openvino_rt import OPENVINO
from irstudio.inference.planning.autotile import MARGIN, AutoTile, auto_tile_size
from irstudio.inference.planning.calibration import Calibration, read_calibration, write_calibration
from irstudio.inference.planning.cpu_tile import CPU_TILE_SIDES, CpuTileVerdict, choose_cpu_tile, read_side_of
from irstudio.inference.planning.known import MEMORY_SHARE, MIN_CPU_TILE, KnownPlan, known_cpu_plan
from irstudio.inference.planning.precision import PrecisionVerdict, choose_precision
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
    dtype: str = Precision.FP32.value,
) -> TilePlan:
    """A ``TilePlan`` for ``spec``: explicit ``tile``/``context`` win, else the defaults; the tile is
    rounded down to the model's ``tile_multiple``. ``dtype`` must be fp32 or one of ``spec.half_dtypes``."""
    if dtype not in spec.precisions:
        allowed = ", ".join(spec.precisions)
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
        """One line, e.g. ``"backend openvino-bf16, bf16 (54 dB from fp32), tile 256, known plan"``."""
        speed = self.backend.speedup_over(EAGER)
        backend = self.backend.backend + (
            f" ({speed:.2f}x eager)" if speed and self.backend.backend != EAGER else ""
        )
        precision = self.precision.dtype + (f" ({self.precision.note})" if self.precision.note else "")
        inner = getattr(self.module, "dtype", None)  # OpenVINO computes in its own precision
        if isinstance(inner, str) and inner != self.precision.dtype:
            precision = inner + "".join(f" ({note})" for note in getattr(self.module, "notes", [])[:1])
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
    measure: bool = False,
    on_prepare: Callable[[str], None] | None = None,
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

    On the CPU nothing is measured unless ``measure`` (module doc): ``on_prepare(message)`` is then
    called before a one-off conversion (seconds), and ``dtype``/``backends``/``tile`` still win.
    """
    if device.spec == "cpu" and spec.learned and spec.tiling is Tiling.SUPPORTED and not measure:
        return _cpu_plan_without_measuring(
            spec,
            model,
            device,
            tile=tile,
            context=context,
            dtype=dtype,
            backends=backends,
            state_dir=state_dir,
            on_prepare=on_prepare,
        )
    announce = _once(on_measure)
    unconstrained = tile is None and dtype is None and backends is None

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
        precision = PrecisionVerdict(Precision.FP32.value, note="classical baseline")
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
        state_dir=state_dir,
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
    if device.spec == "cpu" and unconstrained:
        write_calibration(
            spec.id, model, device, state_dir, Calibration(verdict.backend, plan.tile or CPU_TILE)
        )
    return AutoPlan(plan, module, verdict, precision, probed, timed)


def fit_tile(known: KnownPlan, plan: TilePlan, budget_bytes: int | None, largest: int) -> int:
    """The largest core side <= ``largest`` (on the plan's multiple, >= ``MIN_CPU_TILE`` where it can)
    whose memory estimate fits ``MEMORY_SHARE`` of ``budget_bytes`` (unknown budget: ``largest``)."""
    side = max(plan.multiple, largest // plan.multiple * plan.multiple)
    if budget_bytes is None:
        return side
    step = max(plan.multiple, 32 // plan.multiple * plan.multiple)
    while (
        side - step >= MIN_CPU_TILE
        and known.estimate_bytes(read_side_of(plan, side)) > MEMORY_SHARE * budget_bytes
    ):
        side -= step
    return side


def _cpu_choice(
    spec: ModelSpec, model: nn.Module, device: DeviceInfo, state_dir: Path | None
) -> tuple[str, int, str]:
    """(backend, largest tile, where it comes from): this computer's calibration, else the table."""
    record = read_calibration(spec.id, model, device, state_dir)
    known = known_cpu_plan(spec.arch)
    if record is not None:
        return record.backend, record.tile, "measured on this computer"
    return known.backend, known.tile, f"known plan for {spec.arch} on CPUs"


def _cpu_backend_for(chosen: str, dtype: str | None, backends: Sequence[str] | None) -> str:
    """The backend under the caller's restrictions: a forced precision or backend list wins."""
    if backends is not None and chosen not in backends:
        return backends[0]
    if dtype == Precision.FP32 and chosen == OPENVINO_BF16:
        return OPENVINO
    if dtype not in (None, Precision.FP32) and chosen not in (EAGER, CHANNELS_LAST):
        return EAGER  # a forced half precision runs through torch's autocast
    return chosen


def _cpu_plan_without_measuring(
    spec: ModelSpec,
    model: nn.Module,
    device: DeviceInfo,
    *,
    tile: int | None,
    context: int | None,
    dtype: str | None,
    backends: Sequence[str] | None,
    state_dir: Path | None,
    on_prepare: Callable[[str], None] | None,
) -> AutoPlan:
    """``auto_plan`` on the CPU with nothing measured (module doc)."""
    model.eval().to("cpu")
    chosen, largest, source = _cpu_choice(spec, model, device, state_dir)
    backend = _cpu_backend_for(chosen, dtype, backends)
    note = "as requested" if dtype else "the CPU runs fp32"
    precision = PrecisionVerdict(dtype or Precision.FP32.value, note=note)
    plan = plan_for(spec, device, tile=tile or largest, context=context, dtype=precision.dtype)
    if tile is None:
        fitted = fit_tile(known_cpu_plan(spec.arch), plan, memory_budget("cpu"), largest)
        plan = replace(plan, tile=fitted)
    side = read_side(plan) or CPU_TILE
    notes: list[str] = [source]
    module: nn.Module = model
    if backend != EAGER:
        engine = "OpenVINO" if backend.startswith(OPENVINO) else backend
        message = f"preparing {spec.id} for {engine} (once for these weights; seconds)"
        try:
            module = build_backend(
                backend, model, model_id=spec.id, device="cpu", shape=(side, side),
                multiple=spec.tile_multiple, state_dir=state_dir,
                on_convert=(lambda: on_prepare(message)) if on_prepare else None,
            )  # fmt: skip
        except BackendUnavailable as error:
            notes.append(f"{backend} unavailable ({error}); eager runs")
            backend = EAGER
    verdict = BackendVerdict(backend, (side, side), notes=tuple(notes))
    return AutoPlan(plan, module, verdict, precision)
