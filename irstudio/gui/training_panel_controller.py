"""The Training panel's controller: runs, previews and exports on the ``TaskRunner``, run folders,
the user's library and the kept settings behind a ``TrainingPanel`` (the view).

``TrainingPanelController(view, runner, settings=..., library_dir=..., manifest_path=...,
train_lane=...)`` answers the view's requests and tells it what to show:

- The form. At start the view shows the values kept in ``settings`` under ``SETTINGS_KEY``
  (``training/form``: JSON of ``TrainingForm.to_dict``; written when a run is launched and by
  ``save_settings``; a generated run name is not kept). The controller lists the base models of
  the task (manifest and user library, learned models only), the run folders of the runs folder,
  and a generated run name (``<model>-<task>-<time>``) that follows the model and the task until
  the user types one; a data folder with ``input/`` and ``target/`` subfolders is paired data.
- The preview. A setting change recomputes the training pairs ``PREVIEW_DELAY_MS`` later (changes
  in a row make one preview) under ``PREVIEW_KEY`` on ``Lane.PREVIEW``; ``preview_updated(n)``.
- Runs. Start checks the form (folder, numbers, a run name without checkpoints) and submits the
  training under ``TRAIN_KEY`` on ``train_lane``; Resume continues the named run from its latest
  checkpoint (up to Iterations). Stop asks the loop to end at the next step; it writes a
  checkpoint that Resume continues (a run still queued behind other work of its lane is dropped).
  The runner cancelling the job (the window closing) also ends it with a checkpoint. Steps,
  validations and checkpoints update the curves, the validation strip, progress, status and
  buttons; ``run_finished(TrainSummary)`` at the end.
- Export. It asks a name (and before replacing a file), writes the run's EMA weights into the
  library under ``EXPORT_KEY`` on ``Lane.IO``, then emits ``model_exported(path)`` so the window
  can list the new model at once.

Errors (bad folder, bad settings, a failed run or export) go to the view's message line. The
controller is the view's child (it lives as long as the panel); it runs on the main thread, where
each job's ``JobHandle`` reports, and gives work only immutable snapshots (``TrainingForm``,
``TrainConfig``).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from irstudio import paths
from irstudio.core import CancelToken
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.training_form import (
    PreviewResult,
    TrainingForm,
    build_config,
    check_folder,
    checkpoint_step,
    default_run_name,
    export_path,
    export_work,
    list_runs,
    paired_folders,
    preview_work,
    read_history,
    resume_config,
    run_dir_of,
    training_work,
)
from irstudio.gui.widgets.progress_status import format_eta
from irstudio.gui.widgets.training_panel import TrainingPanel
from irstudio.models import choices_for, library_models, manifest_records, task_choice
from irstudio.training import (
    CheckpointSaved,
    ConfigError,
    Notice,
    Started,
    StepLog,
    TrainConfig,
    TrainSummary,
    Validation,
    latest_checkpoint,
)

__all__ = [
    "EXPORT_KEY",
    "PREVIEW_DELAY_MS",
    "PREVIEW_KEY",
    "SETTINGS_KEY",
    "TRAIN_KEY",
    "TrainingPanelController",
    "is_paired_folder",
]

TRAIN_KEY = "training"
PREVIEW_KEY = "training-preview"
EXPORT_KEY = "training-export"
PREVIEW_LANE, EXPORT_LANE = Lane.PREVIEW, Lane.IO
PREVIEW_DELAY_MS = 300
SETTINGS_KEY = "training/form"


def is_paired_folder(folder: str) -> bool:
    """True when ``folder`` has ``input/`` and ``target/`` subfolders (paired data)."""
    return all(sub.is_dir() for sub in paired_folders(folder))


def _new_run_config(form: TrainingForm) -> TrainConfig:
    """The config of a new run of ``form``; ``ConfigError`` when the learning rate is not a
    number, the folder holds no data, a setting is wrong, or the run already has checkpoints."""
    if not math.isfinite(form.lr):
        raise ConfigError("Learning rate: enter a number such as 2e-4.")
    check_folder(form)
    config = build_config(form)
    if latest_checkpoint(config.run_dir) is not None:
        raise ConfigError(
            f"The run '{config.name}' already has checkpoints: press Resume to continue it, "
            f"or give the new run another name."
        )
    return config


class TrainingPanelController(QObject):
    """Drives a ``TrainingPanel`` (see the module docstring). ``runner`` is the window's
    ``TaskRunner``; ``library_dir``/``manifest_path`` default to the user's; ``settings``
    (optional) keeps the last values between sessions; ``train_lane``: the lane runs go on."""

    model_exported = Signal(str)  # the exported file, in the library
    run_finished = Signal(object)  # TrainSummary
    preview_updated = Signal(int)  # pairs shown (0: a message instead)

    def __init__(
        self,
        view: TrainingPanel,
        runner: TaskRunner,
        *,
        settings: QSettings | None = None,
        library_dir: Path | None = None,
        manifest_path: Path | None = None,
        train_lane: Lane = Lane.DEVICE,
    ) -> None:
        super().__init__(view)
        self.view, self.runner, self.train_lane, self._settings = view, runner, train_lane, settings
        self.library_dir = library_dir if library_dir is not None else paths.user_library_dir()
        self._manifest_path = manifest_path if manifest_path is not None else paths.manifest_path()
        self._auto_name = ""
        self._preview_seed = 0
        self._stop: CancelToken | None = None
        self._running = False
        self._job_started = False  # the training job left the lane's queue
        self._loss_points: list[tuple[int, float]] = []
        self._psnr_points: list[tuple[int, float]] = []
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._connect_view()
        self.set_form(self._stored_form())

    def _connect_view(self) -> None:
        view = self.view
        view.folder_chosen.connect(self._on_folder_chosen)
        view.runs_folder_chosen.connect(self._on_runs_folder_chosen)
        view.task_changed.connect(self._on_task_changed)
        view.model_changed.connect(self._refresh_auto_name)
        view.run_name_changed.connect(self._on_run_name_changed)
        view.preview_needed.connect(self.schedule_preview)
        view.shuffle_requested.connect(self._shuffle_preview)
        view.start_requested.connect(self.start)
        view.stop_requested.connect(self.stop)
        view.resume_requested.connect(self.resume)
        view.export_requested.connect(self.export_interactively)

    # ------------------------------------------------------------------ the form

    def set_form(self, form: TrainingForm) -> None:
        """Show ``form`` with the base models, runs and run name it offers (a device that is not
        offered keeps the current one; a base model that is not offered: the task's first; no
        name: a generated one); the preview follows."""
        self.view.set_form(form)
        self._fill_models(form.model_id, form.weights)
        self._fill_runs()
        self._set_name(form.name)
        self.schedule_preview()

    def refresh_models(self) -> None:
        """Re-read the manifest and the library (after an export); keeps the selection when listed."""
        current = self.view.form()
        self._fill_models(current.model_id, current.weights)

    def save_settings(self) -> None:
        """Keep the current values for the next session (no-op without a settings store)."""
        if self._settings is not None:
            form = self.view.form()
            if form.name == self._auto_name:  # a generated name is generated afresh next time
                form = replace(form, name="")
            self._settings.setValue(SETTINGS_KEY, json.dumps(form.to_dict()))

    def _stored_form(self) -> TrainingForm:
        if self._settings is None:
            return TrainingForm()
        text = self._settings.value(SETTINGS_KEY, "")
        try:
            data = json.loads(text) if isinstance(text, str) and text else {}
        except ValueError:
            data = {}
        return TrainingForm.from_dict(data) if isinstance(data, dict) else TrainingForm()

    def _fill_models(self, model_id: str, weights: str) -> None:
        """Offer the task's learned models (manifest and library), selecting ``model_id``/``weights``."""
        task = task_choice(self.view.task())
        library = library_models(self.library_dir)
        offered = choices_for(task, manifest=manifest_records(self._manifest_path), library=library)
        self.view.set_model_choices([c for c in offered if c.spec.learned], model_id, weights)

    def _fill_runs(self) -> None:
        output = self.view.runs_folder()
        self.view.set_run_names(list_runs(output) if output else [])
        self._update_buttons()

    def _set_name(self, name: str) -> None:
        """Show ``name``; "" shows a generated name (remembered as such)."""
        if not name:
            form = self.view.form()
            name = self._auto_name = default_run_name(form.model_id or "model", form.task, form.output_dir)
        self.view.set_run_name(name)
        self._update_buttons()

    def _refresh_auto_name(self) -> None:
        """A name the user did not type follows the model and task."""
        if self.view.run_name() in ("", self._auto_name):
            self._set_name("")

    # ------------------------------------------------------------------ reactions to the view

    def _on_folder_chosen(self, folder: str) -> None:
        if folder:  # a folder with input/ and target/ subfolders is paired data; any other, clean photos
            self.view.set_paired(is_paired_folder(folder))
        self.schedule_preview()

    def _on_runs_folder_chosen(self, _folder: str) -> None:
        self._fill_runs()

    def _on_task_changed(self, _task: str) -> None:
        current = self.view.current_model()
        self._fill_models(current.spec.id if current else "", "")
        self._refresh_auto_name()
        self.schedule_preview()

    def _on_run_name_changed(self, _name: str) -> None:
        self._update_buttons()

    # ------------------------------------------------------------------ live preview

    def schedule_preview(self) -> None:
        """Recompute the preview strip shortly (settings changes in a row make one preview)."""
        self._preview_timer.start()

    def refresh_preview(self) -> None:
        """Recompute the preview strip now (off the main thread)."""
        self._preview_timer.stop()
        form = self.view.form()
        if not form.folder:
            self.view.show_no_folder()
            return
        work = preview_work(form, seed=self._preview_seed)
        try:
            job = self.runner.submit(PREVIEW_KEY, work, lane=PREVIEW_LANE)
        except RuntimeError:  # the runner was shut down (the window is closing)
            return
        job.result.connect(self._on_previewed)
        job.error.connect(self._on_preview_failed)

    def _shuffle_preview(self) -> None:
        self._preview_seed += 1
        self.refresh_preview()

    def _show_preview(self, result: PreviewResult) -> None:
        self.view.show_preview(result)
        self.preview_updated.emit(len(result.pairs))

    # ------------------------------------------------------------------ commands

    def start(self) -> bool:
        """Start a new run with the current settings; False (and a message) when they are not usable."""
        if self._running:
            return False
        self._refresh_auto_name()
        try:
            config = _new_run_config(self.view.form())
        except (ValueError, OSError) as error:
            self.view.show_message(str(error), error=True)
            return False
        self._clear_curves()
        self._launch(config, resume=False)
        return True

    def resume(self) -> bool:
        """Continue the named run from its latest checkpoint (up to Iterations); False with a message
        when there is nothing to continue."""
        if self._running:
            return False
        try:
            config = resume_config(self.view.form())
        except (ValueError, OSError) as error:
            self.view.show_message(str(error), error=True)
            return False
        self._launch(config, resume=True)
        return True

    def stop(self) -> None:
        """Ask the run to stop after its current step (it writes a checkpoint); a run still waiting
        for the device is dropped."""
        if not self._running or self._stop is None:
            return
        self._stop.cancel()
        self.view.set_commands(stop=False)
        if self._job_started:
            self.view.set_status("Stopping: finishing the step and writing a checkpoint…")
        else:
            self.runner.cancel(TRAIN_KEY)

    def export(self, name: str, *, overwrite: bool = False) -> bool:
        """Export the named run's latest checkpoint as ``name`` into the library (off the main
        thread); ``model_exported`` follows. False (and a message) when there is nothing to export
        or the file exists and ``overwrite`` is False."""
        if self._running:
            self.view.show_message("Stop the run before exporting it.", error=True)
            return False
        form = self.view.form()
        run_dir = run_dir_of(form)
        if not form.name or latest_checkpoint(run_dir) is None:
            self.view.show_message(f"{run_dir}: no checkpoint to export yet.", error=True)
            return False
        target = export_path(self.library_dir, name)
        if target.exists() and not overwrite:
            self.view.show_message(f"{target} already exists: choose another name.", error=True)
            return False
        self.view.set_commands(export=False)
        work = export_work(run_dir, name=name, library_dir=self.library_dir, overwrite=overwrite)
        job = self.runner.submit(EXPORT_KEY, work, lane=EXPORT_LANE)
        job.result.connect(lambda path: self._on_exported(Path(str(path))))
        job.error.connect(self._on_export_failed)
        job.cancelled.connect(self._update_buttons)
        return True

    def export_interactively(self) -> None:
        """Ask for a name (and before replacing a file), then export."""
        form = self.view.form()
        checkpoint = latest_checkpoint(run_dir_of(form)) if form.name else None
        if checkpoint is None:
            self.view.show_message("This run has no checkpoint to export yet.", error=True)
            return
        name = self._ask_export_name(f"{form.name}-{checkpoint_step(checkpoint)}")
        if not name:
            return
        target = export_path(self.library_dir, name)
        overwrite = target.exists()
        if overwrite and not self._confirm_replace(target):
            return
        self.export(name, overwrite=overwrite)

    def _ask_export_name(self, default: str) -> str:
        """The name the user gives the export ("" when cancelled or left empty)."""
        name, accepted = QInputDialog.getText(
            self.view, "Export model", "Name in your model library:", QLineEdit.EchoMode.Normal, default
        )
        return name.strip() if accepted else ""

    def _confirm_replace(self, target: Path) -> bool:
        answer = QMessageBox.question(
            self.view, "Export model", f"{target.name} is already in your library. Replace it?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def is_running(self) -> bool:
        return self._running

    def loss_points(self) -> list[tuple[int, float]]:
        return list(self._loss_points)

    def psnr_points(self) -> list[tuple[int, float]]:
        return list(self._psnr_points)

    # ------------------------------------------------------------------ running

    def _launch(self, config: TrainConfig, *, resume: bool) -> None:
        self.save_settings()
        self.view.show_message("")
        self._stop = CancelToken()
        self._job_started = False
        self.view.reset_validation()
        self._set_running(True)
        self.view.set_progress_range(config.train.steps, "%v / %m steps")
        self.view.set_status("Waiting for the device (another job is running)…")
        work = training_work(config, resume=resume, stop=self._stop)
        job = self.runner.submit(TRAIN_KEY, work, lane=self.train_lane)
        job.started.connect(self._on_started)
        job.progress.connect(self._on_progressed)
        job.result.connect(self._on_finished)
        job.error.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.view.set_running(running)
        self._update_buttons()

    def _update_buttons(self) -> None:
        """Start while idle; Stop while a run goes on and was not asked to stop; Resume and Export
        while idle and the named run has a checkpoint (Export: unless an export is under way)."""
        name = self.view.run_name()
        run_dir = Path(self.view.runs_folder() or ".").expanduser() / name
        has_checkpoint = bool(name) and latest_checkpoint(run_dir) is not None
        idle = not self._running
        self.view.set_commands(
            start=idle,
            stop=self._running and not (self._stop is not None and self._stop.cancelled),
            resume=idle and has_checkpoint,
            export=idle and has_checkpoint and not self.runner.is_busy(EXPORT_KEY),
        )

    def _clear_curves(self) -> None:
        self._loss_points, self._psnr_points = [], []
        self._redraw_curves()

    def _redraw_curves(self) -> None:
        self.view.show_curves(self._loss_points, self._psnr_points)

    # ------------------------------------------------------------------ training reports

    def _on_started(self) -> None:
        self._job_started = True
        self.view.set_status("Preparing: reading the images and building the model…")

    def _on_progressed(self, event: object) -> None:
        if isinstance(event, StepLog):
            self._on_step(event)
        elif isinstance(event, Validation):
            self._on_validation(event)
        elif isinstance(event, Started):
            self._on_run_started(event)
        elif isinstance(event, CheckpointSaved):
            self._update_buttons()
        elif isinstance(event, Notice):
            self.view.show_message(f"Step {event.step}: {event.message}")

    def _on_run_started(self, event: Started) -> None:
        self.view.set_progress_range(event.total_steps)
        self.view.set_progress(event.start_step)
        if event.start_step > 0:
            self._loss_points, self._psnr_points = read_history(event.run_dir, event.start_step)
            self._redraw_curves()
        verb = f"Resumed at step {event.start_step:,}" if event.start_step else "Training"
        self.view.set_status(
            f"{verb}: {event.model_id} ({event.task}) on {event.device}, {event.precision}; "
            f"{event.train_images} training / {event.val_images} validation images"
        )
        if event.skipped:
            self.view.show_message(f"{len(event.skipped)} file(s) skipped, e.g. {event.skipped[0]}")
        self._fill_runs()

    def _on_step(self, event: StepLog) -> None:
        self.view.set_progress(event.step)
        if math.isfinite(event.loss):
            self._loss_points.append((event.step, event.loss))
            self._redraw_curves()
        left = (event.total_steps - event.step) / event.steps_per_second if event.steps_per_second > 0 else 0
        eta = f" · {format_eta(left)}" if event.step < event.total_steps else ""
        stopping = " · stopping…" if self._stop is not None and self._stop.cancelled else ""
        self.view.set_status(
            f"Step {event.step:,} / {event.total_steps:,} · loss {event.loss:.4g} · lr {event.lr:.2e} · "
            f"{event.steps_per_second:.2f} it/s{eta}{stopping}"
        )

    def _on_validation(self, event: Validation) -> None:
        if math.isfinite(event.psnr):
            self._psnr_points.append((event.step, event.psnr))
            self._redraw_curves()
        self.view.show_validation(
            f"Step {event.step:,}: PSNR {event.psnr:.2f} dB, SSIM {event.ssim:.4f} "
            f"on {event.images} crop{'s' if event.images != 1 else ''} (EMA weights)",
            event.previews,
        )

    def _on_finished(self, result: object) -> None:
        self._set_running(False)
        if isinstance(result, TrainSummary):
            self._report_summary(result)
            self.run_finished.emit(result)
        self._fill_runs()

    def _report_summary(self, summary: TrainSummary) -> None:
        self.view.set_progress(summary.final_step)
        scores = f"; PSNR {summary.psnr:.2f} dB" if summary.psnr is not None else ""
        if summary.stopped:
            self.view.set_status(
                f"Stopped at step {summary.final_step:,} / {summary.total_steps:,} (checkpoint written): "
                f"Resume continues it{scores}."
            )
        else:
            self.view.set_status(
                f"Finished {summary.total_steps:,} steps ({summary.steps_run:,} in "
                f"{summary.elapsed_s:.0f} s){scores}. Export it to use it in the app."
            )

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.view.set_status("Training failed.")
        self.view.show_message(f"Training failed: {message}", error=True)
        self._fill_runs()

    def _on_cancelled(self) -> None:
        self._set_running(False)
        stopped = "Training stopped; Resume continues it."
        self.view.set_status(stopped if self._job_started else "Training cancelled.")
        self._fill_runs()

    # ------------------------------------------------------------------ preview and export reports

    def _on_previewed(self, result: object) -> None:
        if isinstance(result, PreviewResult):
            self._show_preview(result)

    def _on_preview_failed(self, message: str) -> None:
        self.view.show_preview_message(f"No preview: {message}")
        self.preview_updated.emit(0)

    def _on_exported(self, path: Path) -> None:
        self.view.show_message(f"Exported to {path}: it is in the model list now.")
        self.refresh_models()
        self._update_buttons()
        self.model_exported.emit(str(path))

    def _on_export_failed(self, message: str) -> None:
        self._update_buttons()
        self.view.show_message(f"Export failed: {message}", error=True)
