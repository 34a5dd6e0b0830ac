"""Dark (qdarkstyle's style sheet) and light (the platform style with its standard palette) themes.

Themes are app-wide: they change the running ``QApplication``'s style sheet and palette.
"""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

__all__ = ["THEMES", "apply_theme"]

THEMES = ("dark", "light")


def apply_theme(name: str) -> None:
    """Style the running application: "dark" or "light" (anything else counts as dark)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    if name == "light":
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("")
        return
    import qdarkstyle

    app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6"))
