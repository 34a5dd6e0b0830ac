"""Optimise for this computer: measure how a model runs best here, on request, in steps that report
progress and can be cancelled between them (the app's Run → Optimise for this computer…, and the
library face of ``irstudio bench``).

Steps: convert the model for each CPU engine (seconds each, cached), then ``auto_plan(measure=True)``
(the backend race at the tile's read shape and the timed tile sides; each timing is one or a few
forward passes of one tile), which stores this computer's calibration record. Later restores use it
without measuring.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from irstudio.core.cancel import CancelToken
from irstudio.core.device import DeviceInfo
from irstudio.inference.backends import OPENVINO, OPENVINO_BF16, BackendUnavailable, build_backend
from irstudio.inference.planning.plan import CPU_TILE, AutoPlan, auto_plan, plan_for, read_side
from irstudio.models.spec import ModelSpec


@dataclass(frozen=True)
class OptimiseStep:
    """What the optimisation does now: step ``done`` of ``total`` is about to start."""

    text: str
    done: int
    total: int


def optimise(
    spec: ModelSpec,
    model: nn.Module,
    device: DeviceInfo,
    *,
    state_dir: Path | None = None,
    cancel: CancelToken | None = None,
) -> Generator[OptimiseStep, None, AutoPlan]:
    """Measure ``spec`` (its built ``model``) on ``device`` and record the outcome; returns the plan.

    Yields an ``OptimiseStep`` before each step and raises ``Cancelled`` between steps once
    ``cancel`` is set. On a GPU there is nothing to convert: the probes run in one step.
    """
    engines = (OPENVINO, OPENVINO_BF16) if device.spec == "cpu" else ()
    total = len(engines) + 1
    model.eval().to(device.spec)
    side = read_side(plan_for(spec, device, tile=CPU_TILE)) or CPU_TILE
    for index, name in enumerate(engines):
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield OptimiseStep(f"Preparing {name}", index, total)
        with contextlib.suppress(BackendUnavailable):  # the race records why and never picks it
            build_backend(
                name, model, model_id=spec.id, device=device.spec, shape=(side, side),
                multiple=spec.tile_multiple, state_dir=state_dir,
            )  # fmt: skip
    if cancel is not None:
        cancel.raise_if_cancelled()
    yield OptimiseStep("Timing backends and tile sizes", len(engines), total)
    return auto_plan(spec, model, device, state_dir=state_dir, measure=True)
