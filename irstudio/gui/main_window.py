"""The main window. For now: open an image and show it; the full app (issue 5) grows from here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QScrollArea

from irstudio import __version__
from irstudio.core.image_io import READ_SUFFIXES, ImageError, read_image


def to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage copy of a float32 HxWx3 [0,1] image (8 bits per channel for display)."""
    as_uint8 = np.ascontiguousarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))
    height, width = as_uint8.shape[:2]
    return QImage(as_uint8.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(f"IR Studio {__version__}")
        self.resize(1200, 800)
        self.image_label = QLabel("Open a photo (Ctrl+O) to start.")
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.image_label)
        scroll.setWidgetResizable(True)
        self.setCentralWidget(scroll)
        self._build_menu()
        self.statusBar().showMessage("Ready")

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_file)
        file_menu.addAction(open_action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def choose_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(READ_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", "", f"Images ({patterns})")
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        """Show ``path``; a bad file gives a message box and leaves the window as it was."""
        try:
            loaded = read_image(path)
        except ImageError as error:
            QMessageBox.warning(self, "Cannot open image", str(error))
            return False
        self.image_label.setPixmap(QPixmap.fromImage(to_qimage(loaded.rgb)))
        info = loaded.info
        self.statusBar().showMessage(
            f"{path.name}: {info.width}x{info.height}, {info.bit_depth}-bit {info.mode}"
        )
        return True
