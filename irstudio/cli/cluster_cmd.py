"""``--cluster``: ``irstudio restore`` and ``irstudio eval`` on a Ray cluster (``inference.cluster``).

``irstudio restore INPUT... --out OUT --cluster [auto|local|ray://HOST:PORT|HOST:PORT]`` restores
what the local command would, into the same outputs, with the same journal per output folder (a
rerun skips what is done and retries what failed), on a pool of workers each holding one loaded
model; ``--workers N`` and ``--worker-threads N`` shape it (default: one per GPU, or one per 4 CPUs).
The driver (this process) never loads the model nor opens an image: it needs Ray and the paths,
which must be the same on every node (a shared file system). ``--device`` is each worker's: auto
(the GPU Ray gave it, else the CPU), cuda or cpu; ``--tile``, ``--precision``, ``--backend`` and
``--weights`` (a path every node sees) apply on every worker. Outputs are never overwritten
(``--overwrite`` does not apply). Progress: one line per batch on stderr, restored/to restore,
files/s, ETA and failures; each failure is also an ``irstudio: error:`` line; exit 1 if any failed.

``irstudio eval ... --cluster ...`` scores the benchmark on the workers; its table and ``--json``
are the local command's (same numbers; ``plan`` is the workers' plan).

Without Ray installed ``--cluster`` is one line naming ``pip install irstudio[cluster]`` (exit 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import TextIO

from irstudio import paths
from irstudio.cli.arguments import POSITIVE
from irstudio.cli.progress import ProgressLine
from irstudio.inference.batch import (
    BatchError,
    BatchEvent,
    BatchEventKind,
    BatchItem,
    BatchReport,
    journal_path,
    plan_batch,
)
from irstudio.inference.cluster import (
    AUTO,
    ClusterPool,
    WorkerSetup,
    check_address,
    import_ray,
    run_on_cluster,
)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cluster [ADDRESS]``, ``--workers``, ``--worker-threads`` (restore and eval)."""
    parser.add_argument(
        "--cluster",
        nargs="?",
        const=AUTO,
        default=None,
        type=_address,
        metavar="ADDRESS",
        help="run on a Ray cluster (pip install irstudio[cluster]): auto (the running cluster; the default "
        "when no address is given), local (a Ray started on this computer), ray://HOST:PORT (Ray Client) "
        "or HOST:PORT; inputs and outputs must be paths every node sees",
    )
    parser.add_argument(
        "--workers",
        type=POSITIVE,
        default=None,
        help="with --cluster: how many workers (default: one per GPU, else the CPUs / --worker-threads)",
    )
    parser.add_argument(
        "--worker-threads",
        type=POSITIVE,
        default=None,
        help="with --cluster: CPUs (and torch threads) per worker (default: 4 on CPU nodes, 1 beside a GPU)",
    )


def _address(text: str) -> str:
    try:
        return check_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def worker_setup(args: argparse.Namespace, *, fp32_on_cpu: bool = False) -> WorkerSetup:
    """What every worker loads, from the command line's model and plan options."""
    return WorkerSetup(
        model_id=args.model,
        scale=args.scale,
        library_dir=paths.user_library_dir(),
        weights=args.weights.resolve() if args.weights is not None else None,
        device=args.device,
        tile=args.tile,
        context=args.overlap,
        precision=None if args.precision == AUTO else args.precision,
        backend=None if args.backend == AUTO else args.backend,
        fp32_on_cpu=fp32_on_cpu,
    )


def open_pool(args: argparse.Namespace, *, fp32_on_cpu: bool = False) -> ClusterPool:
    """The pool ``args`` ask for, not yet open (``with`` it). Raises ``ClusterError`` at once when
    Ray is not installed."""
    import_ray(args.cluster)
    return ClusterPool(
        args.cluster,
        worker_setup(args, fp32_on_cpu=fp32_on_cpu),
        workers=args.workers,
        threads=args.worker_threads,
    )


def plan_description(pool: ClusterPool) -> str:
    """The workers' plan (``AutoPlan.describe()``); several joined by "; " when nodes differ."""
    return "; ".join(sorted({info.plan for info in pool.infos()}))


def restore(
    args: argparse.Namespace,
    model_id: str,
    folders: Mapping[Path, Path],
    files: Mapping[Path, Path],
    failures: int,
) -> int:
    """Restore ``folders`` (folder → output folder) and loose ``files`` (source → output) on the
    cluster; the exit code (1 when ``failures`` or any file failed)."""
    with open_pool(args) as pool:
        if args.overwrite:
            print("--overwrite does not apply with --cluster; existing outputs are skipped", file=sys.stderr)
        pool.wait_ready()
        print(f"{model_id} on the cluster: {pool.describe()}", file=sys.stderr)
        for folder, out_dir in folders.items():
            failures += _restore_folder(pool, folder, out_dir, model_id, recursive=args.recursive)
        if files:
            items = [
                BatchItem(source.resolve(), target.resolve(), str(source), model_id)
                for source, target in files.items()
            ]
            failures += _run(pool, items, None, "files")
    return 1 if failures else 0


def _restore_folder(pool: ClusterPool, folder: Path, out_dir: Path, model_id: str, *, recursive: bool) -> int:
    """One folder's batch on the cluster, with its journal; the number that failed."""
    try:
        items = plan_batch(folder, out_dir, model_id, recursive=recursive)
        print(f"{folder}: {len(items)} images → {out_dir}", file=sys.stderr)
        return _run(pool, items, journal_path(out_dir), str(folder))
    except BatchError as error:  # refused before any file was restored (the journal, the folders)
        print(f"irstudio: error: {error}", file=sys.stderr)
        return 1


def _run(pool: ClusterPool, items: list[BatchItem], journal: Path | None, label: str) -> int:
    """Run ``items``, showing one progress line; prints the summary and failures, returns their count."""
    progress = ClusterProgress(label)
    report = drain(run_on_cluster(pool, items, journal=journal), progress.show)
    progress.finish()
    print(f"{label}: {report.summary()}", file=sys.stderr)
    for failure in report.failed:
        print(f"  failed: {failure.relative}: {failure.reason}", file=sys.stderr)
    return len(report.failed)


def drain(batch: Generator[BatchEvent, None, BatchReport], show) -> BatchReport:
    """Pass every event of ``batch`` to ``show``; the report it returns."""
    while True:
        try:
            event = next(batch)
        except StopIteration as finished:
            return finished.value
        show(event)


class ClusterProgress:
    """One line for a batch on the cluster: ``label [####....] restored/to restore  ETA  files/s,
    failed``. Items skipped before the start (outputs that exist) are counted once, not listed;
    each failure is an ``irstudio: error:`` line above the bar."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._bar: ProgressLine | None = None
        self._todo = 0
        self._done = 0
        self._failed = 0
        self._skipped = 0
        self._started = 0.0

    def show(self, event: BatchEvent) -> None:
        """Take one event of ``run_on_cluster``."""
        if event.kind is BatchEventKind.FAILED:
            self.stream.write(f"\rirstudio: error: {event.item.source}: {event.message}".ljust(80) + "\n")
        if event.kind is BatchEventKind.STARTED:
            if self._bar is None:
                self._start(event)
            return
        if self._bar is None:  # prechecked: skipped (exists) or failed (an unlisted folder)
            self._skipped += event.kind is BatchEventKind.SKIPPED
            return
        self._done += 1
        self._failed += event.kind is BatchEventKind.FAILED
        self._bar.update(self._done, self._todo, note=f"{self.rate():.2f} files/s, {self._failed} failed")

    def _start(self, event: BatchEvent) -> None:
        if self._skipped:
            self.stream.write(f"{self.label}: {self._skipped} outputs exist, skipped\n")
        self._todo = event.total - event.finished
        self._started = time.monotonic()
        self._bar = ProgressLine(self.label, self.stream)

    def rate(self) -> float:
        """Files finished per second since the first was sent."""
        elapsed = time.monotonic() - self._started
        return self._done / elapsed if elapsed > 0 else 0.0

    def finish(self) -> None:
        """End the line: files done, their rate and failures."""
        if self._bar is not None:
            self._bar.finish(f"{self._done} files, {self.rate():.2f} files/s, {self._failed} failed")
        elif self._skipped:
            self.stream.write(f"{self.label}: {self._skipped} outputs exist, skipped\n")
