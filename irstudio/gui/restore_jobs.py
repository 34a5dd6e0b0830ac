"""Restoration as ``TaskRunner`` work: an immutable request in, a restored image out (no Qt here).

``restore_work(request, cache)`` returns the ``Work`` the device lane runs: resolve the device,
fetch the model and its measured plan from the ``PlanCache`` (``inference.planning.auto_plan``:
backend, precision and tile size, measured once per model and device and cached on disk; the
``AutoPlan`` is kept in memory per model and options, so a second run reuses its module), then
``yield from run_tiled(...)`` with the plan's module (one ``TileProgress`` per tile, cancel
checked before each) and return a ``RestoreOutcome``. Before the first tile the work yields
``PlanStep("Choosing backend…")`` while a plan is measured (not for a plan found in memory) and
then ``PlanStep(<description>, chosen=True)``. With ``request.region`` only that region
is restored (the same tiles and pixels as the full run) and the outcome's image shows the input,
resized to the output size, everywhere else.

Everything here runs on the worker thread: planning measures (seconds to minutes the first time)
and must never run on the main thread.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from irstudio import inference, paths
from irstudio.core import CancelToken, DeviceInfo, Region, release_free_heap, resolve_device
from irstudio.inference import (
    AutoPlan,
    ModelKey,
    OptimiseStep,
    TilePlan,
    auto_plan,
    model_key,
    optimise,
    run_tiled,
)
from irstudio.models import ModelChoice

__all__ = [
    "AUTO_PRECISION",
    "CHOOSING_BACKEND",
    "PlanCache",
    "PlanStep",
    "RestoreOutcome",
    "RestoreRequest",
    "RunOptions",
    "plan_run",
    "restore_work",
    "with_region",
]

AUTO_PRECISION = "auto"
"""``RunOptions.precision`` value that lets ``auto_plan`` choose (fp32 on the CPU, probed on GPUs)."""
CHOOSING_BACKEND = "Preparing the model (slower the first time)…"


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``device`` ("auto" or a spec), ``precision`` ("auto": measured, or "fp32", "bf16",
    "fp16" forced), ``tile`` and ``context`` in input pixels (None: measured / the model's)."""

    device: str = "auto"
    precision: str = AUTO_PRECISION
    tile: int | None = None
    context: int | None = None


@dataclass(frozen=True)
class RestoreRequest:
    """A snapshot taken on the main thread: ``image`` float32 HxWx3 [0, 1] (read-only), the model
    choice, the options, the state's image generation and an optional region (input pixels)."""

    choice: ModelChoice
    image: np.ndarray
    options: RunOptions
    generation: int
    region: Region | None = None


@dataclass(frozen=True)
class PlanStep:
    """Yielded by the work before its first tile: ``text`` is what it does now (``CHOOSING_BACKEND``,
    only while a plan is measured) or, with ``chosen``, the chosen plan's description."""

    text: str
    chosen: bool = False


@dataclass(frozen=True)
class RestoreOutcome:
    """``image``: float32 (H * scale, W * scale, 3) in [0, 1]; for a region request only the region
    is restored. ``seconds``: time in the tiled runner (model loading and planning excluded).
    ``description``: how it ran (``AutoPlan.describe()``: backend, precision, tile)."""

    request: RestoreRequest
    image: np.ndarray
    plan: TilePlan
    device: str
    seconds: float
    description: str = ""

    def details(self) -> str:
        """E.g. ``"cpu, backend onnx (1.25x eager), fp32 (the CPU runs fp32), tile 256, context 32,
        1.20 s"``; without a description: device, precision, tiles and seconds."""
        plan = self.plan
        if self.description:
            how = self.description + (f", context {plan.context}" if plan.tile else "")
        else:
            how = f"{plan.dtype}, " + (
                f"tile {plan.tile}, context {plan.context}" if plan.tile else "whole image"
            )
        return f"{self.device}, {how}, {self.seconds:.2f} s"


PlanKey = tuple[ModelKey, str, int | None, int | None]
"""(model key, precision, tile, context)."""


def _plan_key(choice: ModelChoice, device: str, options: RunOptions) -> PlanKey:
    return (model_key(choice.spec, choice.weights, device), options.precision, options.tile, options.context)


def _same_model(key: ModelKey, choice: ModelChoice) -> bool:
    """Whether ``key`` is ``choice``'s model (on any device)."""
    return key[:2] == model_key(choice.spec, choice.weights, "")[:2]


class PlanCache:
    """Models for restores and their measured plans: ``models`` (an ``inference.ModelCache`` of
    ``size``, which this cache owns: the window lends it to the Inside view, whose work runs on the
    same lane) and the plans by (model, precision, tile, context); a plan goes when its model goes.

    ``state_dir``: where ``auto_plan`` keeps its verdicts (None: ``paths.user_state_dir()`` at
    planning time). The plans are not locked: used only on one lane's thread.
    """

    def __init__(self, size: int = 2, *, state_dir: Path | None = None) -> None:
        self._state_dir = state_dir
        self._plans: dict[PlanKey, AutoPlan] = {}
        self.models = inference.ModelCache(size, on_evict=self._drop_plans_of)

    def _drop_plans_of(self, key: ModelKey) -> None:
        self._plans = {k: v for k, v in self._plans.items() if k[0] != key}

    def get(self, choice: ModelChoice, device: str) -> nn.Module:
        """``choice``'s model on ``device`` (opened on a miss: ``inference.open_on``)."""
        return self.models.get(choice.spec, choice.weights, device)

    def cached_plan(self, choice: ModelChoice, device: str, options: RunOptions) -> AutoPlan | None:
        """The plan measured earlier for these options (its model still cached), else None."""
        return self._plans.get(_plan_key(choice, device, options))

    def choose_plan(self, choice: ModelChoice, device: DeviceInfo, options: RunOptions) -> AutoPlan:
        """``auto_plan`` for ``choice`` on ``device`` with ``options`` (measures on a first run for
        this model and device; slow): remembered until the model leaves the cache."""
        model = self.get(choice, device.spec)
        dtype = None if options.precision == AUTO_PRECISION else options.precision
        state_dir = self._state_dir if self._state_dir is not None else paths.user_state_dir()
        plan = auto_plan(
            choice.spec,
            model,
            device,
            tile=options.tile,
            context=options.context,
            dtype=dtype,
            state_dir=state_dir,
        )
        self._plans[_plan_key(choice, device.spec, options)] = plan
        return plan

    def release_engines(self, choice: ModelChoice) -> str:
        """Drop ``choice``'s plans whose module holds an engine of its own (OpenVINO, ONNX Runtime:
        compiled graphs and memory arenas), return freed heap to the system, and give the last
        plan's description. The next run plans again in about a second (graphs cached on disk)."""
        described = ""
        for key in [key for key in self._plans if _same_model(key[0], choice)]:
            plan = self._plans[key]
            described = plan.describe()
            if plan.module is not self.models.peek(key[0]):
                del self._plans[key]
            del plan
        release_free_heap()
        return described

    def forget_plans(self, choice: ModelChoice) -> None:
        """Drop the plans of ``choice`` (measured again: the next run plans anew)."""
        self._plans = {k: v for k, v in self._plans.items() if not _same_model(k[0], choice)}

    def optimise(
        self, choice: ModelChoice, device: DeviceInfo, token: CancelToken
    ) -> Generator[OptimiseStep, None, AutoPlan]:
        """``planning.optimise`` for ``choice``: measures on this computer, records the outcome and
        forgets the plans made before it."""
        model = self.get(choice, device.spec)
        state_dir = self._state_dir if self._state_dir is not None else paths.user_state_dir()
        chosen = yield from optimise(choice.spec, model, device, state_dir=state_dir, cancel=token)
        self.forget_plans(choice)
        return chosen

    def clear(self) -> None:
        """Drop every model and plan."""
        self.models.clear()
        self._plans.clear()


"""The former name of ``PlanCache`` (gui/batch_controller.py still uses it)."""


def plan_run(
    choice: ModelChoice, device: DeviceInfo, options: RunOptions, cache: PlanCache
) -> Generator[PlanStep, None, AutoPlan]:
    """The ``AutoPlan`` for a run, for ``yield from`` in worker-thread work: the one in ``cache``,
    else ``PlanStep(CHOOSING_BACKEND)`` and the measuring; then ``PlanStep(<description>,
    chosen=True)`` in both cases."""
    chosen = cache.cached_plan(choice, device.spec, options)
    if chosen is None:
        yield PlanStep(CHOOSING_BACKEND)
        chosen = cache.choose_plan(choice, device, options)
    yield PlanStep(chosen.describe(), chosen=True)
    return chosen


def with_region(original: np.ndarray, restored: np.ndarray, region: Region, scale: int) -> np.ndarray:
    """The input resized to the output size (bicubic, clipped) with ``restored`` pasted at ``region``."""
    height, width = original.shape[0] * scale, original.shape[1] * scale
    if scale == 1:
        canvas = original.copy()
    else:
        canvas = cv2.resize(original, (width, height), interpolation=cv2.INTER_CUBIC)
        np.clip(canvas, 0.0, 1.0, out=canvas)
    r = region.scaled(scale)
    canvas[r.y0 : r.y1, r.x0 : r.x1] = restored
    return canvas


def restore_work(request: RestoreRequest, cache: PlanCache):
    """The device-lane work for ``request``: yields ``PlanStep``s then ``TileProgress``, returns a
    ``RestoreOutcome``."""

    def work(token: CancelToken):
        token.raise_if_cancelled()
        device = resolve_device(request.options.device)
        chosen = yield from plan_run(request.choice, device, request.options, cache)
        token.raise_if_cancelled()
        plan = chosen.plan
        started = time.perf_counter()
        pixels = yield from run_tiled(chosen.module, request.image, plan, token, region=request.region)
        seconds = time.perf_counter() - started
        if request.region is not None:
            pixels = with_region(request.image, pixels, request.region, plan.scale)
        else:
            del chosen  # a whole-image run is done: its engine's memory goes back (previews keep it)
            description = cache.release_engines(request.choice)
            return RestoreOutcome(request, pixels, plan, device.spec, seconds, description)
        return RestoreOutcome(request, pixels, plan, device.spec, seconds, chosen.describe())

    return work
