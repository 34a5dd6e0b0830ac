"""``Collapsible``: a section that folds to one header line (an arrow, a title and a summary).

Used where a panel holds detail most people read once (the model card) or rarely change (precision,
tiles): folded by default so the controls people use stay visible without scrolling.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

__all__ = ["Collapsible"]


class Collapsible(QWidget):
    """A header button that shows or hides ``content``; ``summary`` is shown beside the title."""

    toggled = Signal(bool)

    def __init__(
        self, title: str, content: QWidget, *, expanded: bool = False, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.title = title
        self.content = content
        self.header = QToolButton()
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.toggled.connect(self.set_expanded)
        self.summary = QLabel()
        self.summary.setWordWrap(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(content)
        self._summary_text = ""
        self.set_expanded(expanded)

    def expanded(self) -> bool:
        return self.content.isVisibleTo(self)

    def set_expanded(self, expanded: bool) -> None:
        if self.header.isChecked() != expanded:
            self.header.setChecked(expanded)  # comes back here through toggled
            return
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)
        self._update_header()
        self.toggled.emit(expanded)

    def set_summary(self, text: str) -> None:
        """One line shown after the title while folded (e.g. "396 k parameters · trained")."""
        self._summary_text = text
        self._update_header()

    def _update_header(self) -> None:
        folded = not self.header.isChecked()
        text = f"{self.title}: {self._summary_text}" if folded and self._summary_text else self.title
        self.header.setText(text)
        self.header.setToolTip(("Show " if folded else "Hide ") + self.title.lower())
