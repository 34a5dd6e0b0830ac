"""The cluster's pieces that need no running Ray: the message without Ray, the pool's shape, the
work units, the address, the progress line, and a retried item's outcome (never written twice)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from irstudio.cli import main
from irstudio.cli.cluster_cmd import ClusterProgress
from irstudio.inference.batch import BatchEvent, BatchEventKind, BatchItem
from irstudio.inference.cluster import (
    INSTALL_HINT,
    ClusterError,
    PoolShape,
    RestoreWorker,
    WorkerSetup,
    check_address,
    files_per_unit,
    pool_shape,
)
from irstudio.inference.cluster.jobs import units_of
from irstudio.inference.cluster.worker import EARLIER_ATTEMPT
from tests.cluster.conftest import make_photos


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import ray`` fails, as in an install without the cluster extra."""
    monkeypatch.setitem(sys.modules, "ray", None)


def test_cluster_without_ray_names_the_extra_and_restores_nothing(no_ray, tmp_path: Path, capsys) -> None:
    make_photos(tmp_path / "photos", 2)
    out = tmp_path / "out"
    command = ["restore", str(tmp_path / "photos"), "--out", str(out), "--model", "identity", "--cluster"]
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "irstudio: error:" in err and INSTALL_HINT in err and "Traceback" not in err
    assert not list(out.glob("*.png")) and not (out / ".irstudio-batch.jsonl").exists()


def test_eval_on_a_cluster_without_ray_names_the_extra(no_ray, tmp_path: Path, capsys) -> None:
    make_photos(tmp_path / "bench", 1)
    command = ["eval", "-m", "identity", "--data", str(tmp_path / "bench"), "--task", "denoise"]
    assert main([*command, "--cluster", "ray://head:10001"]) == 1
    assert INSTALL_HINT in capsys.readouterr().err


@pytest.mark.parametrize("address", ["auto", "local", "ray://head.example:10001", "10.0.0.5:6379"])
def test_cluster_addresses(address: str) -> None:
    assert check_address(address) == address


def test_a_wrong_address_is_a_usage_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["restore", str(tmp_path), "-m", "identity", "--cluster", "somewhere"])
    assert exited.value.code == 2
    assert "expected auto, local, ray://HOST:PORT" in capsys.readouterr().err


def test_one_worker_per_gpu_and_one_per_n_cores_elsewhere() -> None:
    two_gpu_nodes = [{"CPU": 32, "GPU": 4}, {"CPU": 32, "GPU": 4}]
    assert pool_shape(two_gpu_nodes) == PoolShape(workers=8, cpus=1, gpus=1)
    assert pool_shape(two_gpu_nodes, threads=4) == PoolShape(workers=8, cpus=4, gpus=1)
    assert pool_shape(two_gpu_nodes, device="cpu") == PoolShape(workers=16, cpus=4, gpus=0)
    shared = pool_shape(two_gpu_nodes, workers=20, threads=3)  # 3 per GPU, each 1/3 of it
    assert shared == PoolShape(workers=20, cpus=3, gpus=1 / 3)
    assert shared.describe() == "20 workers of 1/3 GPU and 3 CPU each"
    assert pool_shape([{"CPU": 16}, {"CPU": 6}], threads=4) == PoolShape(workers=5, cpus=4, gpus=0)
    assert pool_shape([{"CPU": 2}]) == PoolShape(workers=1, cpus=2, gpus=0)
    assert pool_shape([{"CPU": 2}], threads=1, workers=5) == PoolShape(workers=5, cpus=1, gpus=0)
    with pytest.raises(ClusterError, match="fits no node"):
        pool_shape([{"CPU": 2}], threads=8)
    with pytest.raises(ClusterError, match="no CPU"):
        pool_shape([])


def test_units_are_single_files_for_small_batches_and_up_to_16_for_huge_ones() -> None:
    assert files_per_unit(6, 2) == 1
    assert files_per_unit(1_000_000, 64) == 16
    assert files_per_unit(1000, 8) == 15
    units = units_of(list(range(5)), 2)
    assert [unit.payload for unit in units] == [(0, 1), (2, 3), (4,)]
    assert all(unit.attempt == 1 for unit in units)


def test_a_retried_item_whose_output_exists_is_reported_written_and_not_written_again(
    tmp_path: Path,
) -> None:
    [source] = make_photos(tmp_path / "photos", 1)
    target = tmp_path / "out" / "photo0_bicubic-x2.png"
    target.parent.mkdir()
    target.write_bytes(b"published by the worker that died")
    leftover = target.with_name(f".{target.name}.999999999-0123456789ab.tmp")  # a dead writer's
    leftover.write_bytes(b"partial")
    stamp = target.stat().st_mtime_ns
    worker = RestoreWorker(WorkerSetup("bicubic", 2))
    item = BatchItem(source, target, source.name, "bicubic-x2")

    first = worker.restore_one(item, attempt=1)
    assert (first.kind, first.message) == (BatchEventKind.SKIPPED, "output exists")
    retried = worker.restore_one(item, attempt=2)
    assert (retried.kind, retried.message) == (BatchEventKind.WRITTEN, EARLIER_ATTEMPT)
    assert target.read_bytes() == b"published by the worker that died" and target.stat().st_mtime_ns == stamp
    assert not leftover.exists()


def test_the_progress_line_counts_files_per_second_and_failures(tmp_path: Path) -> None:
    items = [BatchItem(tmp_path / f"{n}.png", tmp_path / f"{n}_m.png", f"{n}.png", "m") for n in range(4)]
    stream = io.StringIO()
    progress = ClusterProgress("photos", stream)
    progress.show(BatchEvent(BatchEventKind.SKIPPED, items[0], 0, 4, 1, message="done in an earlier run"))
    for n in (1, 2, 3):
        progress.show(BatchEvent(BatchEventKind.STARTED, items[n], n, 4, 1))
    progress.show(BatchEvent(BatchEventKind.WRITTEN, items[2], 2, 4, 2))
    progress.show(BatchEvent(BatchEventKind.FAILED, items[1], 1, 4, 3, message="cannot read"))
    progress.show(BatchEvent(BatchEventKind.WRITTEN, items[3], 3, 4, 4))
    progress.finish()
    text = stream.getvalue()
    assert "photos: 1 outputs exist, skipped" in text
    assert f"irstudio: error: {items[1].source}: cannot read" in text
    assert "3/3" in text and "files/s, 1 failed" in text
    assert "3 files," in text
