"""Python's cyclic collector never runs on a worker thread of the app: code below the GUI collects
only through ``core.memory.collect_garbage``, which skips worker threads while automatic collection
is off (as the app keeps it, collecting on its main thread: gui/garbage.py)."""

from __future__ import annotations

import gc
import re
import threading
from pathlib import Path

import pytest

import irstudio
from irstudio.core.memory import PeakMeter, collect_garbage

ALLOWED = {Path("gui/garbage.py"), Path("core/memory.py")}


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append(threading.current_thread().name) or 0)
    return calls


def on_worker(fn) -> None:
    thread = threading.Thread(target=fn, name="worker")
    thread.start()
    thread.join()


def test_a_worker_does_not_collect_while_automatic_collection_is_off(collections) -> None:
    gc.disable()
    try:
        on_worker(collect_garbage)
        on_worker(lambda: PeakMeter("cpu").__enter__())  # the memory probes used to collect here
    finally:
        gc.enable()
    assert collections == []
    collect_garbage()
    assert collections == [threading.main_thread().name]


def test_where_python_collects_anyway_a_worker_may_collect_too(collections) -> None:
    assert gc.isenabled()
    on_worker(collect_garbage)
    assert collections == ["worker"]


def test_no_module_calls_the_collector_directly() -> None:
    root = Path(irstudio.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.relative_to(root) not in ALLOWED and re.search(r"\bgc\.collect\(", path.read_text("utf-8"))
    ]
    assert offenders == []
