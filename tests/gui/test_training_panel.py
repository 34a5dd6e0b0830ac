"""The Training panel (view + controller, as the app wires them): live preview, a short run with
curves and validation strip, stop and resume, export into the library, error messages, settings;
and its form model (form → config, work).

Runs train compacter-x1 (random init) for a few steps at patch 16 on tiny generated folders, on the
CPU with one torch thread; every wait is on a signal or a condition, never a sleep.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from irstudio import paths
from irstudio.core import DeviceInfo
from irstudio.data import Downscale, GaussianBlur, Jpeg, Noise, Rain, RealPhoto
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.training_form import (
    TrainingForm,
    build_config,
    checkpoint_step,
    default_run_name,
    make_preview,
    read_history,
    resume_config,
    training_work,
)
from irstudio.gui.training_panel_controller import TRAIN_KEY, TrainingPanelController
from irstudio.gui.widgets.training_panel import EMPTY_CURVE_TEXT, THUMB, TrainingPanel
from irstudio.models import LIBRARY, library_models
from irstudio.training import ConfigError, StepLog, TrainSummary, latest_checkpoint
from tests.training.helpers import make_folder

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CPU_ONLY = [DeviceInfo("cpu", "Test CPU", None, None)]
RUN_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: the training worker and the GUI thread share a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch) -> Path:
    """The user's library and state folders live in ``tmp_path`` (never the real ones)."""
    monkeypatch.setattr(paths, "user_library_dir", lambda: tmp_path / "library")
    monkeypatch.setattr(paths, "user_state_dir", lambda: tmp_path / "state")
    return tmp_path / "library"


@pytest.fixture
def runner():
    tasks = TaskRunner()
    yield tasks
    assert tasks.shutdown(30_000)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "photos", count=6, size=(48, 48))


def make_panel(qtbot, runner: TaskRunner, tmp_path: Path) -> tuple[TrainingPanel, TrainingPanelController]:
    """The view and its controller, wired as ``TrainingDock`` wires them."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    panel = TrainingPanel(devices=CPU_ONLY)
    qtbot.addWidget(panel)
    trainer = TrainingPanelController(
        panel, runner, settings=settings, manifest_path=tmp_path / "manifest.json"
    )
    return panel, trainer


def short_form(images: Path, tmp_path: Path, **changes) -> TrainingForm:
    form = TrainingForm(
        folder=str(images),
        task="denoise",
        model_id="compacter-x1",
        steps=6,
        patch=16,
        batch_size=2,
        lr=1e-3,
        validate_every=2,
        checkpoint_every=100,
        device="cpu",
        output_dir=str(tmp_path / "runs"),
        name="run",
    )
    return replace(form, **changes)


def is_step(event: object) -> bool:
    return isinstance(event, StepLog)


def wait_for_first_step(qtbot, runner: TaskRunner) -> None:
    """Wait until the training job (just submitted: its handle has heard nothing yet) logs a step."""
    run = runner.job(TRAIN_KEY)
    assert run is not None
    with qtbot.waitSignal(run.progress, timeout=RUN_TIMEOUT_MS, check_params_cb=is_step):
        pass


# ---------------------------------------------------------------------------------- the panel


def test_preview_strip_shows_generated_pairs_and_follows_the_settings(
    qtbot, runner, tmp_path, images
) -> None:
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS) as shown:
        trainer.set_form(short_form(images, tmp_path, patch=24))
    assert shown.args == [4]
    assert panel.preview_strip.column_count() == 4
    pixmaps = panel.preview_strip.pixmaps()
    assert len(pixmaps) == 8 and all(p.width() == p.height() == THUMB for p in pixmaps)
    assert panel.data_info.text() == "6 images"
    # a change of the degradation recomputes the preview (debounced, off the main thread)
    with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS):
        panel.task_combo.setCurrentIndex(panel.task_combo.findData("derain"))
    assert panel.preview_strip.column_count() == 4
    assert "rain" in panel.degradation_label.text()
    with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS):
        panel.task_combo.setCurrentIndex(panel.task_combo.findData("realphoto"))
    assert "real photo" in panel.degradation_label.text() and panel.real_label.isVisibleTo(panel)


def test_the_view_runs_nothing_and_emits_requests(qtbot) -> None:
    """Without a controller the panel only turns clicks and setting changes into requests."""
    panel = TrainingPanel(devices=CPU_ONLY)
    qtbot.addWidget(panel)
    assert not hasattr(panel, "runner")
    for button, request in (
        (panel.start_button, panel.start_requested),
        (panel.stop_button, panel.stop_requested),
        (panel.resume_button, panel.resume_requested),
        (panel.export_button, panel.export_requested),
        (panel.shuffle_button, panel.shuffle_requested),
    ):
        with qtbot.waitSignal(request, timeout=1000):
            button.click()
    with qtbot.waitSignal(panel.task_changed, timeout=1000) as changed:
        panel.task_combo.setCurrentIndex(panel.task_combo.findData("jpeg"))
    assert changed.args == ["jpeg"]
    with qtbot.waitSignal(panel.preview_needed, timeout=1000):
        panel.blur_check.setChecked(not panel.blur_check.isChecked())
    panel.folder_edit.setText(" /photos ")
    with qtbot.waitSignal(panel.folder_chosen, timeout=1000) as chosen:
        panel.folder_edit.editingFinished.emit()
    assert chosen.args == ["/photos"]


def test_empty_charts_wait_with_a_text_instead_of_crowded_tick_labels(qtbot, runner, tmp_path) -> None:
    """Before: the empty log-scale loss chart drew its tick labels on top of each other."""
    panel, _trainer = make_panel(qtbot, runner, tmp_path)
    for plot in (panel.loss_plot, panel.psnr_plot):
        waiting = plot.property("waiting_text")
        assert waiting.isVisible() and waiting.toPlainText() == EMPTY_CURVE_TEXT
        assert not plot.getAxis("left").style["showValues"]
    panel.show_curves([(1, 0.2), (2, 0.1)], [])  # what a run's first steps leave
    assert not panel.loss_plot.property("waiting_text").isVisible()
    assert panel.loss_plot.getAxis("left").style["showValues"]
    assert panel.psnr_plot.property("waiting_text").isVisible()


def test_a_short_run_draws_curves_fills_the_validation_strip_and_exports(
    qtbot, runner, tmp_path, images, user_dirs, monkeypatch
) -> None:
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    trainer.set_form(short_form(images, tmp_path))
    with qtbot.waitSignal(trainer.run_finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.start_button.click()
        assert trainer.is_running() and not panel.start_button.isEnabled()
    summary: TrainSummary = done.args[0]
    assert not summary.stopped and summary.final_step == 6
    assert [step for step, _ in trainer.loss_points()] == [1, 2, 3, 4, 5, 6]
    assert all(loss > 0 for _, loss in trainer.loss_points())
    assert [step for step, _ in trainer.psnr_points()] == [2, 4, 6]
    x, y = panel.loss_plot.getPlotItem().listDataItems()[0].getData()
    assert len(x) == 6 and np.all(np.isfinite(y))
    assert panel.validation_strip.column_count() >= 1
    assert "PSNR" in panel.validation_label.text()
    assert panel.progress.value() == 6 and "Finished" in panel.status.text()
    assert panel.export_button.isEnabled()

    if panel.preview_strip.column_count() == 0:
        with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS):
            trainer.refresh_preview()
    ARTIFACTS.mkdir(exist_ok=True)
    panel.resize(1280, 900)
    panel.show()
    qtbot.waitExposed(panel)
    QApplication.processEvents()  # the layout requests posted by showing
    assert panel.grab().save(str(ARTIFACTS / "training_panel.png"))
    assert not trainer.resume() and "set Iterations above 6" in panel.message_text()  # nothing left

    # Export: the name is asked; the file lands in the (temporary) user library
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("My denoiser", True))
    with qtbot.waitSignal(trainer.model_exported, timeout=RUN_TIMEOUT_MS) as exported:
        panel.export_button.click()
    path = Path(exported.args[0])
    assert path == user_dirs / "My_denoiser.safetensors" and path.is_file()
    [model] = library_models(user_dirs)
    assert model.name == "My denoiser" and model.task == "denoise" and model.spec.id == "compacter-x1"
    assert any(c.kind == LIBRARY and c.weights == path for c in panel.model_choices())

    # the same name again: never overwritten without asking; "No" keeps the file
    written = path.stat().st_mtime_ns
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.No)
    panel.export_button.click()
    assert not runner.is_busy() and path.stat().st_mtime_ns == written
    assert not trainer.export("My denoiser") and "already exists" in panel.message_text()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(trainer.model_exported, timeout=RUN_TIMEOUT_MS):
        panel.export_button.click()
    assert len(library_models(user_dirs)) == 1


def test_stop_writes_a_checkpoint_and_resume_continues_to_the_end(qtbot, runner, tmp_path, images) -> None:
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    trainer.set_form(short_form(images, tmp_path, steps=12, validate_every=4))
    assert trainer.start()
    wait_for_first_step(qtbot, runner)
    with qtbot.waitSignal(trainer.run_finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.stop_button.click()
        assert not panel.stop_button.isEnabled()
    stopped: TrainSummary = done.args[0]
    assert stopped.stopped and 1 <= stopped.final_step < 12
    checkpoint = latest_checkpoint(tmp_path / "runs" / "run")
    assert checkpoint is not None and checkpoint_step(checkpoint) == stopped.final_step
    assert "Stopped" in panel.status.text() and panel.resume_button.isEnabled()
    assert panel.export_button.isEnabled()

    # Start again under the same name is refused with a message: the run must be resumed
    assert not trainer.start() and "Resume" in panel.message_text()

    with qtbot.waitSignal(trainer.run_finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.resume_button.click()
    resumed: TrainSummary = done.args[0]
    assert not resumed.stopped and resumed.final_step == 12
    assert resumed.steps_run == 12 - stopped.final_step  # continued, not restarted
    assert [step for step, _ in trainer.loss_points()] == list(range(1, 13))  # history + new points
    losses, psnrs = read_history(tmp_path / "runs" / "run")
    assert [step for step, _ in losses] == list(range(1, 13))
    assert [step for step, _ in psnrs][-1] == 12


def test_a_run_waiting_for_the_device_can_be_called_off(qtbot, runner, tmp_path, images) -> None:
    gate = threading.Event()
    runner.submit("restore:busy", lambda _token: gate.wait(30), lane=Lane.DEVICE)  # a restoration runs
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    trainer.set_form(short_form(images, tmp_path))
    assert trainer.start() and "Waiting for the device" in panel.status.text()
    run = runner.job(TRAIN_KEY)
    assert run is not None and run.lane is Lane.DEVICE
    panel.stop_button.click()
    with qtbot.waitSignal(run.cancelled, timeout=RUN_TIMEOUT_MS):
        gate.set()
    assert not trainer.is_running() and panel.status.text() == "Training cancelled."
    assert latest_checkpoint(tmp_path / "runs" / "run") is None


def test_closing_the_app_mid_run_still_writes_a_checkpoint(qtbot, tmp_path, images) -> None:
    tasks = TaskRunner()
    _panel, trainer = make_panel(qtbot, tasks, tmp_path)
    trainer.set_form(short_form(images, tmp_path, steps=1000))
    assert trainer.start()
    wait_for_first_step(qtbot, tasks)
    assert tasks.shutdown(30_000)  # what the window does on close: cancel everything and wait
    checkpoint = latest_checkpoint(tmp_path / "runs" / "run")
    assert checkpoint is not None and 1 <= checkpoint_step(checkpoint) < 1000


def test_an_empty_folder_shows_an_error_instead_of_starting(qtbot, runner, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS) as shown:
        trainer.set_form(short_form(empty, tmp_path))
    assert shown.args == [0] and "no images" in panel.preview_strip.message.text()
    with qtbot.waitSignal(panel.message_shown, timeout=1000):
        panel.start_button.click()
    assert "no images found" in panel.message_text()
    assert not trainer.is_running() and not runner.is_busy(TRAIN_KEY) and panel.start_button.isEnabled()
    assert not (tmp_path / "runs" / "run").exists()

    trainer.set_form(short_form(tmp_path / "missing", tmp_path))
    assert not trainer.start() and "no such folder" in panel.message_text()
    trainer.set_form(short_form(empty, tmp_path, paired=True))
    assert not trainer.start() and "'input' and 'target' subfolders" in panel.message_text()


def test_a_failing_run_reports_the_reason(qtbot, runner, tmp_path, images) -> None:
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    # images of 48 px cannot give 64 px patches: the run fails in the worker, with the reason shown
    trainer.set_form(short_form(images, tmp_path, patch=64))
    with qtbot.waitSignal(panel.message_shown, timeout=RUN_TIMEOUT_MS):
        assert trainer.start()
    qtbot.waitUntil(lambda: not trainer.is_running(), timeout=RUN_TIMEOUT_MS)
    assert "Training failed" in panel.message_text() and "no usable training images" in panel.message_text()
    assert panel.start_button.isEnabled()


def test_a_paired_folder_is_detected_and_previewed(qtbot, runner, tmp_path) -> None:
    root = tmp_path / "pairs"
    make_folder(root / "target", count=3, size=(64, 64))
    (root / "input").mkdir()
    for target in sorted((root / "target").iterdir()):  # x2 inputs, same names
        Image.open(target).resize((32, 32), Image.BICUBIC).save(root / "input" / target.name)
    panel, trainer = make_panel(qtbot, runner, tmp_path)
    trainer.set_form(short_form(tmp_path / "photos", tmp_path, task="sr2", model_id="compacter-x2"))
    panel.folder_edit.setText(str(root))
    with qtbot.waitSignal(trainer.preview_updated, timeout=RUN_TIMEOUT_MS) as shown:
        panel.folder_edit.editingFinished.emit()
    assert panel.form().paired and not panel.noise_sigma.isEnabled() and not panel.blur_check.isEnabled()
    assert shown.args == [3] and panel.data_info.text() == "3 pairs"
    config = build_config(panel.form())
    assert config.data.input == root / "input" and config.data.target == root / "target"
    assert config.degradation is None and config.model.id == "compacter-x2"


def test_settings_persist_between_sessions(qtbot, runner, tmp_path, images) -> None:
    form = short_form(images, tmp_path, task="jpeg", jpeg_quality=(20, 60), blur=True, steps=321, lr=5e-4)
    _first, first_trainer = make_panel(qtbot, runner, tmp_path)
    first_trainer.set_form(form)
    first_trainer.save_settings()
    second, _second_trainer = make_panel(qtbot, runner, tmp_path)
    assert second.form() == form


# ---------------------------------------------------------------------------------- the form model


def test_the_form_becomes_the_config_the_gui_trains(tmp_path, images) -> None:
    form = short_form(images, tmp_path, task="sr4", model_id="compacter-x4", blur=True, blur_sigma=(0.5, 1.0))
    config = build_config(form)
    assert config.data.num_workers == 0 and config.data.clean == images
    assert config.model.task == "sr" and config.run_dir == tmp_path / "runs" / "run"
    assert config.degradation.steps == (GaussianBlur(sigma=(0.5, 1.0)), Downscale(scale=4))
    assert build_config(replace(form, task="jpeg", blur=False)).degradation.steps == (Jpeg(quality=(10, 90)),)
    real4 = build_config(replace(form, task="realphoto4", model_id="asid-x4", blur=False))
    assert real4.model.task == "realphoto" and real4.degradation.steps == (RealPhoto(scale=4),)
    real1 = build_config(replace(form, task="realphoto", model_id="compacter-x1", blur=False))
    assert real1.degradation.steps == (RealPhoto.mild(),)
    derain = build_config(replace(form, task="derain", blur=False, rain_angle=(-5.0, 5.0)))
    assert isinstance(derain.degradation.steps[0], Rain) and derain.degradation.steps[0].angle == (-5.0, 5.0)
    denoise = build_config(replace(form, task="denoise", blur=False, noise_sigma=(5.0, 25.0)))
    assert denoise.degradation.steps == (Noise(sigma=(5.0, 25.0), gray_probability=0.2),)
    with pytest.raises(ConfigError, match=r"noise\.sigma must be"):
        build_config(replace(form, task="denoise", noise_sigma=(30.0, 10.0)))
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        build_config(replace(form, lr=2.0))
    with pytest.raises(ConfigError, match="no checkpoint to resume"):
        resume_config(form)


def test_preview_pairs_show_the_degradation(tmp_path, images) -> None:
    clean = make_preview(short_form(images, tmp_path, noise_sigma=(0.0, 0.0), gray_probability=0.0))
    noisy = make_preview(short_form(images, tmp_path, noise_sigma=(50.0, 50.0), gray_probability=0.0))
    assert len(clean.pairs) == len(noisy.pairs) == 4
    assert all(np.array_equal(lq, gt) for lq, gt in clean.pairs)
    residual = np.concatenate([(lq - gt).ravel() for lq, gt in noisy.pairs])
    assert 0.12 < residual.std() < 0.2  # σ 50/255 ≈ 0.196, less after clipping to [0, 1]
    sr = make_preview(short_form(images, tmp_path, task="sr2", patch=16))
    assert all(lq.shape == (16, 16, 3) and gt.shape == (32, 32, 3) for lq, gt in sr.pairs)


def test_settings_from_a_damaged_store_fall_back_to_defaults() -> None:
    data = {"steps": "many", "patch": 32, "noise_sigma": [1, 2, 3], "blur": 1, "lr": 3e-4, "unknown": 1}
    form = TrainingForm.from_dict(data)
    assert form.patch == 32 and form.lr == 3e-4
    assert form.steps == TrainingForm().steps and form.noise_sigma == TrainingForm().noise_sigma
    assert form.blur is False
    assert TrainingForm.from_dict(json.loads(json.dumps(form.to_dict()))) == form


def test_training_work_stops_with_a_checkpoint_when_closed_early(tmp_path, images) -> None:
    from irstudio.core import CancelToken

    config = build_config(short_form(images, tmp_path, steps=50))
    stop, job = CancelToken(), CancelToken()
    events = training_work(config, resume=False, stop=stop)(job)
    while not isinstance(next(events), StepLog):
        pass
    events.close()  # as the runner does once the job's token is set
    assert stop.cancelled
    checkpoint = latest_checkpoint(config.run_dir)
    assert checkpoint is not None and 1 <= checkpoint_step(checkpoint) < 50


def test_default_run_names_are_valid_and_new(tmp_path) -> None:
    now = datetime(2024, 5, 6, 7, 8)
    first = default_run_name("compacter-x1", "sr2", tmp_path, now)
    assert first == "compacter-x1-sr2-20240506-0708"
    (tmp_path / first).mkdir()
    assert default_run_name("compacter-x1", "sr2", tmp_path, now) == f"{first}-2"
    form = replace(
        TrainingForm(), folder=str(tmp_path), name=default_run_name("a b", "denoise", tmp_path, now)
    )
    assert build_config(form).name == "a_b-denoise-20240506-0708"


def test_a_first_training_fine_tunes_the_shipped_model(qtbot, runner, tmp_path: Path) -> None:
    """The defaults were random weights and 5,000 iterations; now the task's shipped model, 1,000."""
    settings = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    panel = TrainingPanel(devices=CPU_ONLY)
    qtbot.addWidget(panel)
    TrainingPanelController(panel, runner, settings=settings)  # the real weights manifest
    form = panel.form()
    assert form.model_id == "compacter-x1-denoise" and form.weights == "" and form.steps == 1000
    assert "shipped weights" in panel.model_info.text()
