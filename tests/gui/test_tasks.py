"""TaskRunner: per-job handles, order of reports, failures, cancel, supersession, serialized lanes,
the lane enum, shutdown."""

from __future__ import annotations

import threading

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QThread

from irstudio.core.cancel import CancelToken
from irstudio.gui.tasks import JobHandle, Lane, TaskRunner, describe_error

GATE_TIMEOUT_S = 10  # a gate that is never opened fails the test instead of hanging it


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner()
    yield runner
    assert runner.shutdown(5000)


class Recorder:
    """Collects the signals of the handles it watches as (name, key, payload) tuples, with the
    emitting thread (``finished``, which follows every outcome, only when ``concluded`` is asked)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []
        self.threads: set[QThread] = set()

    def watch(self, job: JobHandle, *, concluded: bool = False) -> JobHandle:
        key = job.key
        job.started.connect(lambda: self.threads.add(QThread.currentThread()))
        job.progress.connect(lambda item: self._add("progressed", key, item))
        job.result.connect(lambda result: self._add("finished", key, result))
        job.error.connect(lambda message: self._add("failed", key, message))
        job.cancelled.connect(lambda: self._add("cancelled", key, None))
        if concluded:
            job.finished.connect(lambda: self._add("concluded", key, None))
        return job

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
    seen = Recorder()
    job = seen.watch(runner.submit("job", counting(4, result={"answer": 42})), concluded=True)
    with qtbot.waitSignal(job.finished, timeout=5000):
        pass
    assert seen.of("job") == [
        ("progressed", 0),
        ("progressed", 1),
        ("progressed", 2),
        ("progressed", 3),
        ("finished", {"answer": 42}),
        ("concluded", None),
    ]
    assert seen.threads == {QCoreApplication.instance().thread()}
    assert job.concluded and not job.superseded
    assert not runner.is_busy() and runner.job("job") is None


def test_a_failure_reports_a_message_and_no_result(qtbot, runner: TaskRunner) -> None:
    def broken(token: CancelToken):
        yield "first"
        raise ValueError("the weights do not fit the model")

    seen = Recorder()
    job = seen.watch(runner.submit("job", broken), concluded=True)
    with qtbot.waitSignal(job.error, timeout=5000) as blocker:
        pass
    assert blocker.args == ["the weights do not fit the model"]
    assert seen.of("job") == [
        ("progressed", "first"),
        ("failed", "the weights do not fit the model"),
        ("concluded", None),
    ]


def test_error_messages_name_the_problem() -> None:
    assert describe_error(KeyError("x")) == "KeyError: 'x'"
    message = describe_error(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert message.startswith("Out of memory") and "smaller tile" in message


def test_plain_functions_return_their_value(qtbot, runner: TaskRunner) -> None:
    job = runner.submit("plain", lambda token: 7, lane=Lane.IO)
    with qtbot.waitSignal(job.result, timeout=5000) as blocker:
        pass
    assert blocker.args == [7]


def test_cancel_stops_at_the_next_unit_and_drops_the_result(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    seen = Recorder()
    job = seen.watch(runner.submit("job", gated(gate)), concluded=True)
    with qtbot.waitSignal(job.progress, timeout=5000):
        pass
    assert runner.is_busy("job") and runner.job("job") is job
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        assert runner.cancel("job")
        gate.set()
    assert seen.of("job") == [("progressed", 0), ("cancelled", None), ("concluded", None)]
    assert not runner.is_busy("job")
    assert not runner.cancel("job") and not job.cancel()  # concluded: nothing left to cancel


def test_cancel_through_the_handle_stops_only_that_job(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    seen = Recorder()
    job = seen.watch(runner.submit("job", gated(gate), lane=Lane.DEVICE), concluded=True)
    other = seen.watch(runner.submit("other", counting(2, result="other done"), lane=Lane.IO))
    with qtbot.waitSignal(job.progress, timeout=5000):
        pass
    with qtbot.waitSignal(job.finished, timeout=5000):
        assert job.cancel()
        gate.set()
    assert seen.of("job") == [("progressed", 0), ("cancelled", None), ("concluded", None)]
    qtbot.waitUntil(lambda: other.concluded, timeout=5000)
    assert seen.of("other") == [("progressed", 0), ("progressed", 1), ("finished", "other done")]


def test_two_jobs_hear_only_their_own_reports(qtbot, runner: TaskRunner) -> None:
    first_items: list[object] = []
    second_items: list[object] = []
    first = runner.submit("first", counting(3, result="one"), lane=Lane.DEVICE)
    second = runner.submit("second", counting(2, result="two"), lane=Lane.IO)
    first.progress.connect(first_items.append)
    second.progress.connect(second_items.append)
    results: dict[str, object] = {}
    first.result.connect(lambda value: results.setdefault("first", value))
    second.result.connect(lambda value: results.setdefault("second", value))
    with qtbot.waitSignals([first.finished, second.finished], timeout=5000):
        pass
    assert first_items == [0, 1, 2] and second_items == [0, 1]
    assert results == {"first": "one", "second": "two"}
    assert (first.key, first.lane, second.key, second.lane) == ("first", Lane.DEVICE, "second", Lane.IO)


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

    job = runner.submit("job", stubborn)
    with qtbot.waitSignal(job.progress, timeout=5000):
        pass
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.cancel()
        gate.set()
    assert closed.is_set() and reached == []


def test_a_newer_submit_supersedes_the_older_silently(qtbot, runner: TaskRunner) -> None:
    gate = threading.Event()
    seen = Recorder()
    old = seen.watch(runner.submit("view", gated(gate, result="old")), concluded=True)
    with qtbot.waitSignal(old.progress, timeout=5000):
        pass
    new = seen.watch(runner.submit("view", counting(2, result="new")), concluded=True)
    assert old.superseded and not new.superseded and runner.job("view") is new
    with qtbot.waitSignal(new.result, timeout=5000) as blocker:
        gate.set()
    assert blocker.args == ["new"]
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=5000)  # the old one ended too, unheard
    assert seen.of("view") == [
        ("progressed", 0),
        ("progressed", 0),
        ("progressed", 1),
        ("finished", "new"),
        ("concluded", None),
    ]
    assert not old.concluded


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
    first = runner.submit("view", recorded("first"))
    second = runner.submit("view", recorded("second"))
    with qtbot.assertNotEmitted(first.started), qtbot.assertNotEmitted(first.finished):
        with qtbot.waitSignal(second.result, timeout=5000) as b:
            gate.set()
        qtbot.waitUntil(lambda: not runner.is_busy(), timeout=5000)
    assert b.args == ["second"]
    assert calls == ["second"]


def test_one_lane_runs_jobs_one_at_a_time_and_lanes_run_side_by_side(qtbot, runner: TaskRunner) -> None:
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []

    def submit(key: str, work, lane: Lane) -> JobHandle:
        job = runner.submit(key, work, lane=lane)
        job.result.connect(lambda result: order.append(key))
        return job

    submit("slow", gated(gate, started), Lane.DEVICE)
    queued = submit("queued", counting(1), Lane.DEVICE)
    assert started.wait(GATE_TIMEOUT_S)
    other = submit("other lane", counting(1), Lane.IO)
    with qtbot.waitSignal(other.result, timeout=5000):
        pass
    assert order == ["other lane"]  # done while the device lane is still blocked
    assert runner.is_busy("slow") and runner.is_busy("queued")
    with qtbot.waitSignal(queued.result, timeout=5000):
        gate.set()
    assert order == ["other lane", "slow", "queued"]


def test_lanes_are_an_enum_and_each_has_its_own_named_thread(qtbot, runner: TaskRunner) -> None:
    assert {lane.value for lane in Lane} == {
        "device",
        "batch",
        "training",
        "ground-truth",
        "io",
        "thumbnails",
        "preview",
        "self-test",
    }
    assert Lane("io") is Lane.IO and Lane.IO == "io"
    threads: dict[Lane, str] = {}
    jobs = []
    for lane in (Lane.DEVICE, Lane.THUMBNAILS):
        job = runner.submit(f"on {lane.value}", lambda token: QThread.currentThread().objectName(), lane=lane)
        job.result.connect(lambda name, lane=lane: threads.__setitem__(lane, name))
        jobs.append(job)
    with qtbot.waitSignals([job.finished for job in jobs], timeout=5000):
        pass
    assert threads == {Lane.DEVICE: "irstudio-device", Lane.THUMBNAILS: "irstudio-thumbnails"}
    assert jobs[0].lane is Lane.DEVICE and runner.submit("default", counting(1)).lane is Lane.DEVICE
    with pytest.raises(ValueError):
        runner.submit("nowhere", counting(1), lane="no such lane")  # type: ignore[arg-type]


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
