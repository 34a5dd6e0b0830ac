"""The batch dialog: the request it emits, progress while running, errors at the end, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from torch import nn

from irstudio.core.cancel import CancelToken
from irstudio.gui.tasks import TaskRunner
from irstudio.gui.widgets.batch_dialog import PROGRESS_STEPS, BatchDialog
from irstudio.inference.batch import BatchEventKind, BatchReport, BatchRequest, run_batch_request
from irstudio.inference.runner import TilePlan

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MODELS = [("identity", "Identity (no change)"), ("bicubic-x2", "Bicubic ×2")]


class Brighten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1


def five_files_one_corrupt(root: Path) -> Path:
    source = root / "photos"
    for index, relative in enumerate(("a.png", "b.png", "trip/c.png", "trip/day 2/d.png")):
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(index).integers(0, 200, (30, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
    (source / "trip" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return source


@pytest.fixture
def dialog(qtbot) -> BatchDialog:
    widget = BatchDialog(MODELS)
    qtbot.addWidget(widget)
    return widget


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_output_folder_follows_input_and_model_until_the_user_sets_it(
    dialog: BatchDialog, tmp_path: Path
) -> None:
    dialog.input_edit.setText(str(tmp_path / "photos"))
    assert dialog.output_edit.text() == str((tmp_path / "photos_identity").resolve())
    dialog.model_combo.setCurrentIndex(1)
    assert dialog.output_edit.text() == str((tmp_path / "photos_bicubic-x2").resolve())
    dialog.output_edit.setText(str(tmp_path / "mine"))
    dialog.model_combo.setCurrentIndex(0)
    dialog.input_edit.setText(str(tmp_path / "other"))
    assert dialog.output_edit.text() == str(tmp_path / "mine")
    # a path longer than its field is readable in full on hover
    assert dialog.output_edit.toolTip() == str(tmp_path / "mine")
    assert dialog.input_edit.toolTip() == str(tmp_path / "other")


def test_typing_the_root_folder_suggests_an_output_inside_it(dialog: BatchDialog) -> None:
    dialog.input_edit.setText("/")  # raised ValueError: PosixPath('/') has an empty name
    assert dialog.output_edit.text() == str(Path("/").resolve() / "restored_identity")


def test_subfolders_are_included_only_when_asked(dialog: BatchDialog) -> None:
    assert not dialog.recursive_check.isChecked()


def test_start_emits_the_request_and_locks_the_form(qtbot, dialog: BatchDialog, tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    with qtbot.assertNotEmitted(dialog.start_requested):
        click(qtbot, dialog.start_button)
    assert dialog.validation_label.isVisibleTo(dialog) and "input folder" in dialog.validation_label.text()

    dialog.input_edit.setText(str(source))
    dialog.output_edit.setText(str(source))
    with qtbot.assertNotEmitted(dialog.start_requested):
        click(qtbot, dialog.start_button)
    assert "must differ" in dialog.validation_label.text()

    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.recursive_check.setChecked(False)
    dialog.model_combo.setCurrentIndex(1)
    with qtbot.waitSignal(dialog.start_requested, timeout=1000) as blocker:
        click(qtbot, dialog.start_button)
    assert blocker.args[0] == BatchRequest(source, tmp_path / "out", "bicubic-x2", recursive=False)
    assert not dialog.validation_label.isVisibleTo(dialog)
    assert dialog.is_running() and not dialog.start_button.isEnabled() and not dialog.input_edit.isEnabled()
    assert dialog.cancel_button.isEnabled()


def test_a_batch_run_through_the_task_runner_shows_progress_and_the_error_at_the_end(
    qtbot, dialog: BatchDialog, tmp_path: Path
) -> None:
    """Wired as the batch controller wires it: start_requested → TaskRunner → the job's handle →
    on_event / on_finished."""
    source = five_files_one_corrupt(tmp_path)
    runner = TaskRunner()
    seen: list[BatchEventKind] = []
    reports: list[BatchReport] = []

    def start(request: BatchRequest) -> None:
        def work(token: CancelToken):
            return run_batch_request(request, Brighten(), TilePlan(tile=16, context=4), token)

        job = runner.submit("batch", work)
        job.progress.connect(lambda event: (seen.append(event.kind), dialog.on_event(event)))
        job.result.connect(lambda report: (reports.append(report), dialog.on_finished(report)))
        job.error.connect(dialog.on_failed)

    dialog.start_requested.connect(start)
    try:
        dialog.input_edit.setText(str(source))
        dialog.recursive_check.setChecked(True)  # the nested folders too
        click(qtbot, dialog.start_button)
        qtbot.waitUntil(lambda: len(reports) == 1, timeout=20_000)
    finally:
        assert runner.shutdown(5000)
    report = reports[0]
    assert len(report.written) == 4 and len(report.failed) == 1
    assert seen.count(BatchEventKind.PROGRESS) == 4 * 6
    assert dialog.progress_bar.value() == PROGRESS_STEPS and not dialog.is_running()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.summary_label.text().startswith("Finished: 4 written, 0 skipped, 1 failed.")
    assert dialog.error_list.isVisibleTo(dialog)
    errors = dialog.errors()
    assert len(errors) == 1 and errors[0].startswith("trip/broken.png: not a readable PNG image")
    assert str(tmp_path) not in errors[0]  # the reason, not a long absolute path
    assert len(list((tmp_path / "photos_identity").rglob("*.png"))) == 4

    dialog.resize(640, 420)
    dialog.show()
    qtbot.waitExposed(dialog)
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "batch_dialog_finished.png"))


def test_progress_labels_while_running(qtbot, dialog: BatchDialog, tmp_path: Path) -> None:
    source = five_files_one_corrupt(tmp_path)
    dialog.input_edit.setText(str(source))
    dialog.recursive_check.setChecked(True)  # the nested folders too
    with qtbot.waitSignal(dialog.start_requested, timeout=1000) as blocker:
        click(qtbot, dialog.start_button)
    batch = run_batch_request(blocker.args[0], Brighten(), TilePlan(tile=16, context=4))
    for event in batch:
        dialog.on_event(event)
        if event.kind is BatchEventKind.PROGRESS and event.index == 3 and event.tile == 2:
            break
    assert dialog.current_label.text() == "Restoring trip/c.png: tile 2 of 6"
    assert dialog.files_label.text() == "3 of 5 files done"
    assert dialog.progress_bar.value() == round((3 + 2 / 6) / 5 * PROGRESS_STEPS)
    dialog.resize(640, 300)
    dialog.show()
    qtbot.waitExposed(dialog)
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "batch_dialog_running.png"))
    batch.close()


def test_cancel_asks_once_and_then_shows_what_failed_so_far(
    qtbot, dialog: BatchDialog, tmp_path: Path
) -> None:
    source = five_files_one_corrupt(tmp_path)
    dialog.input_edit.setText(str(source))
    dialog.recursive_check.setChecked(True)  # the nested folders too
    click(qtbot, dialog.start_button)
    for event in run_batch_request(BatchRequest(source, tmp_path / "out", "m"), Brighten(), TilePlan()):
        dialog.on_event(event)
        if event.kind is BatchEventKind.FAILED:
            break
    with qtbot.waitSignal(dialog.cancel_requested, timeout=1000):
        click(qtbot, dialog.cancel_button)
    assert not dialog.cancel_button.isEnabled() and "Cancelling" in dialog.current_label.text()
    dialog.on_cancelled()
    assert not dialog.is_running() and dialog.start_button.isEnabled()
    assert dialog.summary_label.text().startswith("Cancelled.")
    assert len(dialog.errors()) == 1 and "broken.png" in dialog.errors()[0]


def test_closing_while_running_cancels_the_batch(qtbot, dialog: BatchDialog, tmp_path: Path) -> None:
    dialog.input_edit.setText(str(tmp_path))
    dialog.output_edit.setText(str(tmp_path / "out"))
    click(qtbot, dialog.start_button)
    with qtbot.waitSignal(dialog.cancel_requested, timeout=1000):
        dialog.reject()
    with qtbot.assertNotEmitted(dialog.cancel_requested):
        dialog.on_cancelled()
        dialog.reject()
