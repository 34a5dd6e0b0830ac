"""The batch dialog's "Run on a Ray cluster": shown only where Ray is installed, its address checked
and carried in the request; the controller's work for it names the extra when Ray is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from irstudio.gui import batch_controller
from irstudio.gui.cluster_batch import STARTING_CLUSTER, cluster_setup
from irstudio.gui.restore_jobs import PlanStep, RunOptions
from irstudio.gui.widgets import batch_dialog
from irstudio.gui.widgets.batch_dialog import BatchDialog
from irstudio.inference.batch import BatchRequest
from irstudio.inference.cluster import INSTALL_HINT, ClusterError
from irstudio.models import BASELINE, LIBRARY, ModelChoice
from irstudio.models.catalog import REGISTRY

MODELS = [("identity", "Identity (no change)"), ("bicubic-x2", "Bicubic ×2")]


def filled_dialog(qtbot, tmp_path: Path, **options: object) -> BatchDialog:
    (tmp_path / "photos").mkdir()
    dialog = BatchDialog(MODELS, input_dir=tmp_path / "photos", output_dir=tmp_path / "out", **options)
    qtbot.addWidget(dialog)
    return dialog


@pytest.mark.parametrize("installed", [False, True])
def test_the_cluster_option_is_offered_only_where_ray_is_installed(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    monkeypatch.setattr(batch_dialog, "ray_installed", lambda: installed)
    dialog = filled_dialog(qtbot, tmp_path)
    assert (dialog.cluster_check is not None) is installed
    assert dialog.request().cluster == ""  # runs here unless asked


def test_the_address_goes_into_the_request_and_a_wrong_one_is_refused(qtbot, tmp_path: Path) -> None:
    dialog = filled_dialog(qtbot, tmp_path, cluster_available=True)
    assert dialog.cluster_check is not None and dialog.cluster_edit is not None
    assert not dialog.cluster_edit.isEnabled()
    dialog.cluster_check.setChecked(True)
    assert dialog.cluster_edit.isEnabled() and dialog.request().cluster == "auto"

    dialog.cluster_edit.setText("the big one")
    with qtbot.assertNotEmitted(dialog.start_requested):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert "Ray cluster's address" in dialog.validation_label.text()

    dialog.cluster_edit.setText("ray://head:10001")
    with qtbot.waitSignal(dialog.start_requested, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    request = blocker.args[0]
    assert isinstance(request, BatchRequest) and request.cluster == "ray://head:10001"
    assert not dialog.cluster_check.isEnabled() and not dialog.cluster_edit.isEnabled()  # locked


def test_a_cluster_request_without_ray_fails_with_the_extra_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    choice = ModelChoice("bicubic-x2", "Bicubic ×2", REGISTRY.get("bicubic-x2"), BASELINE)
    request = BatchRequest(tmp_path, tmp_path / "out", "bicubic-x2", cluster="local")
    work = batch_controller.batch_work(request, choice, RunOptions())(batch_controller.CancelToken())
    assert next(work) == PlanStep(STARTING_CLUSTER)
    with pytest.raises(ClusterError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        next(work)


def test_workers_load_a_library_model_from_its_file_and_others_from_their_install(tmp_path: Path) -> None:
    spec = REGISTRY.get("bicubic-x2")
    options = RunOptions(device="cpu", precision="fp32", tile=128)
    baseline = cluster_setup(ModelChoice("bicubic-x2", "b", spec, BASELINE, tmp_path / "b.pt"), options)
    assert (baseline.model_id, baseline.weights, baseline.device) == ("bicubic-x2", None, "cpu")
    assert (baseline.precision, baseline.tile) == ("fp32", 128)
    library_choice = ModelChoice("library:m", "m", spec, LIBRARY, tmp_path / "m.safetensors")
    mine = cluster_setup(library_choice, RunOptions())
    assert mine.weights == tmp_path / "m.safetensors" and mine.precision is None
