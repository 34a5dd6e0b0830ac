"""Files per second: the local batch against the same batch on a Ray cluster, on the same photos.

``python -m irstudio.inference.cluster.bench [--model bicubic-x2] [--photos 24] [--size 640x480]
[--address local] [--worker-threads 1] [--backend eager] [--repeat 2] [--json]`` makes
``--photos`` seeded noisy RGB PNGs (or takes the ``--input`` folder), then, ``--repeat`` times,
restores them with ``batch.run_batch`` in this process (torch threads: all cores, or
``--local-threads``) and with ``cluster.run_on_cluster`` on the pool, each into a fresh output
folder, and reports whether both wrote the same bytes. Timed: from the first file to the last
outcome; model loading and the workers' start are reported apart (``startup``). Figures are
printed, never asserted: a benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from irstudio.inference.batch import BatchEvent, BatchReport, plan_batch, run_batch
from irstudio.inference.cluster.jobs import run_on_cluster
from irstudio.inference.cluster.pool import LOCAL, ClusterPool
from irstudio.inference.cluster.worker import WorkerSetup


def make_photos(folder: Path, count: int, width: int, height: int) -> Path:
    """``count`` seeded noisy RGB PNGs of ``width`` x ``height`` in ``folder``; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for n in range(count):
        base = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
        smooth = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width]
        noise = rng.integers(-12, 13, smooth.shape)
        Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8)).save(folder / f"photo{n:04d}.png")
    return folder


def _drain(batch: Generator[BatchEvent, None, BatchReport]) -> BatchReport:
    while True:
        try:
            next(batch)
        except StopIteration as finished:
            report: BatchReport = finished.value
            return report


def time_local(setup: WorkerSetup, photos: Path, out: Path) -> tuple[float, float]:
    """(seconds to load and plan, seconds to restore every photo) in this process."""
    started = time.perf_counter()
    chosen = setup.open()
    ready = time.perf_counter()
    items = plan_batch(photos, out, chosen_id(setup))
    report = _drain(run_batch(chosen.module, items, chosen.plan))
    _check(report, len(items))
    return ready - started, time.perf_counter() - ready


def time_cluster(pool: ClusterPool, setup: WorkerSetup, photos: Path, out: Path) -> float:
    """Seconds to restore every photo on ``pool`` (its workers ready)."""
    started = time.perf_counter()
    items = plan_batch(photos, out, chosen_id(setup))
    report = _drain(run_on_cluster(pool, items))
    _check(report, len(items))
    return time.perf_counter() - started


def chosen_id(setup: WorkerSetup) -> str:
    """The output names' model id (the registry's, e.g. ``bicubic-x2``)."""
    from irstudio.models.library import resolve_model
    from irstudio.paths import user_library_dir

    return resolve_model(setup.model_id, setup.scale, setup.library_dir or user_library_dir())[0].id


def _check(report: BatchReport, count: int) -> None:
    if len(report.written) != count:
        raise RuntimeError(f"expected {count} written, got: {report.summary()}")


def same_outputs(first: Path, second: Path) -> bool:
    """Whether both folders hold the same PNGs, byte for byte."""
    names = sorted(p.name for p in first.glob("*.png"))
    if names != sorted(p.name for p in second.glob("*.png")):
        return False
    return all((first / n).read_bytes() == (second / n).read_bytes() for n in names)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m irstudio.inference.cluster.bench", description=__doc__)
    parser.add_argument("--model", default="bicubic-x2")
    parser.add_argument("--scale", type=int, default=None)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the made photos")
    parser.add_argument("--input", type=Path, default=None, help="a folder of photos instead")
    parser.add_argument("--address", default=LOCAL)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--worker-threads", type=int, default=1)
    parser.add_argument("--local-threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--backend", default=None, help="force a backend (eager: no OpenVINO conversion)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The measurements (see the module doc), as a JSON-able dict."""
    width, height = (int(side) for side in args.size.lower().split("x"))
    photos = args.input or make_photos(work / "photos", args.photos, width, height)
    count = len(plan_batch(photos, work / "probe", "probe"))
    setup = WorkerSetup(args.model, args.scale, tile=args.tile, backend=args.backend)
    local_threads = args.local_threads or os.cpu_count() or 1
    local_setup = replace(setup, threads=local_threads)
    local_runs: list[float] = []
    cluster_runs: list[float] = []
    local_startup: list[float] = []
    same = True
    started = time.perf_counter()
    with ClusterPool(args.address, setup, workers=args.workers, threads=args.worker_threads) as pool:
        infos = pool.wait_ready(every=True)
        cluster_startup = time.perf_counter() - started
        for n in range(args.repeat):
            load, seconds = time_local(local_setup, photos, work / f"local{n}")
            local_startup.append(load)
            local_runs.append(seconds)
            cluster_runs.append(time_cluster(pool, setup, photos, work / f"cluster{n}"))
            same = same and same_outputs(work / f"local{n}", work / f"cluster{n}")
        described = pool.describe()
    local, cluster = statistics.median(local_runs), statistics.median(cluster_runs)
    return {
        "photos": count,
        "size": args.size if args.input is None else str(args.input),
        "model": chosen_id(setup),
        "local": {"threads": local_threads, "seconds": local_runs, "files_per_s": count / local},
        "cluster": {
            "address": args.address,
            "workers": len(infos),
            "pool": described,
            "seconds": cluster_runs,
            "files_per_s": count / cluster,
            "startup_s": cluster_startup,
        },
        "local_startup_s": statistics.median(local_startup),
        "speedup": local / cluster,
        "same_bytes": same,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="irstudio-cluster-bench-") as folder:
        result = run(args, Path(folder))
    if args.json:
        print(json.dumps(result))
        return 0
    local, cluster = result["local"], result["cluster"]
    print(f"{result['photos']} photos {result['size']}, {result['model']}, {result['cpus']} CPUs")
    print(f"local batch ({local['threads']} threads): {local['files_per_s']:.2f} files/s  {local['seconds']}")
    print(
        f"cluster {cluster['address']} ({cluster['pool']}): {cluster['files_per_s']:.2f} files/s  "
        f"{cluster['seconds']}  (startup {cluster['startup_s']:.1f} s, not timed)"
    )
    same = "byte-identical" if result["same_bytes"] else "NOT byte-identical (threads or tiles differ?)"
    print(f"cluster / local: {result['speedup']:.2f}x; outputs {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
