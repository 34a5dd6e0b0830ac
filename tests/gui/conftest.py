"""GUI tests: Python's cyclic garbage collection only on the main thread, as in the app.

Collected on a worker thread (a runner lane busy in Python), garbage Qt objects of an earlier test
(closed windows, pyqtgraph items) would be destroyed off their thread, and Qt crashes later on a
timer of a freed object. The app prevents this with ``irstudio.gui.garbage.MainThreadCollector``
while its window lives; tests also run widgets and runners without a window, so automatic
collection is off during each test and the garbage is collected here, on the main thread, after it.
"""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread():
    enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if enabled:
        gc.enable()
