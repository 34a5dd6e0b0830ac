"""While a ``MainThreadCollector`` runs, cyclic garbage is collected on the main thread only."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from irstudio.gui.garbage import MainThreadCollector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def collections():
    """The thread of every cyclic collection while the test runs."""
    threads: list[str] = []

    def record(phase: str, _info: dict) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    gc.callbacks.append(record)
    yield threads
    gc.callbacks.remove(record)


def test_a_busy_worker_never_collects_and_the_main_thread_does(qtbot, collections) -> None:
    gc.enable()  # as in the app (the GUI tests' conftest turns it off around each test)
    enabled = gc.isenabled()
    collector = MainThreadCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        garbage: list[weakref.ref] = []

        def allocate() -> None:  # far past the generation-0 threshold
            for _ in range(5 * gc.get_threshold()[0]):
                garbage.append(weakref.ref(Node()))

        worker = threading.Thread(target=allocate, name="worker")
        worker.start()
        worker.join()
        assert "worker" not in collections
        qtbot.waitUntil(lambda: all(ref() is None for ref in garbage), timeout=5000)
        assert collections and set(collections) == {threading.main_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled() == enabled


def test_overlapping_collectors_turn_automatic_collection_back_on_with_the_last() -> None:
    gc.enable()
    enabled = gc.isenabled()
    first, second = MainThreadCollector(), MainThreadCollector()
    first.start()
    second.start()
    first.stop()
    assert not gc.isenabled()  # the second window still lives
    first.stop()  # stopping twice changes nothing
    assert not gc.isenabled()
    second.stop()
    assert gc.isenabled() == enabled
