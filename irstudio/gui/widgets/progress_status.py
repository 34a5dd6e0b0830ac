"""``ProgressStatus``: the status bar's task area: what runs, a progress bar, the ETA and Cancel.

Hidden while idle. ``begin(text)`` shows it; ``report(done, total)`` moves the bar and estimates
the time left from the elapsed time (linear in tiles done); ``end()`` hides it. Cancel emits
``cancel_requested`` (the window also binds Esc to the same request); ``mark_stopping()`` then says
that the work stops at its next step (a model being prepared finishes that first), until ``end()``
or the next ``begin()``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

__all__ = ["ProgressStatus", "format_eta"]


def format_eta(seconds: float) -> str:
    """'12 s', '3 min 05 s' or '1 h 02 min' left."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


class ProgressStatus(QWidget):
    """Label, progress bar, ETA and a Cancel button, for the status bar."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.eta = QLabel()
        self.eta.setMinimumWidth(90)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop at the next tile (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.eta, self.cancel_button):
            layout.addWidget(widget)
        self._started = 0.0
        self.setVisible(False)

    def begin(self, text: str) -> None:
        self._started = time.perf_counter()
        self.label.setText(text)
        self.bar.setRange(0, 0)  # busy until the first report
        self.eta.setText("")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def report(self, done: int, total: int, unit: str = "tiles") -> None:
        """``done`` of ``total`` ``unit`` (the bar's text, e.g. "3 / 12 tiles"), with the time left."""
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"%v / %m {unit}")
        if 0 < done < total:
            elapsed = time.perf_counter() - self._started
            self.eta.setText(format_eta(elapsed * (total - done) / done))
        else:
            self.eta.setText("")

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def mark_stopping(self) -> None:
        """Cancel was asked for: say so at once (the work stops at its next step)."""
        if self.isVisible():
            self.label.setText(f"{self.label.text()}: stopping…")
            self.eta.setText("")
            self.cancel_button.setEnabled(False)

    def end(self) -> None:
        self.setVisible(False)
