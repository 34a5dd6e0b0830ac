"""Composition root of the desktop app: build the QApplication and the main window, run."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import qdarkstyle
    from PySide6.QtWidgets import QApplication

    from irstudio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("IR Studio")
    app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6"))
    window = MainWindow()
    window.show()
    return app.exec()
