"""Run long work off the main thread: generators on one serialized worker thread per lane.

``TaskRunner.submit(key, work, lane="device")`` calls ``work(token)`` on the lane's thread and
iterates the generator it returns. Each yielded item is reported as ``progressed(key, item)``; the
generator's return value as ``finished(key, result)``; an exception as ``failed(key, message)``
(a user-facing sentence; the traceback goes to the log); a cancellation as ``cancelled(key)``.
All four signals are emitted on the thread that owns the runner (the main thread), through queued
connections, so slots may touch widgets.

Lanes: one ``QThread`` per lane name, created on first use; jobs of a lane run one after the other
in submission order ("device" is the compute lane for the GPU/CPU, "io" for file work,
"thumbnails" for the folder strip). A lane's thread never runs two jobs at once.

Supersession: a ``submit`` with a key that already has a pending or running job cancels that job's
token; the superseded job is silent from then on (none of its signals reach listeners), so
``progressed``/``finished``/``cancelled`` for a key always belong to its newest job. A superseded
job that had not started yet is skipped without calling ``work``.

Cancellation is cooperative: ``cancel(key)`` sets the job's ``CancelToken``; the work checks it
(``raise_if_cancelled``) and the runner also checks it after every yielded item and closes the
generator, so work stops at its next yield at the latest. A job whose token was set is reported
as ``cancelled`` even if its generator returned, and its result is dropped. Threads are never
terminated: ``shutdown(timeout_ms)`` cancels everything, stops the lanes' event loops and waits.

``work`` must not touch widgets or ``AppState``: give it an immutable snapshot of what it needs.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.core.device import DeviceError, is_out_of_memory
from irstudio.core.image_io import ImageError
from irstudio.models.loading import WeightsError

__all__ = ["TaskRunner", "Work", "describe_error"]

_log = logging.getLogger(__name__)

Work = Callable[[CancelToken], Generator[Any, None, Any]]
"""A unit of long work: called with its cancel token on a worker thread; returns a generator."""

_FINISHED, _FAILED, _CANCELLED = "finished", "failed", "cancelled"

_UNFINISHED_LANES: list[_Lane] = []
"""Lanes whose thread outlived ``shutdown``'s wait: kept referenced until the process exits."""


def describe_error(error: BaseException) -> str:
    """A sentence for the user: the message of our own errors, advice for out-of-memory."""
    if is_out_of_memory(error):
        return f"Out of memory: {error}. Try a smaller tile size, another device or a smaller model."
    if isinstance(error, ImageError | WeightsError | DeviceError | ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


@dataclass(eq=False)
class _Job:
    id: int
    key: str
    lane: str
    work: Work = field(repr=False)
    token: CancelToken = field(default_factory=CancelToken, repr=False)
    superseded: bool = False


class _LaneWorker(QObject):
    """Lives on a lane's thread; runs the jobs dispatched to it, one at a time."""

    started = Signal(int)
    progressed = Signal(int, object)
    concluded = Signal(int, str, object)  # job id, outcome, result or message

    @Slot(object)
    def run_job(self, job: _Job) -> None:
        if job.token.cancelled:
            self.concluded.emit(job.id, _CANCELLED, None)
            return
        self.started.emit(job.id)
        try:
            result = self._drive(job)
        except Cancelled:
            self.concluded.emit(job.id, _CANCELLED, None)
        except Exception as error:
            _log.exception("task %r failed", job.key)
            self.concluded.emit(job.id, _FAILED, describe_error(error))
        else:
            outcome = _CANCELLED if job.token.cancelled else _FINISHED
            self.concluded.emit(job.id, outcome, None if job.token.cancelled else result)

    def _drive(self, job: _Job) -> Any:
        """Iterate the job's generator, reporting each item; its return value (plain results pass)."""
        steps = job.work(job.token)
        if not inspect.isgenerator(steps):
            return steps
        while True:
            try:
                item = next(steps)
            except StopIteration as stop:
                return stop.value
            self.progressed.emit(job.id, item)
            if job.token.cancelled:
                steps.close()
                raise Cancelled("cancelled by the user")


class _Lane(QObject):
    """A thread and its worker; ``dispatch`` queues a job onto the worker's thread."""

    dispatch = Signal(object)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.thread = QThread()
        self.thread.setObjectName(f"irstudio-{name}")
        self.worker = _LaneWorker()
        self.worker.moveToThread(self.thread)
        self.dispatch.connect(self.worker.run_job)
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.start()


class TaskRunner(QObject):
    """Runs ``Work`` generators on serialized lanes and reports on the owner's (main) thread."""

    started = Signal(str)
    progressed = Signal(str, object)
    finished = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes: dict[str, _Lane] = {}
        self._jobs: dict[int, _Job] = {}  # submitted, not concluded (superseded ones included)
        self._current: dict[str, _Job] = {}  # the newest job per key
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, key: str, work: Work, *, lane: str = "device") -> None:
        """Queue ``work`` on ``lane`` under ``key``, superseding (cancelling) the key's older job."""
        if self._closed:
            raise RuntimeError("the task runner was shut down")
        older = self._current.get(key)
        if older is not None:
            older.superseded = True
            older.token.cancel()
        job = _Job(next(self._ids), key, lane, work)
        self._jobs[job.id] = job
        self._current[key] = job
        self._lane(lane).dispatch.emit(job)

    def cancel(self, key: str) -> bool:
        """Ask the key's job to stop (it reports ``cancelled``); False when the key has no job."""
        job = self._current.get(key)
        if job is None:
            return False
        job.token.cancel()
        return True

    def cancel_all(self, lane: str | None = None) -> None:
        """Ask every job (of ``lane``, when given) to stop."""
        for job in list(self._jobs.values()):
            if lane is None or job.lane == lane:
                job.token.cancel()

    def is_busy(self, key: str | None = None) -> bool:
        """True while ``key`` has a job not yet concluded; without a key, while any job has."""
        return key in self._current if key is not None else bool(self._jobs)

    def active_keys(self) -> list[str]:
        """Keys with a job not yet concluded, in submission order."""
        return list(self._current)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel all jobs, stop every lane and wait up to ``timeout_ms`` in all; True when all
        threads ended. Never terminates a thread; later submits raise ``RuntimeError``."""
        self._closed = True
        self.cancel_all()
        deadline = QDeadlineTimer(timeout_ms)
        for lane in self._lanes.values():
            lane.thread.quit()
        stopped = all(lane.thread.wait(deadline) for lane in self._lanes.values())
        for lane in self._lanes.values():
            if lane.thread.isRunning():  # destroying a running QThread aborts the process
                _UNFINISHED_LANES.append(lane)
        self._jobs.clear()
        self._current.clear()
        return stopped

    # ------------------------------------------------------------------ main-thread side

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            lane = _Lane(name)
            lane.worker.started.connect(self._on_started)
            lane.worker.progressed.connect(self._on_progressed)
            lane.worker.concluded.connect(self._on_concluded)
            self._lanes[name] = lane
        return lane

    def _listened(self, job_id: int) -> _Job | None:
        """The job if its reports still reach listeners (known and not superseded)."""
        job = self._jobs.get(job_id)
        return job if job is not None and not job.superseded else None

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        job = self._listened(job_id)
        if job is not None:
            self.started.emit(job.key)

    @Slot(int, object)
    def _on_progressed(self, job_id: int, item: object) -> None:
        job = self._listened(job_id)
        if job is not None and not job.token.cancelled:
            self.progressed.emit(job.key, item)

    @Slot(int, str, object)
    def _on_concluded(self, job_id: int, outcome: str, payload: object) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return
        if self._current.get(job.key) is job:
            del self._current[job.key]
        if job.superseded:
            return
        if outcome == _FINISHED:
            self.finished.emit(job.key, payload)
        elif outcome == _FAILED:
            self.failed.emit(job.key, str(payload))
        else:
            self.cancelled.emit(job.key)
