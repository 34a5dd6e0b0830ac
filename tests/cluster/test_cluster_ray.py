"""``--cluster`` on a real (local, loopback, 2-CPU) Ray: the same outputs as the local batch, reruns
that skip, workers killed mid-file or after publishing whose files still come out exactly once, and
eval scores equal to the local ones. Skipped when Ray is not installed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from irstudio.cli import main
from irstudio.core.atomic import leftover_temp_files
from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.inference.batch import (
    BatchEventKind,
    BatchItem,
    BatchRequest,
    journal_path,
    plan_batch,
    read_journal,
)
from irstudio.inference.cluster import MAX_ATTEMPTS, ClusterPool, RestoreWorker, WorkerSetup, run_on_cluster
from irstudio.inference.cluster.worker import EARLIER_ATTEMPT
from tests.cluster.conftest import PHOTOS, make_photos
from tests.cluster.crashing_workers import (
    CRASH_MARKER,
    DiesAfterPublishing,
    DiesMidWrite,
    DiesOnPoison,
)

pytest.importorskip("ray", reason="Ray is not installed (pip install irstudio[cluster])")

MODEL = ["--model", "bicubic", "--scale", "2"]
MODEL_ID = "bicubic-x2"
ON_CLUSTER = ["--cluster", "local", "--worker-threads", "1"]  # 2 workers on the 2-CPU test Ray


def restore_locally(photos: Path, out: Path) -> None:
    assert main(["restore", str(photos), "--out", str(out), *MODEL]) == 0


def assert_same_outputs(expected: Path, actual: Path) -> None:
    """The same PNGs, byte for byte, and nothing else but the journal (no temporaries)."""
    names = sorted(p.name for p in expected.glob("*.png"))
    assert names and names == sorted(p.name for p in actual.glob("*.png"))
    for name in names:
        assert (actual / name).read_bytes() == (expected / name).read_bytes(), name
    assert sorted(p.name for p in actual.iterdir() if p.name.startswith(".")) == [journal_path(actual).name]


def journal_lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal_path(out).read_text(encoding="utf-8").splitlines()]


def run_items(pool: ClusterPool, items: Sequence[BatchItem], out: Path):
    """(events, report) of ``run_on_cluster`` with the journal in ``out``."""
    batch = run_on_cluster(pool, items, journal=journal_path(out))
    events = []
    while True:
        try:
            events.append(next(batch))
        except StopIteration as finished:
            return events, finished.value


def pool_of(worker_class: type[RestoreWorker]) -> ClusterPool:
    return ClusterPool("local", WorkerSetup("bicubic", 2), threads=1, worker_class=worker_class)


def test_cluster_restore_equals_the_local_batch_and_a_rerun_skips_everything(
    ray_cluster, tmp_path: Path, capsys
) -> None:
    photos = tmp_path / "photos"
    make_photos(photos)
    restore_locally(photos, tmp_path / "local")
    capsys.readouterr()

    out = tmp_path / "cluster"
    assert main(["restore", str(photos), "--out", str(out), *MODEL, *ON_CLUSTER]) == 0
    err = capsys.readouterr().err
    assert f"{MODEL_ID} on the cluster: 2 workers of 1 CPU each" in err
    assert "files/s, 0 failed" in err and f"{PHOTOS} written, 0 skipped, 0 failed" in err
    assert_same_outputs(tmp_path / "local", out)
    lines = journal_lines(out)
    assert sorted(line["source"] for line in lines) == [f"photo{n}.png" for n in range(PHOTOS)]
    assert {line["status"] for line in lines} == {"written"}
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    assert main(["restore", str(photos), "--out", str(out), *MODEL, *ON_CLUSTER]) == 0
    err = capsys.readouterr().err
    assert f"{PHOTOS} outputs exist, skipped" in err
    assert f"0 written, {PHOTOS} skipped ({PHOTOS} done earlier), 0 failed" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == stamps
    assert len(journal_lines(out)) == PHOTOS


@pytest.mark.slow
@pytest.mark.parametrize("worker_class", [DiesMidWrite, DiesAfterPublishing])
def test_a_killed_worker_loses_no_file_and_writes_none_twice(
    ray_cluster, tmp_path: Path, worker_class: type[RestoreWorker]
) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photos(photos)
    restore_locally(photos, tmp_path / "local")
    out.mkdir()
    (out / CRASH_MARKER).touch()
    items = plan_batch(photos, out, MODEL_ID)

    with pool_of(worker_class) as pool:
        events, report = run_items(pool, items, out)

    assert not (out / CRASH_MARKER).exists(), "no worker died"
    assert len(report.written) == PHOTOS and not report.failed and not report.skipped
    outcomes = [e for e in events if e.kind is not BatchEventKind.STARTED]
    assert sorted(e.index for e in outcomes) == list(range(PHOTOS))  # each file's outcome once
    assert_same_outputs(tmp_path / "local", out)
    assert all(not leftover_temp_files(item.target) for item in items)
    lines = journal_lines(out)
    assert sorted(line["target"] for line in lines) == sorted(item.target.name for item in items)
    if worker_class is DiesAfterPublishing:  # the retry found the output and did not write it again
        assert [e.message for e in outcomes].count(EARLIER_ATTEMPT) == 1


@pytest.mark.slow
def test_a_file_that_kills_every_worker_fails_after_its_attempts_and_the_rest_is_written(
    ray_cluster, tmp_path: Path
) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photos(photos, names=("a", "b", "poison", "c"))
    items = plan_batch(photos, out, MODEL_ID)

    with pool_of(DiesOnPoison) as pool:
        _events, report = run_items(pool, items, out)

    assert len(report.written) == 3
    [failure] = report.failed
    assert failure.relative == "poison.png" and f"died {MAX_ATTEMPTS} times" in failure.reason
    journal = read_journal(journal_path(out))
    assert journal[(out / f"poison_{MODEL_ID}.png").resolve()]["status"] == "failed"

    with pool_of(RestoreWorker) as pool:  # a rerun retries the failed file only
        _events, rerun = run_items(pool, items, out)
    assert [p.name for p in rerun.written] == [f"poison_{MODEL_ID}.png"]
    assert len(rerun.earlier) == 3


@pytest.mark.slow
def test_eval_on_the_cluster_gives_the_local_json(ray_cluster, tmp_path: Path, capsys) -> None:
    bench = tmp_path / "bench"
    make_photos(bench)
    command = ["eval", "--model", "identity", "--data", str(bench), "--task", "denoise", "--json"]
    assert main(command) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*command, *ON_CLUSTER]) == 0
    clustered = json.loads(capsys.readouterr().out)
    assert clustered == local
    assert len({image["psnr"] for image in local["per_image"]}) == PHOTOS  # seeded per image index


@pytest.mark.slow
def test_a_cancelled_cluster_batch_keeps_what_was_written_and_a_rerun_finishes_it(
    ray_cluster, tmp_path: Path
) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photos(photos)
    items = plan_batch(photos, out, MODEL_ID)
    token = CancelToken()
    with pool_of(RestoreWorker) as pool:
        batch = run_on_cluster(pool, items, token, journal=journal_path(out), unit_size=1)
        with pytest.raises(Cancelled):
            for event in batch:
                if event.kind is BatchEventKind.WRITTEN:
                    token.cancel()
    journalled = {line["target"] for line in journal_lines(out)}
    on_disk = {p.name for p in out.glob("*.png")}
    # a worker killed by the cancel may have published its file, complete, before it was journalled
    assert journalled and journalled <= on_disk and len(on_disk) < PHOTOS

    with pool_of(RestoreWorker) as pool:
        _events, report = run_items(pool, items, out)
    assert len(report.earlier) == len(journalled) and len(report.written) == PHOTOS - len(on_disk)
    assert report.total == PHOTOS and not report.failed
    assert {p.name for p in out.glob("*.png")} == {item.target.name for item in items}
    assert all(not leftover_temp_files(item.target) for item in items)


@pytest.mark.slow
def test_the_batch_dialogs_cluster_work_restores_the_folder(ray_cluster, tmp_path: Path) -> None:
    from irstudio.gui.cluster_batch import STARTING_CLUSTER, cluster_batch_work
    from irstudio.gui.restore_jobs import PlanStep, RunOptions
    from irstudio.models import BASELINE, ModelChoice
    from irstudio.models.catalog import REGISTRY

    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photos(photos)
    restore_locally(photos, tmp_path / "local")
    choice = ModelChoice(MODEL_ID, "Bicubic ×2", REGISTRY.get(MODEL_ID), BASELINE)
    request = BatchRequest(photos, out, MODEL_ID, recursive=False, cluster="local")
    work = cluster_batch_work(request, choice, RunOptions())(CancelToken())
    steps = []
    while True:
        try:
            steps.append(next(work))
        except StopIteration as finished:
            report = finished.value
            break
    plan_steps = [step for step in steps if isinstance(step, PlanStep)]
    assert plan_steps[0] == PlanStep(STARTING_CLUSTER) and plan_steps[1].chosen
    assert "Ray cluster: 1 worker of 2 CPU each" in plan_steps[1].text
    assert len(report.written) == PHOTOS
    assert_same_outputs(tmp_path / "local", out)
