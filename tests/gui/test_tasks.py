"""TaskRunner: order of reports, failures, cancel, supersession, serialized lanes, shutdown."""

from __future__ import annotations

import threading

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QThread

from irstudio.core.cancel import CancelToken
from irstudio.gui.tasks import TaskRunner, describe_error

GATE_TIMEOUT_S = 10  # a gate that is never opened fails the test instead of hanging it


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner()
    yield runner
    assert runner.shutdown(5000)


class Recorder:
    """Collects every signal of a runner as (name, key, payload) tuples, with the emitting thread."""

    def __init__(self, runner: TaskRunner) -> None:
        self.events: list[tuple[str, str, object]] = []
        self.threads: set[QThread] = set()
        runner.progressed.connect(lambda key, item: self._add("progressed", key, item))
        runner.finished.connect(lambda key, result: self._add("finished", key, result))
        runner.failed.connect(lambda key, message: self._add("failed", key, message))
        runner.cancelled.connect(lambda key: self._add("cancelled", key, None))

    def _add(self, name: str, key: str, payload: object) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append((name, key, payload))

    def of(self, key: str) -> list[tuple[str, object]]:
        return [(name, payload) for name, k, payload in self.events if k == key]


def counting(n: int, result: object = "done"):
    def work(token: CancelToken):
        for i in range(n):
            token.raise_if_cancelled()
            yield i
        return result

    return work


def gated(gate: threading.Event, started: threading.Event | None = None, result: object = "gated"):
    """Yields 0, then blocks until ``gate`` opens, then checks the token and returns ``result``."""

    def work(token: CancelToken):
        if started is not None:
            started.set()
        yield 0
        assert gate.wait(GATE_TIMEOUT_S), "gate never opened"
        token.raise_if_cancelled()
        yield 1
        return result

    return work


def test_reports_come_in_order_on_the_main_thread(qtbot, runner: TaskRunner) -> None:
    seen = Recorder(runner)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit("job", counting(4, result={"answer": 42}))
    assert seen.of("job") == [
        ("progressed", 0),
        ("progressed", 1),
        ("progressed", 2),
        ("progressed", 3),
        ("finished", {"answer": 42}),
    ]
    assert seen.threads == {QCoreApplication.instance().thread()}
    assert not runner.is_busy()


def test_a_failure_reports_a_message_and_no_result(qtbot, runner: TaskRunner) -> None:
    def broken(token: CancelToken):
        yield "first"
        raise ValueError("the weights do not fit the model")

    seen = Recorder(runner)
    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit("job", broken)
    assert blocker.args == ["job", "the weights do not fit the model"]
    assert seen.of("job") == [("progressed", "first"), ("failed", "the weights do not fit the model")]


def test_error_messages_name_the_problem() -> None:
    assert describe_error(KeyError("x")) == "KeyError: 'x'"
    message = describe_error(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert message.startswith("Out of memory") and "smaller tile" in message


def test_plain_functions_return_their_value(qtbot, runner: TaskRunner) -> None:
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.submit("plain", lambda token: 7, lane="io")
    assert blocker.args == ["plain", 7]


def test_cancel_stops_at_the_next_unit_and_drops_the_result(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    seen = Recorder(runner)
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit("job", gated(gate))
    assert runner.is_busy("job")
    with qtbot.waitSignal(runner.cancelled, timeout=5000) as blocker:
        assert runner.cancel("job")
        gate.set()
    assert blocker.args == ["job"]
    assert seen.of("job") == [("progressed", 0), ("cancelled", None)]
    assert not runner.is_busy("job")
    assert not runner.cancel("job")


def test_a_generator_that_ignores_its_token_is_closed_at_its_next_yield(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    closed = threading.Event()
    reached = []

    def stubborn(token: CancelToken):
        try:
            yield 0
            assert gate.wait(GATE_TIMEOUT_S)
            yield 1
            reached.append("after the cancel")
            yield 2
        finally:
            closed.set()

    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit("job", stubborn)
    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.cancel("job")
        gate.set()
    assert closed.is_set() and reached == []


def test_a_newer_submit_supersedes_the_older_silently(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    seen = Recorder(runner)
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit("view", gated(gate, result="old"))
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.submit("view", counting(2, result="new"))
        gate.set()
    assert blocker.args == ["view", "new"]
    assert seen.of("view") == [("progressed", 0), ("progressed", 0), ("progressed", 1), ("finished", "new")]


def test_a_superseded_job_that_had_not_started_never_runs(qtbot, runner: TaskRunner) -> None:
    gate, started = threading.Event(), threading.Event()
    calls = []

    def recorded(name: str):
        def work(token: CancelToken):
            calls.append(name)
            yield name
            return name

        return work

    runner.submit("blocker", gated(gate, started))
    assert started.wait(GATE_TIMEOUT_S)
    runner.submit("view", recorded("first"))
    runner.submit("view", recorded("second"))
    with qtbot.waitSignal(runner.finished, timeout=5000, check_params_cb=lambda k, r: k == "view") as b:
        gate.set()
    assert b.args == ["view", "second"]
    assert calls == ["second"]


def test_one_lane_runs_jobs_one_at_a_time_and_lanes_run_side_by_side(qtbot, runner: TaskRunner) -> None:
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []
    runner.finished.connect(lambda key, result: order.append(key))
    runner.submit("slow", gated(gate, started), lane="device")
    runner.submit("queued", counting(1), lane="device")
    assert started.wait(GATE_TIMEOUT_S)
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.submit("other lane", counting(1), lane="io")
    assert blocker.args[0] == "other lane"  # done while the device lane is still blocked
    assert runner.is_busy("slow") and runner.is_busy("queued")
    with qtbot.waitSignal(runner.finished, timeout=5000, check_params_cb=lambda k, r: k == "queued"):
        gate.set()
    assert order == ["other lane", "slow", "queued"]


def test_shutdown_cancels_running_work_and_waits(qtbot) -> None:
    runner = TaskRunner()
    gate, started = threading.Event(), threading.Event()
    stopped_at = []

    def long_work(token: CancelToken):
        started.set()
        for i in range(10_000):
            if gate.wait(0.001):  # stands for one unit of compute
                break
            token.raise_if_cancelled()
            yield i
        stopped_at.append("end")
        return "never"

    runner.submit("long", long_work)
    assert started.wait(GATE_TIMEOUT_S)
    assert runner.shutdown(5000)
    assert stopped_at == []  # it stopped at a cancel check, not by running to the end
    assert all(not lane.thread.isRunning() for lane in runner._lanes.values())
    with pytest.raises(RuntimeError, match="shut down"):
        runner.submit("late", counting(1))
