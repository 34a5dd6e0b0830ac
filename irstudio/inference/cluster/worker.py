"""What runs inside one cluster worker: its model, its plan, and the files or benchmark images it is given.

``WorkerSetup`` says which model to load and how to plan it; it is small and picklable (ids and
paths, never a model or an image), so the driver sends it to every worker. ``RestoreWorker`` is a
plain class (no Ray here: ``pool.ClusterPool`` turns it into a Ray actor): it opens its model on
first use, which after a restart of its process happens again, and restores the items it is given
with ``inference.batch.restore_item``, the local batch's own code (same reader, tiler, plan,
metadata, names, atomic never-overwrite writes). It reads its inputs and writes its outputs itself,
by path: nothing larger than a path or a score crosses the object store.

An item given again (``attempt`` > 1) was being restored by a worker that died. Its output did not
exist when the driver first sent it, and writes are atomic and never overwrite, so an output found
now is complete and came from that earlier attempt: it is reported as written (once), never
written a second time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from irstudio.core.atomic import stale_temp_files
from irstudio.core.device import resolve_device
from irstudio.inference.batch import BatchEventKind, BatchItem, ItemOutcome, restore_item
from irstudio.inference.evaluation import EvalCase, EvalProtocol, ImageScore, score_case
from irstudio.inference.planning import AutoPlan, auto_plan, plan_for
from irstudio.models.library import resolve_model
from irstudio.models.loading import open_model

__all__ = ["EARLIER_ATTEMPT", "RestoreWorker", "WorkerInfo", "WorkerSetup"]

EARLIER_ATTEMPT = "written by an earlier attempt (its worker died)"
"""The message of a WRITTEN outcome whose output a dead worker had already published."""


@dataclass(frozen=True)
class WorkerSetup:
    """How every worker loads and plans its model, as the command line gives it.

    ``model_id``/``scale`` resolve as ``irstudio restore --model/--scale`` do (the registry, then
    the user's library in ``library_dir``, which must be visible to every node for a library
    model); ``weights``: a weight file to load instead (a path every node can read). ``device``:
    "auto" (the GPU Ray gave the worker, else the CPU) or a device spec. ``tile``, ``context``,
    ``precision`` (None: measured or committed, as ``auto_plan`` decides), ``backend`` (None: any)
    force the plan. ``threads``: torch's intra-op threads on a CPU worker (None: leave as is).
    ``fp32_on_cpu``: run fp32 when the precision is automatic and the device is the CPU (what
    ``irstudio eval`` does: scores do not depend on the engine).
    """

    model_id: str
    scale: int | None = None
    library_dir: Path | None = None
    weights: Path | None = None
    device: str = "auto"
    tile: int | None = None
    context: int | None = None
    precision: str | None = None
    backend: str | None = None
    threads: int | None = None
    fp32_on_cpu: bool = False

    def open(self) -> AutoPlan:
        """Load the model on this process's device and choose its plan (``auto_plan``, verdicts in
        this node's state folder). Raises what ``resolve_model``, ``open_model``, ``plan_for`` and
        ``auto_plan`` raise (unknown model, bad weights, absent device, a precision not allowed)."""
        if self.threads:
            torch.set_num_threads(self.threads)
        from irstudio.paths import user_library_dir

        library_dir = self.library_dir if self.library_dir is not None else user_library_dir()
        spec, library_file = resolve_model(self.model_id, self.scale, library_dir)
        device = resolve_device(self.device)
        dtype = self.precision
        if dtype is None and self.fp32_on_cpu and device.spec == "cpu":
            dtype = "fp32"
        if dtype is not None:
            plan_for(spec, device, tile=self.tile, context=self.context, dtype=dtype)  # refuses early
        torch.manual_seed(0)  # a model without weights is then the same on every worker
        model = open_model(spec, self.weights or library_file).to(device.spec)
        return auto_plan(
            spec,
            model,
            device,
            tile=self.tile,
            context=self.context,
            dtype=dtype,
            backends=None if self.backend is None else (self.backend,),
            on_measure=lambda: _say(f"measuring the fastest way to run {spec.id} on {device.spec} (once)"),
            on_prepare=_say,
        )


def _say(message: str) -> None:
    """A line on this worker's stderr (Ray forwards it to the driver's terminal)."""
    print(f"{message} ...", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs (``host``, ``pid``), on which ``device`` (e.g. ``"cuda:0"``, ``"cpu x4
    threads"``) and its ``plan`` (``AutoPlan.describe()``)."""

    host: str
    pid: int
    device: str
    plan: str


class RestoreWorker:
    """One worker: a loaded model and its plan, restoring what the driver sends (see module doc).

    Not thread-safe: the pool runs one call at a time per worker.
    """

    def __init__(self, setup: WorkerSetup) -> None:
        self._setup = setup
        self._chosen: AutoPlan | None = None

    @property
    def chosen(self) -> AutoPlan:
        """The model and plan, opened on first use (again after the process restarted)."""
        if self._chosen is None:
            self._chosen = self._setup.open()
        return self._chosen

    def ready(self) -> WorkerInfo:
        """Open the model now; where and how this worker runs."""
        chosen = self.chosen
        device = chosen.plan.device
        if device == "cpu":
            device += f" x{torch.get_num_threads()} threads"
        return WorkerInfo(socket.gethostname(), os.getpid(), device, chosen.describe())

    def restore(self, items: Sequence[BatchItem], attempt: int = 1) -> list[ItemOutcome]:
        """Restore ``items`` one after another; their outcomes, in order. ``attempt`` > 1: the
        items were sent before to a worker that died (see the module doc)."""
        return [self.restore_one(item, attempt) for item in items]

    def restore_one(self, item: BatchItem, attempt: int) -> ItemOutcome:
        """One item's outcome: SKIPPED when its output exists (WRITTEN when an earlier attempt
        published it), else what ``batch.restore_item`` returns."""
        if os.path.lexists(item.target):
            if attempt > 1:
                _remove_stale_temporaries(item.target)
                return ItemOutcome(BatchEventKind.WRITTEN, EARLIER_ATTEMPT)
            return ItemOutcome(BatchEventKind.SKIPPED, "output exists")
        chosen = self.chosen
        steps = restore_item(chosen.module, item, chosen.plan)
        with contextlib.closing(steps):
            while True:
                try:
                    next(steps)
                except StopIteration as finished:
                    outcome: ItemOutcome = finished.value
                    return outcome

    def score(self, cases: Sequence[tuple[int, EvalCase]], protocol: EvalProtocol) -> list[ImageScore]:
        """Score each ``(index in the benchmark, case)`` (``evaluation.score_case``), in order."""
        chosen = self.chosen
        return [score_case(chosen.module, case, index, protocol, chosen.plan) for index, case in cases]


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporaries of ``target`` that nobody writes (a dead worker's, left between
    publishing and cleaning up)."""
    for temporary in stale_temp_files(target):
        with contextlib.suppress(OSError):
            temporary.unlink()
