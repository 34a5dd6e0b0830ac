"""File → "Restore a folder…": the batch dialog, run through the window's ``TaskRunner``.

``BatchController`` makes the menu entry and keeps one ``BatchDialog`` (created on first use,
reused while it lives, so a rerun resumes in the same form). The dialog lists the models of the
current task; "Start" submits ``run_batch_request`` under ``BATCH_KEY`` on its own lane
(``BATCH_LANE``): a folder can take hours, so it must neither block nor be cancelled by the
interactive work of the "device" lane (Esc, opening another photo). The model is built and its
plan measured (``restore_jobs.plan_run``: backend, precision, tile size) on the worker thread,
with the model panel's device, precision and tiling at the time of Start; the controller's own
``PlanCache`` (used only on the batch lane) keeps both, so the next batch with the same model and
options starts at once. While the plan is chosen the dialog says "Choosing backend…"; the plan
used is shown in the dialog and in the status bar.
Its parts come in explicitly: ``parent`` (owns the action and the dialog), ``runner``, ``state``,
``settings``, the model ``panel``, ``status``; the window puts ``action`` in its File menu. Each
job's ``JobHandle`` reports back.

Each model gets a file-name-safe id in the dialog (``<stem>_<id>.png`` outputs): the registry id,
or the library file's stem for the user's models.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from irstudio.core import CancelToken, resolve_device
from irstudio.gui.cluster_batch import cluster_batch_work
from irstudio.gui.restore_jobs import PlanCache, PlanStep, RunOptions, plan_run
from irstudio.gui.settings import Settings
from irstudio.gui.state import AppState
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.widgets.batch_dialog import BatchDialog
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.gui.window_parts import Status
from irstudio.inference import BatchReport, BatchRequest, run_batch_request
from irstudio.models import LIBRARY, ModelChoice

__all__ = ["BATCH_KEY", "BATCH_LANE", "BatchController", "batch_ids"]

BATCH_KEY = "batch"
BATCH_LANE = Lane.BATCH


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "model"


def batch_ids(choices: list[ModelChoice]) -> dict[str, ModelChoice]:
    """A unique, file-name-safe id per choice (in order): the registry id, or for a library model
    its file's stem; a clash gets ``-2``, ``-3``…"""
    ids: dict[str, ModelChoice] = {}
    for choice in choices:
        base = _safe(choice.weights.stem if choice.kind == LIBRARY and choice.weights else choice.key)
        name, n = base, 1
        while name in ids:
            n += 1
            name = f"{base}-{n}"
        ids[name] = choice
    return ids


def batch_work(
    request: BatchRequest, choice: ModelChoice, options: RunOptions, cache: PlanCache | None = None
):
    """``TaskRunner`` work: build ``choice`` and measure its plan on the worker thread (``cache``:
    reused across batches, used only on this lane; None: a fresh one), restore the folder with the
    plan's module; yields ``PlanStep``s then ``BatchEvent``s, returns the ``BatchReport``. A request
    with ``cluster`` set runs on that Ray cluster's workers instead (``cluster_batch``)."""
    if request.cluster:
        return cluster_batch_work(request, choice, options)
    models = cache if cache is not None else PlanCache(size=1)

    def work(token: CancelToken):
        token.raise_if_cancelled()
        device = resolve_device(options.device)
        chosen = yield from plan_run(choice, device, options, models)
        token.raise_if_cancelled()
        return (yield from run_batch_request(request, chosen.module, chosen.plan, token))

    return work


class BatchController(QObject):
    """Owns the batch dialog and feeds it the reports of its ``BATCH_KEY`` jobs; lists the models of
    ``panel`` (and runs with its options), preselects ``state``'s model and ``settings``' last folder."""

    def __init__(
        self,
        *,
        parent: QWidget,
        runner: TaskRunner,
        state: AppState,
        settings: Settings,
        panel: ModelPanel,
        status: Status,
    ) -> None:
        super().__init__(parent)
        self._parent, self._runner, self._state, self._settings = parent, runner, state, settings
        self._panel, self._status = panel, status
        self.dialog: BatchDialog | None = None
        self._ids: dict[str, ModelChoice] = {}
        self._models = PlanCache(size=1)  # only ever used on BATCH_LANE's thread
        self.plan_description = ""
        self.action = QAction("Restore a &folder…", parent)
        self.action.setStatusTip("Restore every photo of a folder with one model")
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())

    def open_dialog(self) -> BatchDialog:
        """Show the dialog: the one open or running, else a new one listing the current task's models."""
        if self.dialog is None or not (self.dialog.is_running() or self.dialog.isVisible()):
            self._ids = batch_ids(self._panel.choices())
            selected = next((i for i, c in self._ids.items() if c.key == self._state.model), None)
            folder = self._settings.last_folder or None
            if self.dialog is not None:
                self.dialog.deleteLater()
            self.dialog = BatchDialog(
                [(i, c.label) for i, c in self._ids.items()],
                self._parent,
                input_dir=folder,
                model_id=selected,
            )
            self.dialog.start_requested.connect(self._start)
            self.dialog.cancel_requested.connect(lambda: self._runner.cancel(BATCH_KEY))
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def _start(self, request: BatchRequest) -> None:
        choice = self._ids[request.model_id]
        options = self._panel.run_options()
        self.plan_description = ""
        work = batch_work(request, choice, options, self._models)
        job = self._runner.submit(BATCH_KEY, work, lane=BATCH_LANE)
        job.progress.connect(self._on_progressed)
        job.result.connect(self._on_finished)
        job.error.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self._status(f"Restoring the folder {request.input_dir} with {choice.label}")

    # ------------------------------------------------------------------ runner reports

    def _on_progressed(self, event: object) -> None:
        if self.dialog is None:
            return
        if isinstance(event, PlanStep):
            self._on_plan_step(event)
        else:
            self.dialog.on_event(event)

    def _on_plan_step(self, step: PlanStep) -> None:
        """Show the step ("Choosing backend…", then the plan) in the dialog and the status bar."""
        if step.chosen:
            self.plan_description = step.text
            self._status(f"Restoring the folder: {step.text}")
        if self.dialog is not None:
            self.dialog.current_label.setText(step.text)

    def _on_finished(self, report: object) -> None:
        if self.dialog is not None and isinstance(report, BatchReport):
            self.dialog.on_finished(report)
            how = f" ({self.plan_description})" if self.plan_description else ""
            self._status(f"Folder restored: {report.summary()}{how}")

    def _on_failed(self, message: str) -> None:
        if self.dialog is not None:
            self.dialog.on_failed(message)

    def _on_cancelled(self) -> None:
        if self.dialog is not None:
            self.dialog.on_cancelled()
