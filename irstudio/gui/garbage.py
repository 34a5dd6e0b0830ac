"""Python's cyclic garbage collection on the main thread only, while a window lives.

The cyclic collector runs in whichever thread happens to allocate when a generation's threshold is
crossed, often a ``TaskRunner`` worker busy in Python (tiling, batch, maps). Garbage Qt objects
(a closed window, pyqtgraph items of a redrawn chart: they are full of reference cycles) are then
destroyed on that worker thread; Qt cannot unregister their timers from there, and a later timer
event on the freed object crashes the process (seen: ``QTimerInfoList::activateTimers``).

``MainThreadCollector.start()`` turns automatic collection off and collects from a ``QTimer`` on
the owner's (main) thread, generation by generation with the interpreter's thresholds, as
pyqtgraph's ``GarbageCollector`` does. ``stop()`` collects once more and turns automatic
collection back on when no other collector is running (windows may overlap, e.g. in tests).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["COLLECT_INTERVAL_MS", "MainThreadCollector"]

COLLECT_INTERVAL_MS = 1000

_running = 0  # collectors started and not stopped
_enabled_before = True  # automatic collection was on when the first of them started


class MainThreadCollector(QObject):
    """Collects garbage on the owner's thread every ``interval_ms`` while started."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = COLLECT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect)
        self._started = False

    def start(self) -> None:
        global _running, _enabled_before
        if self._started:
            return
        self._started = True
        if _running == 0:
            _enabled_before = gc.isenabled()
        _running += 1
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        global _running
        if not self._started:
            return
        self._started = False
        self._timer.stop()
        _running -= 1
        gc.collect()
        if _running == 0 and _enabled_before:
            gc.enable()

    def collect(self) -> int:
        """Collect the generations whose counts passed their thresholds; objects found unreachable."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        found = 0
        for generation in range(3):
            if counts[generation] <= thresholds[generation]:
                break
            found = gc.collect(generation)
        return found
