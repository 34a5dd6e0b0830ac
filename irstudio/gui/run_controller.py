"""Running models: whole-image runs and region previews on ``Lane.DEVICE``, progress, cancel.

``RunController.run()`` snapshots the current image, model choice and run options into a
``RestoreRequest`` and submits it under ``restore:<model key>`` (running the same model again
supersedes the older run; different models queue one after the other on the serialized lane).
``preview(region)`` restores only ``region`` under the single key ``preview``, so a newer preview
(the user panned) supersedes the older one; its pixels are the same as the full run's there.
Results go into ``AppState``; a result computed for an image that is no longer shown is dropped,
and a preview never replaces a full result. Progress, ETA and Cancel live in ``ProgressStatus``.

Before its first tile a run chooses its plan on the worker thread (``restore_jobs.plan_run``):
nothing is measured on the CPU (the committed plan or this computer's calibration); while the model
is prepared (converted for OpenVINO on its first run) the progress text says ``CHOOSING_BACKEND``
("Preparing the model (slower the first time)…"); once chosen, the ETA clock restarts (preparing
is not tile time). ``optimise()`` (Run → Optimise for this computer) measures the chosen model
under the key ``optimise``, step by step with progress and Cancel, and records the outcome for
later runs. The plan used (backend, precision, tile) is in the result's details and the model panel's
"Last run" line; the status bar says the time. Models and plans are kept in ``cache`` (a
``PlanCache``: the window's, whose models the Inside view shares; its own when none is given).

Reports come through each job's ``JobHandle``; the controller keeps the handles of its jobs that have
not concluded (the newest per key: a superseded job is silent), so the progress bar ends when the
last of them ends and a starting run says how many more are queued.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, QTimer

from irstudio.core import Region, resolve_device
from irstudio.gui.restore_jobs import (
    PlanCache,
    PlanStep,
    RestoreOutcome,
    RestoreRequest,
    RunOptions,
    restore_work,
)
from irstudio.gui.state import AppState, Result
from irstudio.gui.tasks import JobHandle, Lane, TaskRunner
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.gui.widgets.progress_status import ProgressStatus
from irstudio.inference import AutoPlan, OptimiseStep, TileProgress
from irstudio.models import ModelChoice

__all__ = ["OPTIMISE_KEY", "PREVIEW_KEY", "RunController", "region_of"]

RESTORE_PREFIX = "restore:"
PREVIEW_KEY = "preview"
OPTIMISE_KEY = "optimise"
LANE = Lane.DEVICE
LIVE_PREVIEW_DELAY_MS = 300


def region_of(rect: QRectF, height: int, width: int) -> Region | None:
    """The whole pixels covered by ``rect`` (image pixels), clipped to the image; None if outside."""
    y0, x0 = max(0, math.floor(rect.top())), max(0, math.floor(rect.left()))
    y1, x1 = min(height, math.ceil(rect.bottom())), min(width, math.ceil(rect.right()))
    return Region(y0, x0, y1, x1) if y1 > y0 and x1 > x0 else None


class RunController(QObject):
    """Submits restorations, follows their progress and stores their results."""

    def __init__(
        self,
        *,
        parent: QObject,
        state: AppState,
        runner: TaskRunner,
        panel: ModelPanel,
        progress: ProgressStatus,
        warn: Callable[[str, str], None],
        status: Callable[[str], None],
        shown_rect: Callable[[], QRectF] | None = None,
        cache: PlanCache | None = None,
    ) -> None:
        super().__init__(parent)
        self._state, self._runner, self._panel, self._progress = state, runner, panel, progress
        self._warn, self._status, self._shown_rect = warn, status, shown_rect
        self._cache = cache if cache is not None else PlanCache()
        self._headings: dict[str, str] = {}  # key -> the progress text its run began with
        self._jobs: dict[str, JobHandle] = {}  # key -> our newest job of it, until it concludes
        self._visible: QRectF | None = None
        self.live_preview = False
        self._live_timer = QTimer(self, singleShot=True, interval=LIVE_PREVIEW_DELAY_MS)
        self._live_timer.timeout.connect(self._live_preview_now)
        progress.cancel_requested.connect(self.cancel)
        state.image_changed.connect(self._on_image_changed)
        panel.model_selected.connect(lambda _key: self._schedule_live_preview())

    # ------------------------------------------------------------------ requests

    def _request(
        self, choice: ModelChoice | None, options: RunOptions | None, region: Region | None
    ) -> RestoreRequest | None:
        image = self._state.image
        choice = choice if choice is not None else self._panel.current_choice()
        if image is None or choice is None:
            self._status("Open an image first" if image is None else "Choose a model first")
            return None
        options = options if options is not None else self._panel.run_options()
        return RestoreRequest(choice, image.rgb, options, self._state.generation, region)

    def run(self, choice: ModelChoice | None = None, options: RunOptions | None = None) -> bool:
        """Restore the whole image; False (with a status message) when there is nothing to run."""
        request = self._request(choice, options, None)
        if request is None:
            return False
        self._submit(RESTORE_PREFIX + request.choice.key, request, "Restoring with")
        return True

    def preview(
        self,
        region: Region | None = None,
        choice: ModelChoice | None = None,
        options: RunOptions | None = None,
    ) -> bool:
        """Restore only ``region`` (default: what the view shows); supersedes the older preview."""
        image = self._state.image
        if region is None and image is not None:
            region = self.visible_region()
        request = self._request(choice, options, region)
        if request is None:
            return False
        existing = self._state.result(request.choice.key)
        if existing is not None and not existing.is_preview:
            self._status(f"{request.choice.label}: the whole image is already restored")
            return False
        self._submit(PREVIEW_KEY, request, "Previewing region with")
        return True

    def optimise(self) -> bool:
        """Measure how the chosen model runs fastest here (on the device lane, cancellable); False
        (with a status message) when no model is chosen."""
        choice = self._panel.current_choice()
        if choice is None or not choice.spec.learned:
            self._status("Choose a learned model to optimise")
            return False
        options, cache = self._panel.run_options(), self._cache

        def work(token):
            device = resolve_device(options.device)
            return (yield from cache.optimise(choice, device, token))

        job = self._runner.submit(OPTIMISE_KEY, work, lane=LANE)
        self._follow(job, lambda: f"Optimising {choice.label} for this computer")
        job.result.connect(self._on_optimised)
        job.error.connect(lambda message: self._on_failed(OPTIMISE_KEY, "Optimisation failed", message))
        return True

    def _submit(self, key: str, request: RestoreRequest, what: str) -> None:
        """Run ``request`` under ``key``; its progress text begins with ``what`` and the model."""
        job = self._runner.submit(key, restore_work(request, self._cache), lane=LANE)
        self._follow(job, lambda: f"{what} {request.choice.label}{self._more_queued()}")
        job.result.connect(lambda outcome: self._on_restored(key, outcome))
        name = request.choice.label
        job.error.connect(lambda message: self._on_failed(key, "Restoration failed", f"{name}: {message}"))

    def _follow(self, job: JobHandle, heading: Callable[[], str]) -> None:
        """Track ``job`` (it replaces our older job of its key, which is silent now): when it starts,
        the progress bar begins with ``heading()``; it shows its steps; cancelled, it says so."""
        key = job.key
        self._jobs[key] = job
        job.started.connect(lambda: self._begin(key, heading()))
        job.progress.connect(lambda item: self._on_progressed(key, item))
        job.cancelled.connect(lambda: self._on_cancelled(key))

    def _more_queued(self) -> str:
        """`` (n more queued)`` while ``n`` other jobs of ours wait behind the one starting."""
        queued = len(self._jobs) - 1
        return f" ({queued} more queued)" if queued > 0 else ""

    def cancel(self) -> None:
        """Stop every restoration (each stops before its next tile; nothing is stored); the
        status bar says so at once."""
        self._progress.mark_stopping()  # only while it shows a run
        self._runner.cancel_all(LANE)

    # ------------------------------------------------------------------ visible region

    def set_visible_rect(self, rect: QRectF) -> None:
        """What the view shows, in input-image pixels (from the compare view)."""
        self._visible = QRectF(rect)
        self._schedule_live_preview()

    def visible_region(self) -> Region | None:
        """The shown part of the image: the last rectangle the view reported, else what
        ``shown_rect`` says; None when unknown (the whole image is previewed)."""
        image = self._state.image
        rect = self._visible
        if rect is None and self._shown_rect is not None:
            rect = self._shown_rect()
        if image is None or rect is None or rect.isEmpty():
            return None
        height, width = image.rgb.shape[:2]
        return region_of(rect, height, width)

    def set_live_preview(self, enabled: bool) -> None:
        self.live_preview = enabled
        self._schedule_live_preview()

    def _schedule_live_preview(self) -> None:
        if self.live_preview and self._state.image is not None:
            self._live_timer.start()

    def _live_preview_now(self) -> None:
        choice = self._panel.current_choice()
        if self.live_preview and choice is not None:
            existing = self._state.result(choice.key)
            if existing is None or existing.is_preview:
                self.preview()

    # ------------------------------------------------------------------ reports

    def _on_image_changed(self) -> None:
        self.cancel()
        self._visible = None

    def _begin(self, key: str, heading: str) -> None:
        self._headings[key] = heading
        self._progress.begin(heading)

    def _on_progressed(self, key: str, item: object) -> None:
        if isinstance(item, TileProgress):
            self._progress.report(item.index + 1, item.total)
        elif isinstance(item, OptimiseStep):
            self._progress.set_text(f"{self._headings.get(key, 'Optimising')}: {item.text}")
            self._progress.report(item.done, item.total, unit="steps")
        elif isinstance(item, PlanStep):
            self._on_plan_step(key, item)

    def _on_plan_step(self, key: str, step: PlanStep) -> None:
        heading = self._headings.get(key, "Restoring")
        if step.chosen:
            self._progress.begin(heading)  # the ETA counts tile time only
        else:
            self._progress.set_text(f"{heading}: {step.text}")

    def _on_optimised(self, plan: object) -> None:
        self._concluded(OPTIMISE_KEY)
        if isinstance(plan, AutoPlan):
            message = f"Optimised for this computer: {plan.describe()}"
            self._status(message)
            self._panel.show_plan(message)

    def _on_restored(self, key: str, outcome: object) -> None:
        self._concluded(key)
        if isinstance(outcome, RestoreOutcome):
            self._store(outcome)

    def _store(self, outcome: RestoreOutcome) -> None:
        """Add a run's result to the state, unless its image is gone or it is a preview over a
        whole-image result."""
        request = outcome.request
        if request.generation != self._state.generation:
            return  # computed for an image that is no longer shown
        existing = self._state.result(request.choice.key)
        if request.region is not None and existing is not None and not existing.is_preview:
            return  # a preview never replaces the whole image
        label = request.choice.label + (" (preview)" if request.region is not None else "")
        result = Result(
            key=request.choice.key,
            label=label,
            model_id=request.choice.spec.id,
            image=outcome.image,
            region=request.region,
            seconds=outcome.seconds,
            details=outcome.details(),
        )
        self._state.add_result(result)
        self._status(f"{label}: restored in {outcome.seconds:.1f} s")  # how: the panel's Last run
        self._panel.show_plan(f"{label}: {outcome.details()}")

    def _on_failed(self, key: str, title: str, message: str) -> None:
        self._concluded(key)
        self._warn(title, message)

    def _on_cancelled(self, key: str) -> None:
        self._concluded(key)
        self._status("Cancelled")

    def _concluded(self, key: str) -> None:
        """Forget the job of ``key`` (it concluded); the progress bar ends with our last job."""
        self._jobs.pop(key, None)
        self._headings.pop(key, None)
        if not self._jobs:
            self._progress.end()
