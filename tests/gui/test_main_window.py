from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from irstudio.gui.main_window import MainWindow


def test_opening_a_photo_shows_it_and_a_bad_file_shows_a_message(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    assert window.open_file(tmp_path / "grey.png")
    assert window.image_label.pixmap().width() == 30
    assert "30x20" in window.statusBar().currentMessage()

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert not window.open_file(tmp_path / "broken.png")
    assert warnings and "broken.png" in warnings[0]
    assert window.image_label.pixmap().width() == 30  # the previous image stays
