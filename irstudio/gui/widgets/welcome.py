"""``WelcomePage``: what the photo area shows before any photo is open.

A large "drop a photo here" target, Open and sample-photo buttons, and the recent files (at most
``MAX_RECENT``, missing ones left out). It only emits requests; the window opens the files.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["MAX_RECENT", "WelcomePage"]

MAX_RECENT = 5


class WelcomePage(QWidget):
    """Emits ``open_requested`` (the Open dialog), ``file_requested(Path)`` (a recent or sample file)."""

    open_requested = Signal()
    file_requested = Signal(Path)

    def __init__(self, sample: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("WelcomePage")
        title = QLabel("Drop a photo here")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        title.setFont(font)
        hint = QLabel("or open one (Ctrl+O), or paste one (Ctrl+V). Then pick a task and a model, and Run.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self.open_button = QPushButton("Open a photo…")
        self.open_button.clicked.connect(self.open_requested)
        self.sample_button = QPushButton("Try the sample photo")
        self.sample_button.setVisible(sample is not None and sample.is_file())
        if sample is not None:
            self.sample_button.clicked.connect(lambda: self.file_requested.emit(sample))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.sample_button)
        buttons.addStretch(1)
        self.recent_box = QVBoxLayout()
        self.recent_title = QLabel("Recent photos")
        self.recent_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addSpacing(18)
        layout.addWidget(self.recent_title)
        layout.addLayout(self.recent_box)
        layout.addStretch(3)
        self.recent_buttons: list[QPushButton] = []
        self.set_recent([])

    def set_recent(self, files: list[Path]) -> None:
        """Show up to ``MAX_RECENT`` of ``files`` that still exist, as buttons."""
        for button in self.recent_buttons:
            self.recent_box.removeWidget(button)
            button.deleteLater()
        self.recent_buttons = []
        for path in [p for p in files if p.is_file()][:MAX_RECENT]:
            button = QPushButton(path.name)
            button.setToolTip(str(path))
            button.setFlat(True)
            button.clicked.connect(lambda _checked=False, path=path: self.file_requested.emit(path))
            self.recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
            self.recent_buttons.append(button)
        self.recent_title.setVisible(bool(self.recent_buttons))
