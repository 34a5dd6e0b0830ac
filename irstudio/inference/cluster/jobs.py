"""A batch and a benchmark, spread over a ``ClusterPool``: the local batch's and eval's contracts, kept.

``run_on_cluster(pool, items, cancel, journal=...)`` is ``batch.run_batch`` on many workers. The
driver (this process) plans nothing new and never opens an image: it prechecks every item with
the same ``BatchLedger`` (unlisted folders fail; existing outputs are skipped, "done in an earlier
run" when the journal says so), sends the rest in units of a few files (``files_per_unit``), and
records each outcome as it comes back: the same journal lines, appended by the driver alone, so a
rerun skips what is done and retries what failed, exactly as after a local batch. Events: the
prechecked items' ``SKIPPED``/``FAILED`` first; then, as units are sent to workers, one ``STARTED``
per unit (naming its first item; the first one's ``total - finished`` is how many are left to
restore) and each item's ``WRITTEN``/``SKIPPED``/``FAILED`` in the order units finish (no
``PROGRESS``: tiles are counted on the workers); ``index`` is the item's place in ``items``. An
item whose worker died ``MAX_ATTEMPTS`` times is ``FAILED`` (and journalled, so a rerun tries it
again). Cancel: checked between waits; ``Cancelled`` propagates and the caller closes the pool,
which kills the workers: a file one of them published just before is kept (complete) but not
journalled, so a rerun skips it as "output exists"; one being written leaves nothing but a hidden
temporary, removed by the next write of that output.

``evaluate_on_cluster(pool, cases, protocol)`` is ``evaluation.evaluate`` on many workers: each
case is degraded with its own index's seed, so the scores equal the local run's; they are yielded
in benchmark order.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.inference.batch import (
    BatchEvent,
    BatchEventKind,
    BatchItem,
    BatchLedger,
    BatchReport,
    BatchRequest,
    ItemOutcome,
    journal_path,
    plan_batch,
)
from irstudio.inference.cluster.pool import LOST, MAX_ATTEMPTS, SENT, ClusterError, ClusterPool, Unit
from irstudio.inference.evaluation import EvalCase, EvalProtocol, EvalSummary, ImageScore

__all__ = [
    "MAX_FILES_PER_UNIT",
    "evaluate_on_cluster",
    "files_per_unit",
    "run_cluster_request",
    "run_on_cluster",
    "units_of",
]

MAX_FILES_PER_UNIT = 16
UNITS_PER_WORKER = 8
"""Aim for at least this many units per worker, so the last ones do not leave workers idle."""


def files_per_unit(count: int, workers: int) -> int:
    """Items per unit for ``count`` items on ``workers``: 1 for small batches, up to
    ``MAX_FILES_PER_UNIT`` (fewer calls for millions of files) while each worker still gets about
    ``UNITS_PER_WORKER`` units."""
    return max(1, min(MAX_FILES_PER_UNIT, count // max(1, workers * UNITS_PER_WORKER)))


def units_of(indices: Sequence[int], size: int) -> list[Unit]:
    """``indices`` in order, cut into units of ``size`` (the last one shorter)."""
    count = math.ceil(len(indices) / size) if indices else 0
    return [Unit(tuple(indices[n * size : (n + 1) * size])) for n in range(count)]


def run_on_cluster(
    pool: ClusterPool,
    items: Sequence[BatchItem],
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    journal: Path | None = None,
    unit_size: int | None = None,
) -> Generator[BatchEvent, None, BatchReport]:
    """Restore ``items`` on ``pool``'s workers; yields ``BatchEvent``s, returns the ``BatchReport``
    (see the module doc). Raises ``BatchError`` for a journal that cannot be written (before any
    work), ``ClusterError`` when every worker died, and what a worker's setup raises."""
    ledger = BatchLedger(len(items), journal)
    todo = []
    for index, item in enumerate(items):
        skipped = ledger.precheck(index, item)
        if skipped is None:
            todo.append(index)
        else:
            yield skipped
    units = units_of(todo, unit_size or files_per_unit(len(todo), pool.size))

    def submit(worker: Any, unit: Unit) -> Any:  # a Ray actor handle; its ObjectRef
        return worker.restore.remote([items[index] for index in unit.payload], unit.attempt)

    for unit, result in pool.run(units, submit, cancel):
        first = unit.payload[0]
        if result is SENT:
            yield ledger.event(BatchEventKind.STARTED, first, items[first])
        elif result is LOST:
            yield ledger.finish(first, items[first], _lost_outcome())
        else:
            for index, outcome in zip(unit.payload, result, strict=True):
                yield ledger.finish(index, items[index], outcome)
    return ledger.report()


def run_cluster_request(
    pool: ClusterPool, request: BatchRequest, cancel: CancelToken = NEVER_CANCELLED
) -> Generator[BatchEvent, None, BatchReport]:
    """Plan ``request`` and run it on ``pool`` with its journal in the output folder (what the
    GUI's batch dialog submits for a cluster; ``batch.run_batch_request`` here)."""
    items = plan_batch(request.input_dir, request.output_dir, request.model_id, recursive=request.recursive)
    report = yield from run_on_cluster(pool, items, cancel, journal=journal_path(request.output_dir))
    return report


def _lost_outcome() -> ItemOutcome:
    reason = (
        f"its worker died {MAX_ATTEMPTS} times restoring it (a crash, or the node ran out of memory); "
        "a rerun tries it again"
    )
    return ItemOutcome(BatchEventKind.FAILED, reason)


def evaluate_on_cluster(
    pool: ClusterPool,
    cases: Sequence[EvalCase],
    protocol: EvalProtocol,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Generator[ImageScore, None, EvalSummary]:
    """Score ``cases`` on ``pool``'s workers; yields each ``ImageScore`` in benchmark order, returns
    the ``EvalSummary`` (equal to ``evaluation.evaluate``'s on the same plan). Raises
    ``ClusterError`` when a case's worker died ``MAX_ATTEMPTS`` times."""
    units = units_of(range(len(cases)), files_per_unit(len(cases), pool.size))
    scores: dict[int, ImageScore] = {}
    shown = 0

    def submit(worker: Any, unit: Unit) -> Any:
        return worker.score.remote([(index, cases[index]) for index in unit.payload], protocol)

    for unit, result in pool.run(units, submit, cancel):
        if result is SENT:
            continue
        if result is LOST:
            name = cases[unit.payload[0]].name
            raise ClusterError(f"{name}: its worker died {MAX_ATTEMPTS} times scoring it")
        scores.update(zip(unit.payload, result, strict=True))
        while shown in scores:
            yield scores[shown]
            shown += 1
    return EvalSummary(protocol.describe(), tuple(scores[index] for index in range(len(cases))))
