"""``MapControls``: the Inside view's two rows of choices (kind, layer, head, Update; map, zoom to
window, Export) and the widget-side logic of filling and enabling them. Deciding what to compute
stays with ``InsideView``; these methods never emit the combos' signals while filling them.
Main thread only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from irstudio.gui.widgets.inside_view.map_picture import family
from irstudio.inference.maps import LayerChoice, MapImage, MapKind

__all__ = ["KIND_LABELS", "MapControls"]

KIND_LABELS = {
    MapKind.ATTENTION: "Attention",
    MapKind.ENERGY: "Feature energy",
    MapKind.FFT: "Spectrum (FFT)",
    MapKind.ERROR: "Error map",
}


class MapControls(QWidget):
    """The choice widgets of the Inside view; see the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind_combo = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind.value)
        self.layer_combo = _combo(14)
        self.head_spin = QSpinBox()
        self.head_spin.setPrefix("head ")
        self.update_button = QPushButton("Update")
        self.map_combo = _combo(18)
        self.map_combo.setPlaceholderText("No map yet")  # shown while the list is empty
        self.zoom_check = QCheckBox("Zoom to window")
        self.zoom_check.setChecked(True)
        self.export_button = QPushButton("Export PNG…")
        first = QHBoxLayout()
        for widget in (self.kind_combo, self.layer_combo, self.head_spin, self.update_button):
            first.addWidget(widget)
        second = QHBoxLayout()
        second.addWidget(self.map_combo, 1)
        second.addWidget(self.zoom_check)
        second.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(first)
        layout.addLayout(second)

    # ------------------------------------------------------------------ reading

    def kind(self) -> MapKind:
        return MapKind(self.kind_combo.currentData())

    def layer(self) -> LayerChoice | None:
        return self.layer_combo.currentData()

    def head(self) -> int:
        return self.head_spin.value()

    # ------------------------------------------------------------------ choosing (these emit)

    def set_kind(self, kind: MapKind | str) -> None:
        index = self.kind_combo.findData(MapKind(kind).value)
        if index >= 0:
            self.kind_combo.setCurrentIndex(index)

    def set_layer(self, name: str) -> None:
        for index in range(self.layer_combo.count()):
            if self.layer_combo.itemData(index).name == name:
                self.layer_combo.setCurrentIndex(index)
                return
        raise ValueError(f"no layer {name!r}")

    # ------------------------------------------------------------------ filling (silent)

    def set_layers(self, choices: Iterable[LayerChoice]) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for choice in choices:
            self.layer_combo.addItem(choice.label, choice)
        self.layer_combo.blockSignals(False)

    def set_head_count(self, heads: int) -> None:
        """Heads 0 .. ``heads`` - 1 can be chosen (at least head 0)."""
        if max(0, heads - 1) != self.head_spin.maximum():
            self.head_spin.blockSignals(True)
            self.head_spin.setMaximum(max(0, heads - 1))
            self.head_spin.blockSignals(False)

    def set_maps(self, maps: Sequence[MapImage], keep_family: str | None) -> None:
        """List ``maps``; the one of ``keep_family`` (same map, another head) stays chosen, else the first."""
        self.map_combo.blockSignals(True)
        self.map_combo.clear()
        for map_image in maps:
            self.map_combo.addItem(map_image.title, map_image.key)
            self.map_combo.setItemData(
                self.map_combo.count() - 1, map_image.note, Qt.ItemDataRole.ToolTipRole
            )
        families = [family(m.key) for m in maps]
        self.map_combo.setCurrentIndex(families.index(keep_family) if keep_family in families else 0)
        self.map_combo.blockSignals(False)

    def enable_kinds(self, enabled: dict[MapKind, bool]) -> bool:
        """Enable the kinds in ``enabled``; False when the current kind is disabled now."""
        model = self.kind_combo.model()
        for row in range(self.kind_combo.count()):
            model.item(row).setEnabled(enabled[MapKind(self.kind_combo.itemData(row))])
        return enabled[self.kind()]

    def enable_attention_choices(self) -> None:
        """Layer and head can be chosen for attention maps only (and when there is a choice)."""
        attention = self.kind() is MapKind.ATTENTION
        self.layer_combo.setEnabled(attention and self.layer_combo.count() > 0)
        self.head_spin.setEnabled(attention and self.head_spin.maximum() > 0)


def _combo(minimum_characters: int) -> QComboBox:
    combo = QComboBox()
    combo.setMinimumContentsLength(minimum_characters)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return combo
