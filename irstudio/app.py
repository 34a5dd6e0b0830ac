"""Composition root of the desktop app: build the QApplication and the main window, run.

``main(argv)`` sets the CPU thread count for a responsive desktop (physical cores minus one),
creates the window (which applies the saved theme and layout), opens the first image file named
in ``argv`` (after the program name), runs the event loop and returns its exit code. Quitting
by any path (SIGTERM included) saves the settings and stops the worker threads
(``MainWindow.shutdown``).

``main(smoke=True)`` (the hidden ``irstudio --smoke`` flag) quits as soon as the main window has
been painted once and prints how long that took on stderr: the start-up check of the packaged app.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None, *, smoke: bool = False) -> int:
    started = time.perf_counter()
    from irstudio.qt_platform import install_hint, missing_qt_libraries, uses_xcb

    missing = missing_qt_libraries() if uses_xcb() else []
    if missing:  # Qt would print its plugin message and abort the process
        print(f"irstudio: error: {install_hint(missing)}", file=sys.stderr)
        return 1
    import torch
    from PySide6.QtWidgets import QApplication

    from irstudio.core import default_cpu_threads
    from irstudio.gui.main_window import MainWindow
    from irstudio.paths import APP_NAME

    arguments = list(argv if argv is not None else sys.argv)
    torch.set_num_threads(default_cpu_threads())
    app = QApplication.instance() or QApplication(arguments)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    window = MainWindow()
    app.aboutToQuit.connect(window.shutdown)
    _quit_on_sigterm(app)
    if smoke:
        _quit_after_first_paint(app, window, started)
    window.show()
    for name in arguments[1:]:
        if Path(name).is_file():
            window.open_file(Path(name))
            break
    return app.exec()


def _quit_on_sigterm(app) -> None:
    """SIGTERM (logout, ``kill``, systemd) quits like closing the window: settings saved, work
    cancelled (a training run writes its checkpoint), workers stopped. Python runs signal handlers
    only between bytecodes, so a timer gives it the chance while Qt waits for events."""
    import signal
    import threading

    from PySide6.QtCore import QTimer

    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda _signum, _frame: app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    app._sigterm_timer = timer  # kept alive with the app


def _quit_after_first_paint(app, window, started: float) -> None:
    """Quit the event loop once ``window`` has received its first paint event; report the time."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, watched, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                seconds = time.perf_counter() - started
                print(f"irstudio: main window painted {seconds:.2f} s after the app started", file=sys.stderr)
                QTimer.singleShot(0, app.quit)
            return False

    window._first_paint_filter = FirstPaint(window)  # kept alive by the window
    window.installEventFilter(window._first_paint_filter)
