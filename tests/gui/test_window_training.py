"""The Training dock in the window: shown from the Run menu, trains on its own lane (interactive work
does not stop it), and an exported model is listed in the model panel at once.

Trains compacter-x1 (random init) for a few steps at patch 16 on a tiny generated folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from irstudio import paths
from irstudio.gui.training_dock import TRAINING_LANE
from irstudio.gui.training_form import TrainingForm
from irstudio.gui.training_panel_controller import TRAIN_KEY
from irstudio.models import LIBRARY
from irstudio.training import StepLog
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png
from tests.training.helpers import make_folder

_look = pytest.fixture(autouse=True)(restore_app_look)

RUN_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _user_state(tmp_path: Path, monkeypatch) -> None:
    """Training state folders live in ``tmp_path`` (never the user's)."""
    monkeypatch.setattr(paths, "user_state_dir", lambda: tmp_path / "state")
    monkeypatch.setattr(paths, "user_library_dir", lambda: tmp_path / "library")


def test_train_from_the_window_and_the_export_appears_in_the_model_panel(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    training = window.training
    assert not training.dock.isVisible() and training.dock.isFloating()
    assert training.action in window.commands.run_menu.actions()
    training.action.trigger()
    assert training.dock.isVisible()
    # a first start: the floating panel opens over the middle of the window, not in a corner
    centre, window_centre = training.dock.frameGeometry().center(), window.frameGeometry().center()
    assert abs(centre.x() - window_centre.x()) <= 20 and abs(centre.y() - window_centre.y()) <= 20
    assert training.controller.library_dir == window.library_dir == tmp_path / "library"

    form = TrainingForm(
        folder=str(make_folder(tmp_path / "photos", count=6, size=(48, 48))),
        task="denoise",
        model_id="compacter-x1",
        steps=6,
        patch=16,
        batch_size=2,
        lr=1e-3,
        validate_every=3,
        checkpoint_every=100,
        device="cpu",
        output_dir=str(tmp_path / "runs"),
        name="run",
    )
    training.controller.set_form(form)
    first_step = lambda item: isinstance(item, StepLog)  # noqa: E731
    with qtbot.waitSignal(training.controller.run_finished, timeout=RUN_TIMEOUT_MS) as done:
        assert training.controller.start()
        run = window.runner.job(TRAIN_KEY)
        assert run is not None and run.lane is TRAINING_LANE
        with qtbot.waitSignal(run.progress, check_params_cb=first_step, timeout=RUN_TIMEOUT_MS):
            pass
        # opening a photo and Esc cancel interactive work only: training is on its own lane
        assert window.open_file(write_png(tmp_path / "photo.png", gradient_image(16, 16)))
        window.commands.cancel.trigger()
    summary = done.args[0]
    assert not summary.stopped and summary.final_step == 6

    window.model_panel.set_task("denoise")
    with qtbot.waitSignal(training.controller.model_exported, timeout=RUN_TIMEOUT_MS) as exported:
        assert training.controller.export("My denoiser")
    path = Path(exported.args[0])
    assert path.parent == window.library_dir and path.is_file()
    listed = [c for c in window.model_panel.choices() if c.kind == LIBRARY]
    assert [(c.label, c.weights) for c in listed] == [("My denoiser", path)]
    assert "Your library" in window.statusBar().currentMessage()
