"""The GUI runs the planned way: ``auto_plan`` on the worker thread (never the main thread), a
"Preparing the model…" step while it plans, the plan kept per model and options so a second run
reuses it, and the plan's description in the result, the status bar and the model panel.

``auto_plan`` is wrapped to record its calls and threads and to time eager PyTorch only (the
backend race with an ONNX export costs a minute per model on this busy machine).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from irstudio.core.cancel import CancelToken
from irstudio.gui import restore_jobs
from irstudio.gui.restore_jobs import (
    CHOOSING_BACKEND,
    PlanCache,
    PlanStep,
    RestoreOutcome,
    RestoreRequest,
    RunOptions,
    restore_work,
)
from irstudio.inference.planning import auto_plan
from irstudio.inference.runner import TilePlan, TileProgress
from tests.gui.app_helpers import choice_for, gradient_image, make_window, restore_app_look, write_png


@pytest.fixture
def window_look(qtbot, qapp):
    """The window themes the whole application; put the look back afterwards."""
    yield from restore_app_look(qapp)


RUN_TIMEOUT_MS = 30_000
GATE_TIMEOUT_S = 20


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class PlanRecorder:
    """Stands in for ``restore_jobs.auto_plan``: records each call's thread and keyword arguments,
    optionally waits for ``gate``, then plans for real with eager PyTorch only."""

    def __init__(self, gated: bool = False) -> None:
        self.threads: list[threading.Thread] = []
        self.calls: list[dict] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.current_thread())
        self.calls.append(kwargs)
        self.entered.set()
        assert self.gate.wait(GATE_TIMEOUT_S), "the test never opened the gate"
        return auto_plan(*args, **{**kwargs, "backends": ("eager",)})


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> PlanRecorder:
    recording = PlanRecorder()
    monkeypatch.setattr(restore_jobs, "auto_plan", recording)
    return recording


@pytest.fixture
def gated_recorder(monkeypatch: pytest.MonkeyPatch) -> PlanRecorder:
    recording = PlanRecorder(gated=True)
    monkeypatch.setattr(restore_jobs, "auto_plan", recording)
    return recording


def drive(request: RestoreRequest, cache: PlanCache) -> tuple[list[object], RestoreOutcome]:
    """Run ``restore_work`` to the end on this thread: (the items it yielded, its outcome)."""
    steps = restore_work(request, cache)(CancelToken())
    items: list[object] = []
    while True:
        try:
            items.append(next(steps))
        except StopIteration as finished:
            return items, finished.value


def test_the_work_reports_choosing_then_the_plan_then_tiles_and_reuses_the_plan(recorder, tmp_path) -> None:
    image = gradient_image(32, 32)
    choice = choice_for(nn.Identity())
    cache = PlanCache(state_dir=tmp_path / "state")
    request = RestoreRequest(choice, image, RunOptions(device="cpu", tile=16, context=0), generation=0)
    items, outcome = drive(request, cache)
    description = "backend eager, fp32 (classical baseline), tile 16, not measured"
    assert items[:2] == [PlanStep(CHOOSING_BACKEND), PlanStep(description, chosen=True)]
    assert all(isinstance(item, TileProgress) for item in items[2:]) and len(items) == 2 + 4
    assert outcome.description == description and outcome.plan.tile == 16
    assert outcome.details().startswith(f"cpu, {description}, context 0, ")
    np.testing.assert_array_equal(outcome.image, image)
    assert recorder.calls[0]["dtype"] is None and recorder.calls[0]["state_dir"] == tmp_path / "state"

    items, again = drive(request, cache)  # same model and options: the plan in memory, no measuring
    assert items[0] == PlanStep(description, chosen=True) and CHOOSING_BACKEND not in str(items)
    assert len(recorder.calls) == 1 and again.description == description

    other = RestoreRequest(choice, image, RunOptions(device="cpu", tile=32, context=0, precision="fp32"), 1)
    items, _ = drive(other, cache)
    assert items[0] == PlanStep(CHOOSING_BACKEND) and len(recorder.calls) == 2
    assert recorder.calls[1]["dtype"] == "fp32" and recorder.calls[1]["tile"] == 32


def test_a_plan_leaves_the_cache_with_its_model(recorder, tmp_path) -> None:
    cache = PlanCache(size=1, state_dir=tmp_path)
    first, second = choice_for(nn.Identity(), "first"), choice_for(nn.Identity(), "second")
    options = RunOptions(device="cpu", tile=16)
    image = gradient_image(16, 16)
    drive(RestoreRequest(first, image, options, 0), cache)
    assert cache.cached_plan(first, "cpu", options) is not None
    assert cache.cached_plan(first, "cpu", RunOptions(device="cpu", tile=16, context=4)) is None
    drive(RestoreRequest(second, image, options, 0), cache)  # evicts the first model
    assert cache.cached_plan(first, "cpu", options) is None
    assert cache.cached_plan(second, "cpu", options) is not None


def test_outcome_details_without_a_description_keep_the_old_form() -> None:
    request = RestoreRequest(choice_for(nn.Identity()), gradient_image(4, 4), RunOptions(), 0)
    plan = TilePlan(tile=64, context=8, dtype="fp32")
    outcome = RestoreOutcome(request, gradient_image(4, 4), plan, "cpu", 0.5)
    assert outcome.details() == "cpu, fp32, tile 64, context 8, 0.50 s"


def test_a_learned_model_is_planned_off_the_main_thread_and_the_plan_is_shown(
    qtbot, window_look, tmp_path: Path, gated_recorder: PlanRecorder
) -> None:
    window = make_window(qtbot, tmp_path)
    assert window.open_file(write_png(tmp_path / "photo.png", gradient_image(16, 16)))
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model("compacter-x1")
    assert window.model_panel.run_options().precision == "auto"
    options = RunOptions(device="cpu", tile=32)
    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        assert window.runs.run(options=options)
        qtbot.waitUntil(gated_recorder.entered.is_set, timeout=RUN_TIMEOUT_MS)
        label = window.model_panel.current_choice().label
        qtbot.waitUntil(lambda: window.progress.label.text() == f"Restoring with {label}: {CHOOSING_BACKEND}")
        assert window.progress.isVisible()
        gated_recorder.gate.set()
    assert gated_recorder.threads[0] is not threading.main_thread()
    description = "backend eager, fp32 (the CPU runs fp32), tile 32"
    result = window.state.result("compacter-x1")
    assert result.details.startswith(f"cpu, {description}, known plan for compacter on CPUs, context 32, ")
    assert window.statusBar().currentMessage() == f"{label}: restored in {result.seconds:.1f} s"
    assert window.model_panel.plan_label.isVisible() and description in window.model_panel.plan_label.text()
    assert window.progress.isHidden()

    with qtbot.waitSignal(window.state.result_added, timeout=RUN_TIMEOUT_MS):
        assert window.runs.run(options=options)  # same model and options
    assert len(gated_recorder.calls) == 1  # the plan (and its module) were reused
    assert description in window.model_panel.plan_label.text()


def test_a_batch_is_planned_on_its_worker_and_the_plan_is_reported(
    qtbot, window_look, tmp_path: Path, recorder: PlanRecorder
) -> None:
    window = make_window(qtbot, tmp_path)
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model("identity")
    folder = tmp_path / "photos"
    folder.mkdir()
    write_png(folder / "a.png", gradient_image(12, 14))
    dialog = window.batch.open_dialog()
    dialog.input_edit.setText(str(folder))
    for run in range(2):  # the second batch skips the written file and reuses the plan
        dialog.start_button.click()
        qtbot.waitUntil(lambda: not dialog.is_running(), timeout=RUN_TIMEOUT_MS)
        assert len(recorder.calls) == 1, f"batch {run + 1} planned again"
    assert recorder.threads[0] is not threading.main_thread()
    assert recorder.calls[0]["dtype"] is None  # the panel's precision is Auto
    status = window.statusBar().currentMessage()
    assert status.startswith("Folder restored: ") and "backend eager" in status and "not measured" in status
    assert (tmp_path / "photos_identity" / "a_identity.png").is_file()


def test_a_whole_image_run_gives_its_engine_back_and_previews_keep_it(tmp_path, monkeypatch) -> None:
    """After a whole-image run the plan whose module is an engine of its own (here a wrapper standing
    in for an OpenVINO graph) is dropped, so its memory goes back; a preview keeps it for the next pan."""
    from irstudio.core.tiling import Region
    from irstudio.inference.backends import ChannelsLast

    def engine_plan(spec, model, device, **kwargs):
        planned = auto_plan(spec, model, device, **{**kwargs, "backends": ("eager",)})
        return replace(planned, module=ChannelsLast(model))

    monkeypatch.setattr(restore_jobs, "auto_plan", engine_plan)
    cache = PlanCache(state_dir=tmp_path)
    choice = choice_for(nn.Identity())
    options = RunOptions(device="cpu", tile=16, context=0)
    image = gradient_image(32, 32)
    drive(RestoreRequest(choice, image, options, 0, Region(0, 0, 16, 16)), cache)
    assert cache.cached_plan(choice, "cpu", options) is not None  # a preview keeps the engine
    _, outcome = drive(RestoreRequest(choice, image, options, 0), cache)
    assert cache.cached_plan(choice, "cpu", options) is None  # given back after the whole image
    assert outcome.description.startswith("backend eager")
