"""File → Restore a folder…: the batch dialog run through the window's runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from irstudio.core.image_io import read_image
from irstudio.gui.batch_controller import BATCH_KEY, batch_ids
from irstudio.models import LIBRARY, REGISTRY, ModelChoice
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png

_look = pytest.fixture(autouse=True)(restore_app_look)

BATCH_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def photo_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Five files under ``photos/`` (two in a subfolder), ``broken.png`` not an image."""
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    images = {}
    for index, relative in enumerate(["a.png", "b.png", "trip/c.png", "trip/d.png"]):
        images[relative] = gradient_image(20 + index, 24, seed=index)
        write_png(folder / relative, images[relative])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return folder, images


def test_a_folder_with_one_corrupt_file_gives_four_outputs_and_one_reported_error(
    qtbot, tmp_path: Path
) -> None:
    window = make_window(qtbot, tmp_path)
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model("identity")
    folder, images = photo_folder(tmp_path)
    assert window.batch.action in window.commands.file_menu.actions()

    window.batch.action.trigger()
    dialog = window.batch.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.model_combo.currentData() == "identity"  # the model selected in the panel
    dialog.input_edit.setText(str(folder))
    dialog.recursive_check.setChecked(True)  # the nested folders too
    output = Path(dialog.output_edit.text())
    assert output == tmp_path / "photos_identity"
    dialog.start_button.click()
    assert dialog.is_running() and window.runner.is_busy(BATCH_KEY)
    # opening a photo cancels the interactive work; the batch runs on its own lane and goes on
    assert window.open_file(write_png(tmp_path / "other.png", gradient_image(16, 16)))
    qtbot.waitUntil(lambda: not window.runner.is_busy(BATCH_KEY), timeout=BATCH_TIMEOUT_MS)

    assert not dialog.is_running()
    written = sorted(p.relative_to(output).as_posix() for p in output.rglob("*.png"))
    assert written == ["a_identity.png", "b_identity.png", "trip/c_identity.png", "trip/d_identity.png"]
    for relative, image in images.items():
        stem = relative.removesuffix(".png")
        restored = read_image(output / f"{stem}_identity.png").rgb
        np.testing.assert_allclose(restored, np.round(image * 255) / 255, atol=1e-6)
    errors = dialog.errors()
    assert len(errors) == 1 and errors[0].startswith("broken.png: ")
    assert dialog.error_list.isVisible()
    assert "4 written" in dialog.summary_label.text() and "1 failed" in dialog.summary_label.text()
    assert window.batch.open_dialog() is dialog  # still open: the same form and its report
    dialog.close_button.click()
    fresh = window.batch.open_dialog()
    assert fresh is not dialog and fresh.error_list.count() == 0


def test_batch_ids_are_file_name_safe_and_unique(tmp_path: Path) -> None:
    spec = REGISTRY.get("compacter-x1")
    choices = [
        ModelChoice("compacter-x1", "Compacter", spec, "untrained"),
        ModelChoice("library:my model.safetensors", "Mine", spec, LIBRARY, tmp_path / "my model.safetensors"),
        ModelChoice(
            "library:my-model.safetensors", "Mine 2", spec, LIBRARY, tmp_path / "my-model.safetensors"
        ),
    ]
    ids = batch_ids(choices)
    assert list(ids) == ["compacter-x1", "my-model", "my-model-2"]
    assert [c.label for c in ids.values()] == ["Compacter", "Mine", "Mine 2"]
