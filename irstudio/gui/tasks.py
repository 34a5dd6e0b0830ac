"""Run long work off the main thread: generators on one serialized worker thread per lane.

``TaskRunner.submit(key, work, lane=Lane.DEVICE)`` calls ``work(token)`` on the lane's thread,
iterates the generator it returns and gives back a ``JobHandle``: that job's own reports, which no
other job emits. Each yielded item is reported as ``handle.progress(item)``; the generator's return
value as ``handle.result(value)``; an exception as ``handle.error(message)`` (a user-facing
sentence; the traceback goes to the log); a cancellation as ``handle.cancelled()``. ``started()``
comes when the job leaves its lane's queue; ``finished()`` after whichever of ``result``/``error``/
``cancelled`` ended it (exactly one of them). Every handle signal is emitted on the thread that owns
the runner (the main thread; the lanes reach it through queued connections), so slots may touch
widgets. Connect to the handle right after ``submit``: nothing is reported before control returns to
the event loop.

Handles: ``handle.key``, ``handle.lane``, ``handle.cancel()``, ``handle.superseded``,
``handle.concluded``. The runner keeps a handle until its job concludes; whoever wants it later
(to cancel it) keeps a reference. ``job(key)`` is the newest unconcluded job's handle of a key.

Lanes: one ``QThread`` per ``Lane``, created on first use; jobs of a lane run one after the other in
submission order (``Lane.DEVICE`` is the compute lane for the GPU/CPU, ``Lane.IO`` for file work,
``Lane.THUMBNAILS`` for the folder strip, …; see ``Lane``). A lane's thread never runs two jobs at
once.

Supersession: a ``submit`` with a key that already has a pending or running job cancels that job's
token; the superseded job is silent from then on (its handle emits nothing more, ``finished``
included, and says ``superseded``), so reports for a key always belong to its newest job. A
superseded job that had not started yet is skipped without calling ``work``.

Cancellation is cooperative: ``handle.cancel()`` (or ``cancel(key)``: the key's newest job) sets the
job's ``CancelToken``; the work checks it (``raise_if_cancelled``) and the runner also checks it
after every yielded item and closes the generator, so work stops at its next yield at the latest.
Items yielded after the token was set are not reported. A job whose token was set is reported as
``cancelled`` even if its generator returned, and its result is dropped. Threads are never
terminated: ``shutdown(timeout_ms)`` cancels everything, stops the lanes' event loops and waits;
handles of jobs that had not concluded emit nothing after it.

No signal of the runner broadcasts a job's news: whoever submits a job hears it through its handle.
What spans jobs is asked, not broadcast: ``is_busy``, ``active_keys``, ``job(key)`` (e.g. the run
controller counts its own unconcluded handles for "n more queued" and to end the progress bar).

``work`` must not touch widgets or ``AppState``: give it an immutable snapshot of what it needs.
"""

from __future__ import annotations

import inspect
import itertools
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal, Slot

from irstudio.core import Cancelled, CancelToken, DeviceError, is_out_of_memory
from irstudio.core.image_io import ImageError
from irstudio.models import WeightsError

__all__ = ["JobHandle", "Lane", "TaskRunner", "Work", "describe_error"]

_log = logging.getLogger(__name__)

Work = Callable[[CancelToken], Generator[Any, None, Any]]
"""A unit of long work: called with its cancel token on a worker thread; returns a generator."""

_FINISHED, _FAILED, _CANCELLED = "finished", "failed", "cancelled"

_UNFINISHED_LANES: list[_LaneThread] = []
"""Lanes whose thread outlived ``shutdown``'s wait: kept referenced until the process exits."""


class Lane(str, Enum):
    """The runner's lanes: one worker thread each, its jobs one after another. A lane of its own
    keeps long work from blocking, or being cancelled with, the interactive work of another."""

    DEVICE = "device"
    """Interactive compute: restorations, previews, optimising, Inside maps (Esc cancels it)."""
    BATCH = "batch"
    """Folder restorations (hours)."""
    TRAINING = "training"
    """Fine-tuning runs (hours)."""
    GROUND_TRUTH = "ground-truth"
    """Degrading the photo and scoring results against it."""
    IO = "io"
    """File work: opening, saving, training exports."""
    THUMBNAILS = "thumbnails"
    """The folder strip's thumbnails."""
    PREVIEW = "preview"
    """Training-pair previews of the Training panel."""
    SELF_TEST = "self-test"
    """Help → Run self-test."""


def describe_error(error: BaseException) -> str:
    """A sentence for the user: the message of our own errors, advice for out-of-memory."""
    if is_out_of_memory(error):
        return f"Out of memory: {error}. Try a smaller tile size, another device or a smaller model."
    if isinstance(error, ImageError | WeightsError | DeviceError | ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


@dataclass(eq=False)
class _Job:
    """What a lane's worker gets: no Qt object (the handle stays on the main thread)."""

    id: int
    key: str
    lane: Lane
    work: Work = field(repr=False)
    token: CancelToken = field(default_factory=CancelToken, repr=False)


class JobHandle(QObject):
    """One submitted job as the main thread sees it; only this job emits these signals (see the
    module docstring for their order). Created by ``TaskRunner.submit`` on the runner's thread."""

    started = Signal()
    progress = Signal(object)  # a yielded item
    result = Signal(object)  # the work's return value
    error = Signal(str)  # a sentence for the user
    cancelled = Signal()
    finished = Signal()  # after result, error or cancelled

    def __init__(self, job: _Job) -> None:
        super().__init__()
        self._id, self._key, self._lane, self._token = job.id, job.key, job.lane, job.token
        self._superseded = False  # (the work itself is not kept: its snapshot may be large)
        self._concluded = False

    def __repr__(self) -> str:
        return f"JobHandle(key={self._key!r}, lane={self._lane.value!r}, id={self._id})"

    @property
    def key(self) -> str:
        return self._key

    @property
    def lane(self) -> Lane:
        return self._lane

    @property
    def superseded(self) -> bool:
        """True once a newer job with the same key replaced this one (it is silent then)."""
        return self._superseded

    @property
    def concluded(self) -> bool:
        """True once ``result``, ``error`` or ``cancelled`` was emitted."""
        return self._concluded

    def cancel(self) -> bool:
        """Ask this job to stop: it reports ``cancelled`` (unless it was superseded); False when
        it had already concluded (nothing happens then)."""
        if self._concluded:
            return False
        self._token.cancel()
        return True


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


class _LaneThread(QObject):
    """A lane's thread and its worker; ``dispatch`` queues a job onto the worker's thread."""

    dispatch = Signal(object)

    def __init__(self, lane: Lane) -> None:
        super().__init__()
        self.thread = QThread()
        self.thread.setObjectName(f"irstudio-{lane.value}")
        self.worker = _LaneWorker()
        self.worker.moveToThread(self.thread)
        self.dispatch.connect(self.worker.run_job)
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.start()


class TaskRunner(QObject):
    """Runs ``Work`` generators on serialized lanes; each job reports through its ``JobHandle`` on
    the owner's (main) thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes: dict[Lane, _LaneThread] = {}
        self._jobs: dict[int, JobHandle] = {}  # submitted, not concluded (superseded ones included)
        self._current: dict[str, JobHandle] = {}  # the newest job per key
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, key: str, work: Work, *, lane: Lane = Lane.DEVICE) -> JobHandle:
        """Queue ``work`` on ``lane`` under ``key``, superseding (cancelling, silencing) the key's
        older job; returns the new job's handle. Call on the runner's thread. A lane's value string
        is taken for the lane; any other lane raises ``ValueError``; ``RuntimeError`` after
        ``shutdown``."""
        if self._closed:
            raise RuntimeError("the task runner was shut down")
        lane = Lane(lane)
        older = self._current.get(key)
        if older is not None:
            older._superseded = True
            older._token.cancel()
        job = _Job(next(self._ids), key, lane, work)
        handle = JobHandle(job)
        self._jobs[job.id] = handle
        self._current[key] = handle
        self._lane(lane).dispatch.emit(job)
        return handle

    def job(self, key: str) -> JobHandle | None:
        """The handle of ``key``'s newest job while it has not concluded, else None."""
        return self._current.get(key)

    def cancel(self, key: str) -> bool:
        """Ask the key's newest job to stop (it reports ``cancelled``); False when the key has none."""
        handle = self._current.get(key)
        return handle is not None and handle.cancel()

    def cancel_all(self, lane: Lane | None = None) -> None:
        """Ask every job (of ``lane``, when given) to stop."""
        lane = Lane(lane) if lane is not None else None
        for handle in list(self._jobs.values()):
            if lane is None or handle.lane is lane:
                handle._token.cancel()

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

    def _lane(self, lane: Lane) -> _LaneThread:
        thread = self._lanes.get(lane)
        if thread is None:
            thread = _LaneThread(lane)
            thread.worker.started.connect(self._on_started)
            thread.worker.progressed.connect(self._on_progressed)
            thread.worker.concluded.connect(self._on_concluded)
            self._lanes[lane] = thread
        return thread

    def _listened(self, job_id: int) -> JobHandle | None:
        """The job's handle if its reports still reach listeners (known and not superseded)."""
        handle = self._jobs.get(job_id)
        return handle if handle is not None and not handle.superseded else None

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        handle = self._listened(job_id)
        if handle is not None:
            handle.started.emit()

    @Slot(int, object)
    def _on_progressed(self, job_id: int, item: object) -> None:
        handle = self._listened(job_id)
        if handle is not None and not handle._token.cancelled:
            handle.progress.emit(item)

    @Slot(int, str, object)
    def _on_concluded(self, job_id: int, outcome: str, payload: object) -> None:
        handle = self._jobs.pop(job_id, None)  # held here while its slots run
        if handle is None:
            return
        if self._current.get(handle.key) is handle:
            del self._current[handle.key]
        if handle.superseded:
            return
        handle._concluded = True
        if outcome == _FINISHED:
            handle.result.emit(payload)
        elif outcome == _FAILED:
            handle.error.emit(str(payload))
        else:
            handle.cancelled.emit()
        handle.finished.emit()
