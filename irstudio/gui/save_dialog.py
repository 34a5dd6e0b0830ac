"""``SaveDialog``: where and how to save a result (format, 8/16 bit, quality), and ``default_name``.

The dialog only collects ``SaveOptions``; asking before replacing a file and writing happen in the
save controller. 16 bit is offered for PNG and TIFF only; quality for JPEG, WebP, HEIC and AVIF only
(HEIC and AVIF are listed only where ``image_io`` found their encoder). Changing the format changes
the file name's suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from irstudio.core.image_io import WRITE_SUFFIXES

__all__ = ["FORMATS", "SaveDialog", "SaveOptions", "default_name"]

_ALL_FORMATS = {
    "PNG": ".png",
    "TIFF": ".tif",
    "JPEG": ".jpg",
    "WebP": ".webp",
    "HEIC": ".heic",
    "AVIF": ".avif",
}
FORMATS: dict[str, str] = {name: suffix for name, suffix in _ALL_FORMATS.items() if suffix in WRITE_SUFFIXES}
_SIXTEEN_BIT = ("PNG", "TIFF")
_LOSSY = ("JPEG", "WebP", "HEIC", "AVIF")
_ALIASES = {".tiff": "TIFF", ".jpeg": "JPEG", ".heif": "HEIC"}
_SUFFIX_FORMAT = {suffix: name for name, suffix in FORMATS.items()} | {
    suffix: name for suffix, name in _ALIASES.items() if name in FORMATS
}
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class SaveOptions:
    path: Path
    bit_depth: int = 8
    quality: int = 95


def default_name(stem: str, model: str, suffix: str = ".png") -> str:
    """``<stem>_<model>.png`` with characters unsafe in file names replaced by ``_``."""
    return f"{stem}_{_UNSAFE.sub('_', model).strip('_') or 'restored'}{suffix}"


class SaveDialog(QDialog):
    """Path, format, bit depth and quality; ``options()`` after ``exec()`` accepted."""

    def __init__(self, path: Path, *, bit_depth: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save result")
        self.path_edit = QLineEdit(str(path))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format_combo = QComboBox()
        self.format_combo.addItems(list(FORMATS))
        self.depth_combo = QComboBox()
        self.depth_combo.addItem("8 bit", 8)
        self.depth_combo.addItem("16 bit", 16)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(95)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Format", self.format_combo)
        form.addRow("Bit depth", self.depth_combo)
        form.addRow("Quality", self.quality_spin)
        form.addRow(buttons)
        self.format_combo.setCurrentText(_SUFFIX_FORMAT.get(path.suffix.lower(), "PNG"))
        self.depth_combo.setCurrentIndex(1 if bit_depth == 16 else 0)
        self.format_combo.currentTextChanged.connect(self._on_format_changed)
        self._on_format_changed(self.format_combo.currentText(), rename=False)
        self.resize(560, self.sizeHint().height())

    def options(self) -> SaveOptions:
        return SaveOptions(
            path=Path(self.path_edit.text()).expanduser(),
            bit_depth=int(self.depth_combo.currentData()) if self.depth_combo.isEnabled() else 8,
            quality=self.quality_spin.value(),
        )

    def _on_format_changed(self, fmt: str, *, rename: bool = True) -> None:
        sixteen = fmt in _SIXTEEN_BIT
        self.depth_combo.setEnabled(sixteen)
        if not sixteen:
            self.depth_combo.setCurrentIndex(0)
        self.quality_spin.setEnabled(fmt in _LOSSY)
        if rename:
            path = Path(self.path_edit.text())
            self.path_edit.setText(str(path.with_suffix(FORMATS[fmt])))

    def _browse(self) -> None:
        filters = ";;".join(f"{name} (*{suffix})" for name, suffix in FORMATS.items())
        chosen, _ = QFileDialog.getSaveFileName(
            self,
            "Save result as",
            self.path_edit.text(),
            filters,
            options=QFileDialog.Option.DontConfirmOverwrite,  # the save controller asks itself
        )
        if chosen:
            self.path_edit.setText(chosen)
            fmt = _SUFFIX_FORMAT.get(Path(chosen).suffix.lower())
            if fmt is not None:
                with QSignalBlocker(self.format_combo):
                    self.format_combo.setCurrentText(fmt)
                self._on_format_changed(fmt, rename=False)
