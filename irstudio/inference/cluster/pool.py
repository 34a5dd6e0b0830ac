"""A pool of Ray actors, each a ``RestoreWorker`` holding one loaded model, and the loop that feeds them.

Ray is imported lazily (``import_ray``): without it this module still imports, and asking for a
cluster raises ``ClusterError`` naming ``pip install irstudio[cluster]``.

Addresses (``check_address``): ``auto`` joins the running cluster (``RAY_ADDRESS``, or the one
``ray start`` made on this machine); ``local`` starts a private Ray on this computer (its node
address loopback: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` before Ray is imported); ``ray://HOST:PORT``
goes through Ray Client; ``HOST:PORT`` joins a cluster's GCS directly. A process already connected
to Ray keeps its connection (and the pool does not shut it down).

Shape (``pool_shape``): one worker per GPU (``num_gpus=1``, ``threads`` CPUs, default 1); without
GPUs (or ``device="cpu"``), workers of ``threads`` CPUs each (default ``min(4, largest node)``), as
many as the nodes hold. ``workers`` overrides the count: more workers than GPUs share them (each
``1/k`` of a GPU, ``k`` = workers per GPU rounded up), so one worker's decoding and PNG encoding
on its CPU overlaps another's model on the GPU; workers beyond what the cluster holds wait for
resources (which an autoscaler then adds). A CPU worker sets torch's thread count to its CPUs.

Feeding (``ClusterPool.run``): one call in flight per worker. A worker whose process dies (a crash,
the out-of-memory killer, a lost node) is restarted by Ray (``max_restarts``) and reloads its model;
the work it held goes back to the queue with its attempt count raised (``max_task_retries`` is 0:
the pool retries, so that it knows the attempt and can stop): a unit of several payloads is split
into one unit per payload, so the one that kills workers is isolated; a payload lost
``MAX_ATTEMPTS`` times is given up (``LOST``). A worker that died more often than it may restart
is dropped; with none left the run stops (``ClusterError``). An exception raised by the work itself
(a bug, a setup error) stops the run and is raised as the original exception. Leaving the pool
(``close``, also on cancel or any error) kills its workers: a file being written then leaves at
most a hidden temporary, removed by the next write of that output (``core.atomic``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.inference.cluster.worker import RestoreWorker, WorkerInfo, WorkerSetup

__all__ = [
    "AUTO",
    "INSTALL_HINT",
    "LOCAL",
    "LOST",
    "MAX_ATTEMPTS",
    "SENT",
    "ClusterError",
    "ClusterPool",
    "PoolShape",
    "Unit",
    "check_address",
    "import_ray",
    "pool_shape",
    "ray_installed",
]

AUTO = "auto"
LOCAL = "local"
INSTALL_HINT = "pip install irstudio[cluster]"
MAX_ATTEMPTS = 3
"""Times a payload may be lost with its worker before it is given up."""
MAX_RESTARTS = 8
"""Times Ray restarts each worker's process."""
DEFAULT_CPU_THREADS = 4
WAIT_SECONDS = 0.25
"""How often the feeding loop looks at the cancel token while it waits."""
LOST = object()
"""The result ``ClusterPool.run`` gives a unit whose payload was lost ``MAX_ATTEMPTS`` times."""
SENT = object()
"""What ``ClusterPool.run`` gives a unit it has just sent to a worker (before its result)."""

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$")


class ClusterError(Exception):
    """Ray is missing or unreachable, the cluster cannot hold a worker, or every worker died."""


def import_ray(address: str = AUTO) -> ModuleType:
    """The ``ray`` module; raises ``ClusterError`` naming the extra when it is not installed. For a
    ``local`` cluster started by this process, Ray's node address is loopback (set before import)."""
    if address == LOCAL and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as error:
        raise ClusterError(f"running on a Ray cluster needs Ray: {INSTALL_HINT} ({error})") from None
    return ray


def ray_installed() -> bool:
    """Whether Ray can be imported (looked up, not imported: cheap)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # a broken install, or ray set to None in sys.modules
        return False


def check_address(text: str) -> str:
    """``text`` when it is ``auto``, ``local``, ``ray://HOST:PORT`` or ``HOST:PORT``; else ValueError."""
    value = text.strip()
    if value in (AUTO, LOCAL) or (value.startswith("ray://") and len(value) > 6) or _HOST_PORT.match(value):
        return value
    raise ValueError(f"expected auto, local, ray://HOST:PORT or HOST:PORT, got {text!r}")


@dataclass(frozen=True)
class PoolShape:
    """How many workers, and what each asks Ray for: ``cpus`` (also its torch threads on a CPU
    worker) and ``gpus`` (0, 1, or a share ``1/k`` of one)."""

    workers: int
    cpus: int
    gpus: float

    def describe(self) -> str:
        share = "1 GPU" if self.gpus == 1 else f"1/{round(1 / self.gpus)} GPU" if self.gpus else ""
        kind = f"{share} and {self.cpus} CPU" if share else f"{self.cpus} CPU"
        return f"{self.workers} worker{'s' if self.workers != 1 else ''} of {kind} each"


def pool_shape(
    nodes: Sequence[Mapping[str, float]],
    *,
    device: str = AUTO,
    workers: int | None = None,
    threads: int | None = None,
) -> PoolShape:
    """The pool for alive ``nodes`` (each its Ray resources, e.g. ``{"CPU": 16, "GPU": 2}``); see
    the module doc. Raises ``ClusterError`` when no node has a CPU or ``threads`` exceeds every
    node's CPUs."""
    gpus = sum(int(node.get("GPU", 0)) for node in nodes) if device != "cpu" else 0
    if gpus:
        count = workers or gpus
        return PoolShape(count, threads or 1, 1 / math.ceil(count / gpus) if count > gpus else 1)
    cpus = [int(node.get("CPU", 0)) for node in nodes]
    if not cpus or max(cpus) < 1:
        raise ClusterError("the cluster has no CPU to run a worker on")
    per_worker = threads or min(DEFAULT_CPU_THREADS, max(cpus))
    if per_worker > max(cpus):
        largest = max(cpus)
        raise ClusterError(f"a worker of {per_worker} threads fits no node (the largest has {largest} CPUs)")
    return PoolShape(workers or max(1, sum(count // per_worker for count in cpus)), per_worker, 0)


@dataclass(frozen=True)
class Unit:
    """Work for one call: ``payload`` (items, or benchmark indices) and the ``attempt`` it is on."""

    payload: tuple[Any, ...]
    attempt: int = 1


@dataclass
class _Worker:
    handle: Any
    deaths: int = 0
    info: WorkerInfo | None = None


@dataclass
class _Feed:
    """The loop's state: units to send, calls in flight (ref -> worker, unit or None for ready())."""

    queue: deque[Unit]
    in_flight: dict[Any, tuple[_Worker, Unit | None]] = field(default_factory=dict)
    idle: list[_Worker] = field(default_factory=list)


class ClusterPool:
    """Workers on a Ray cluster (see the module doc). A context manager: entering connects and
    starts the workers (their models load in the background), leaving kills them and disconnects
    when this pool connected.

    ``worker_class``: ``RestoreWorker`` or a subclass (its module importable on every node).
    """

    def __init__(
        self,
        address: str,
        setup: WorkerSetup,
        *,
        workers: int | None = None,
        threads: int | None = None,
        worker_class: type[RestoreWorker] = RestoreWorker,
        max_restarts: int = MAX_RESTARTS,
    ) -> None:
        self.address = check_address(address)
        self.setup = setup
        self._workers_wanted = workers
        self._threads = threads
        self._worker_class = worker_class
        self._max_restarts = max_restarts
        self._ray: ModuleType | None = None
        self._connected_here = False
        self._workers: list[_Worker] = []
        self._starting: dict[Any, _Worker] = {}
        self.shape: PoolShape | None = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> ClusterPool:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect, size the pool from the alive nodes, start the workers and ask each to load its
        model (``ready``). Raises ``ClusterError`` when Ray is missing or unreachable."""
        ray = self._ray = import_ray(self.address)
        self._connect(ray)
        try:
            nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
            self.shape = pool_shape(
                nodes, device=self.setup.device, workers=self._workers_wanted, threads=self._threads
            )
            setup = self.setup if self.shape.gpus else replace(self.setup, threads=self.shape.cpus)
            actor = ray.remote(self._worker_class).options(
                num_cpus=self.shape.cpus,
                num_gpus=self.shape.gpus,
                max_restarts=self._max_restarts,
                max_task_retries=0,
            )
            for _ in range(self.shape.workers):
                worker = _Worker(actor.remote(setup))
                self._workers.append(worker)
                self._starting[worker.handle.ready.remote()] = worker
        except BaseException:
            self.close()
            raise

    def _connect(self, ray: ModuleType) -> None:
        if ray.is_initialized():
            return
        options: dict[str, Any] = {}
        if not self.address.startswith("ray://"):  # Ray Client takes none of these
            options.update(logging_level=logging.WARNING, log_to_driver=True)
        if self.address == LOCAL:
            options["include_dashboard"] = False
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ClusterError(f"cannot reach a Ray cluster at {self.address!r}: {error}") from error
        self._connected_here = True

    def close(self) -> None:
        """Kill the workers (no restart) and disconnect when this pool connected. Idempotent."""
        ray = self._ray
        if ray is None:
            return
        for worker in self._workers:
            # already gone, or the connection is lost: nothing left to stop
            with contextlib.suppress(Exception):
                ray.kill(worker.handle, no_restart=True)
        self._workers.clear()
        self._starting.clear()
        if self._connected_here:
            ray.shutdown()
            self._connected_here = False
        self._ray = None

    # ------------------------------------------------------------------ what it runs on

    @property
    def size(self) -> int:
        """Workers started (ready or still loading)."""
        return len(self._workers)

    def infos(self) -> list[WorkerInfo]:
        """The workers that reported ready so far."""
        return [worker.info for worker in self._workers if worker.info is not None]

    def wait_ready(self, cancel: CancelToken = NEVER_CANCELLED, *, every: bool = False) -> list[WorkerInfo]:
        """Wait until one worker (``every``: each) has loaded its model, the others going on in the
        background; the infos of those ready. Raises the worker's own exception when loading fails
        (unknown model, bad weights), ``ClusterError`` when no worker is left."""
        feed = _Feed(deque())
        feed.in_flight.update({ref: (worker, None) for ref, worker in self._starting.items()})
        self._starting.clear()
        feed.idle.extend(worker for worker in self._workers if worker.info is not None)
        while not feed.idle or (every and feed.in_flight):
            self._check_alive(feed)
            for _ in self._completions(feed, cancel):
                pass
        self._starting.update({ref: worker for ref, (worker, _unit) in feed.in_flight.items()})
        return self.infos()

    def describe(self) -> str:
        """E.g. ``"2 workers of 1 CPU each (2 ready): cpu x1 threads: backend eager, fp32, tile 1024"``."""
        infos = self.infos()
        plans = sorted({f"{info.device}: {info.plan}" for info in infos})
        shape = self.shape.describe() if self.shape else "no workers"
        return f"{shape} ({len(infos)} ready): " + "; ".join(plans)

    # ------------------------------------------------------------------ feeding

    def run(
        self,
        units: Sequence[Unit],
        submit: Callable[[Any, Unit], Any],
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> Iterator[tuple[Unit, Any]]:
        """Send each unit to a free worker (``submit(handle, unit)`` makes the Ray call and returns
        its ObjectRef); yields ``(unit, SENT)`` when it is sent, ``(unit, result)`` as its call
        finishes (in no fixed order), and ``(unit, LOST)`` for a payload lost ``MAX_ATTEMPTS``
        times. A retried unit is a new ``Unit`` (one payload, a higher attempt), sent again. Checks
        ``cancel`` between waits and raises ``Cancelled`` (the caller then closes the pool)."""
        feed = _Feed(deque(units))
        feed.in_flight.update({ref: (worker, None) for ref, worker in self._starting.items()})
        self._starting.clear()
        feed.idle.extend(w for w in self._workers if w.info is not None and not self._busy(feed, w))
        while feed.queue or any(unit is not None for _worker, unit in feed.in_flight.values()):
            cancel.raise_if_cancelled()
            while feed.queue and feed.idle:
                worker, unit = feed.idle.pop(), feed.queue.popleft()
                feed.in_flight[submit(worker.handle, unit)] = (worker, unit)
                yield unit, SENT
            self._check_alive(feed)
            yield from self._completions(feed, cancel)
        self._starting.update({ref: worker for ref, (worker, _unit) in feed.in_flight.items()})

    @staticmethod
    def _busy(feed: _Feed, worker: _Worker) -> bool:
        return any(busy is worker for busy, _unit in feed.in_flight.values())

    def _check_alive(self, feed: _Feed) -> None:
        if not self._workers:
            raise ClusterError(
                "every worker died more often than it may be restarted; see the Ray logs "
                "(ray logs, or /tmp/ray/session_latest/logs on each node)"
            )
        if not feed.in_flight and not feed.idle:
            raise ClusterError("no worker is running")

    def _completions(self, feed: _Feed, cancel: CancelToken) -> Iterator[tuple[Unit, Any]]:
        """Wait up to ``WAIT_SECONDS`` for calls to finish; handle each (see ``run``)."""
        ray = self._ray
        assert ray is not None, "the pool is not open"
        done, rest = ray.wait(list(feed.in_flight), num_returns=1, timeout=WAIT_SECONDS)
        if done and rest:  # and whatever else finished meanwhile
            done += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        for ref in done:
            cancel.raise_if_cancelled()
            worker, unit = feed.in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except _lost_errors(ray):
                yield from self._lose(feed, worker, unit)
                continue
            except ray.exceptions.RayTaskError as error:
                raise _original(error) from error
            if unit is None:
                worker.info = result
            else:
                yield unit, result
            feed.idle.append(worker)

    def _lose(self, feed: _Feed, worker: _Worker, unit: Unit | None) -> Iterator[tuple[Unit, Any]]:
        """``worker`` died holding ``unit``: count the death, queue the unit again (split, with a
        higher attempt) or give it up, and ask the restarted worker to load its model."""
        worker.deaths += 1
        if worker.deaths > self._max_restarts:
            self._workers = [w for w in self._workers if w is not worker]
        else:
            feed.in_flight[worker.handle.ready.remote()] = (worker, None)
            worker.info = None
        if unit is None:
            return
        for payload in unit.payload:
            retry = Unit((payload,), unit.attempt + 1)
            if retry.attempt > MAX_ATTEMPTS:
                yield retry, LOST
            else:
                feed.queue.appendleft(retry)


def _lost_errors(ray: ModuleType) -> tuple[type[BaseException], ...]:
    """Ray's errors for work lost with its process or node (as opposed to an error it raised)."""
    errors = ray.exceptions
    return (
        errors.RayActorError,
        errors.WorkerCrashedError,
        errors.OutOfMemoryError,
        errors.NodeDiedError,
        errors.ObjectLostError,
    )


def _original(error: Any) -> BaseException:
    """The exception a worker raised (``RayTaskError.cause``), so callers see e.g. the original
    ``WeightsError`` with its one-line message; the Ray error itself when there is none."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error
