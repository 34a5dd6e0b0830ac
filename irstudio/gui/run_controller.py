"""Running models: whole-image runs and region previews on the "device" lane, progress, cancel.

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
"Last run" line; the status bar says the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, QTimer

from irstudio.core.device import resolve_device
from irstudio.core.tiling import Region
from irstudio.gui.model_choices import ModelChoice
from irstudio.gui.restore_jobs import (
    ModelCache,
    PlanStep,
    RestoreOutcome,
    RestoreRequest,
    RunOptions,
    restore_work,
)
from irstudio.gui.state import AppState, Result
from irstudio.gui.tasks import TaskRunner
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.gui.widgets.progress_status import ProgressStatus
from irstudio.inference.planning import AutoPlan
from irstudio.inference.planning.optimise import OptimiseStep
from irstudio.inference.runner import TileProgress

__all__ = ["OPTIMISE_KEY", "PREVIEW_KEY", "RunController", "region_of"]

RESTORE_PREFIX = "restore:"
PREVIEW_KEY = "preview"
OPTIMISE_KEY = "optimise"
LANE = "device"
LIVE_PREVIEW_DELAY_MS = 300


def region_of(rect: QRectF, height: int, width: int) -> Region | None:
    """The whole pixels covered by ``rect`` (image pixels), clipped to the image; None if outside."""
    y0, x0 = max(0, math.floor(rect.top())), max(0, math.floor(rect.left()))
    y1, x1 = min(height, math.ceil(rect.bottom())), min(width, math.ceil(rect.right()))
    return Region(y0, x0, y1, x1) if y1 > y0 and x1 > x0 else None


def _is_ours(key: str) -> bool:
    return key in (PREVIEW_KEY, OPTIMISE_KEY) or key.startswith(RESTORE_PREFIX)


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
    ) -> None:
        super().__init__(parent)
        self._state, self._runner, self._panel, self._progress = state, runner, panel, progress
        self._warn, self._status, self._shown_rect = warn, status, shown_rect
        self._cache = ModelCache()
        self._requests: dict[str, RestoreRequest] = {}
        self._headings: dict[str, str] = {}  # key -> the progress text its run began with
        self._visible: QRectF | None = None
        self._optimising: ModelChoice | None = None
        self.live_preview = False
        self._live_timer = QTimer(self, singleShot=True, interval=LIVE_PREVIEW_DELAY_MS)
        self._live_timer.timeout.connect(self._live_preview_now)
        runner.started.connect(self._on_started)
        runner.progressed.connect(self._on_progressed)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)
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
        self._submit(RESTORE_PREFIX + request.choice.key, request)
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
        self._submit(PREVIEW_KEY, request)
        return True

    def optimise(self) -> bool:
        """Measure how the chosen model runs fastest here (on the device lane, cancellable); False
        (with a status message) when no model is chosen."""
        choice = self._panel.current_choice()
        if choice is None or not choice.spec.learned:
            self._status("Choose a learned model to optimise")
            return False
        options, cache = self._panel.run_options(), self._cache
        self._optimising = choice

        def work(token):
            device = resolve_device(options.device)
            return (yield from cache.optimise(choice, device, token))

        self._runner.submit(OPTIMISE_KEY, work, lane=LANE)
        return True

    def _submit(self, key: str, request: RestoreRequest) -> None:
        self._requests[key] = request
        self._runner.submit(key, restore_work(request, self._cache), lane=LANE)

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

    def _on_started(self, key: str) -> None:
        if key == OPTIMISE_KEY and self._optimising is not None:
            self._headings[key] = f"Optimising {self._optimising.label} for this computer"
            self._progress.begin(self._headings[key])
            return
        request = self._requests.get(key)
        if request is None or not _is_ours(key):
            return
        what = "Previewing region with" if key == PREVIEW_KEY else "Restoring with"
        queued = sum(1 for k in self._runner.active_keys() if _is_ours(k)) - 1
        more = f" ({queued} more queued)" if queued > 0 else ""
        self._headings[key] = f"{what} {request.choice.label}{more}"
        self._progress.begin(self._headings[key])

    def _on_progressed(self, key: str, item: object) -> None:
        if not _is_ours(key):
            return
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

    def _on_finished(self, key: str, outcome: object) -> None:
        if key == OPTIMISE_KEY and isinstance(outcome, AutoPlan):
            self._concluded(key)
            message = f"Optimised for this computer: {outcome.describe()}"
            self._status(message)
            self._panel.show_plan(message)
            return
        if not _is_ours(key) or not isinstance(outcome, RestoreOutcome):
            return
        self._concluded(key)
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

    def _on_failed(self, key: str, message: str) -> None:
        if key == OPTIMISE_KEY:
            self._concluded(key)
            self._warn("Optimisation failed", message)
            return
        if _is_ours(key):
            request = self._concluded(key)
            name = request.choice.label if request is not None else "the model"
            self._warn("Restoration failed", f"{name}: {message}")

    def _on_cancelled(self, key: str) -> None:
        if _is_ours(key):
            self._concluded(key)
            self._status("Cancelled")

    def _concluded(self, key: str) -> RestoreRequest | None:
        request = self._requests.pop(key, None)
        self._headings.pop(key, None)
        if not any(_is_ours(k) for k in self._runner.active_keys()):
            self._progress.end()
        return request
