"""Saving results: default name, never overwrite without asking, metadata and bit depth, the dialog."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QDialog, QMessageBox

from irstudio.core.tiling import Region
from irstudio.gui.save_dialog import SaveDialog, SaveOptions, default_name
from irstudio.gui.state import Result
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look

_look = pytest.fixture(autouse=True)(restore_app_look)

SAVE_TIMEOUT_MS = 10_000


class Questions:
    """Records the questions asked and gives ``answer`` (No unless a test says otherwise)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.answer = QMessageBox.StandardButton.No

    def __call__(self, _parent, _title, text, *args):
        self.asked.append(text)
        return self.answer


@pytest.fixture
def questions(monkeypatch) -> Questions:
    recorder = Questions()
    monkeypatch.setattr(QMessageBox, "question", recorder)
    return recorder


def restored_window(qtbot, tmp_path: Path, *, exif: bool = False):
    """A window showing photo.jpg (with EXIF Make when asked) and its identity result."""
    window = make_window(qtbot, tmp_path)
    pixels = (gradient_image(20, 24) * 255).astype(np.uint8)
    source = Image.fromarray(pixels)
    options = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "IR Studio Test Camera"  # Make
        options["exif"] = data.tobytes()
    source.save(tmp_path / "photo.jpg", quality=95, **options)
    assert window.open_file(tmp_path / "photo.jpg")
    window.model_panel.set_task("denoise")
    assert window.model_panel.select_model("identity")
    with qtbot.waitSignal(window.state.result_added, timeout=SAVE_TIMEOUT_MS):
        window.runs.run()
    return window, window.state.result("identity")


def save(qtbot, window, options: SaveOptions) -> Path:
    with qtbot.waitSignal(window.saver.saved, timeout=SAVE_TIMEOUT_MS) as blocker:
        assert window.saver.save_result("identity", options)
    return blocker.args[0]


def test_the_default_name_is_stem_underscore_model_beside_the_original(qtbot, tmp_path: Path) -> None:
    window, result = restored_window(qtbot, tmp_path)
    assert window.saver.default_path(result) == tmp_path / "photo_identity.png"
    assert default_name("a b", "library model/1") == "a b_library_model_1.png"


def test_the_sample_photo_and_read_only_folders_save_to_the_users_folder(qtbot, tmp_path: Path) -> None:
    """Before: the sample photo's result was offered inside the app's installation (resources/)."""
    from irstudio.paths import resources_dir

    window, result = restored_window(qtbot, tmp_path)
    window.settings.save_folder = str(tmp_path / "saved")
    assert window.open_file(resources_dir() / "sample.png")
    assert window.saver.default_path(result) == tmp_path / "saved" / "sample_identity.png"
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "photo.jpg").rename(locked / "photo.jpg")
    locked.chmod(0o555)
    try:
        assert window.open_file(locked / "photo.jpg")
        expected = locked if os.access(locked, os.W_OK) else tmp_path / "saved"  # root writes anywhere
        assert window.saver.default_path(result) == expected / "photo_identity.png"
    finally:
        locked.chmod(0o755)


def test_saving_never_overwrites_without_asking(qtbot, tmp_path: Path, questions: Questions) -> None:
    window, result = restored_window(qtbot, tmp_path)
    target = tmp_path / "photo_identity.png"
    target.write_bytes(b"precious")
    assert not window.saver.save_result("identity", SaveOptions(target))
    assert len(questions.asked) == 1 and "photo_identity.png" in questions.asked[0]
    assert target.read_bytes() == b"precious"
    assert not window.runner.is_busy("save")

    questions.answer = QMessageBox.StandardButton.Yes
    assert save(qtbot, window, SaveOptions(target)) == target
    assert len(questions.asked) == 2
    written = np.asarray(Image.open(target).convert("RGB"))
    np.testing.assert_array_equal(written, np.floor(result.image * 255 + 0.5).astype(np.uint8))


def test_a_new_file_is_written_without_a_question_with_metadata_and_16_bits(
    qtbot, tmp_path: Path, questions: Questions
) -> None:
    window, _ = restored_window(qtbot, tmp_path, exif=True)
    png = save(qtbot, window, SaveOptions(tmp_path / "out16.png", bit_depth=16))
    assert questions.asked == []
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert Image.open(png).getexif().get(0x010F) == "IR Studio Test Camera"
    jpeg = save(qtbot, window, SaveOptions(tmp_path / "out.jpg", quality=80))
    assert Image.open(jpeg).format == "JPEG"
    assert Image.open(jpeg).getexif().get(0x010F) == "IR Studio Test Camera"


def test_save_current_uses_the_dialog_and_refuses_previews(qtbot, tmp_path: Path, monkeypatch) -> None:
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, title, text, *a: warnings.append(title))
    window = make_window(qtbot, tmp_path)
    assert not window.saver.save_current()
    assert "Nothing to save" in window.statusBar().currentMessage()

    window, result = restored_window(qtbot, tmp_path)
    monkeypatch.setattr(SaveDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    with qtbot.waitSignal(window.saver.saved, timeout=SAVE_TIMEOUT_MS) as blocker:
        window.commands.save.trigger()
    assert blocker.args[0] == tmp_path / "photo_identity.png"
    assert window.settings.save_folder == str(tmp_path)

    preview = Result("identity", "Identity (preview)", "identity", result.image, region=Region(0, 0, 4, 4))
    window.state.add_result(preview)
    assert not window.saver.save_current()
    assert warnings == ["Only a preview"]


def test_the_dialog_offers_16_bit_only_for_png_and_tiff_and_renames_on_format(qtbot, tmp_path: Path) -> None:
    dialog = SaveDialog(tmp_path / "photo_model.png", bit_depth=16)
    qtbot.addWidget(dialog)
    assert dialog.options() == SaveOptions(tmp_path / "photo_model.png", 16, 95)
    assert not dialog.quality_spin.isEnabled()
    dialog.format_combo.setCurrentText("JPEG")
    assert dialog.options().path == tmp_path / "photo_model.jpg"
    assert dialog.options().bit_depth == 8 and not dialog.depth_combo.isEnabled()
    assert dialog.quality_spin.isEnabled()
    dialog.format_combo.setCurrentText("TIFF")
    assert dialog.options().path.suffix == ".tif" and dialog.depth_combo.isEnabled()


def test_heic_and_avif_are_offered_where_their_encoder_is_and_save_with_metadata(
    qtbot, tmp_path: Path, questions: Questions
) -> None:
    from irstudio.core.image_io import WRITE_SUFFIXES, read_image
    from irstudio.gui.save_dialog import FORMATS

    offered = {name for name in ("HEIC", "AVIF") if name in FORMATS}
    assert offered == {
        name for name, suffix in (("HEIC", ".heic"), ("AVIF", ".avif")) if suffix in WRITE_SUFFIXES
    }
    if not offered:
        pytest.skip("no HEIC or AVIF encoder installed (pillow-heif, Pillow with AVIF)")
    dialog = SaveDialog(tmp_path / "photo_model.png")
    qtbot.addWidget(dialog)
    window, _ = restored_window(qtbot, tmp_path, exif=True)
    for name in sorted(offered):
        dialog.format_combo.setCurrentText(name)
        assert dialog.quality_spin.isEnabled() and not dialog.depth_combo.isEnabled()
        options = dialog.options()
        assert options.path.suffix == FORMATS[name]
        written = save(qtbot, window, options)
        loaded = read_image(written)
        assert loaded.rgb.shape == (20, 24, 3)
        exif = Image.Exif()
        exif.load(loaded.info.exif)
        assert exif.get(0x010F) == "IR Studio Test Camera"
