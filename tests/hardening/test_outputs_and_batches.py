"""Nothing dropped, overwritten or hidden: output names, concurrent writers, batch edge cases.

Each test failed on the code before issue 18's fixes: ``restore a.png a.jpg`` wrote one output,
``a-png.png`` beside ``a.png`` and ``a.jpg`` took ``a.png``'s output, two input folders of one name
shared an output folder, a second batch removed the first one's temporary file, an unreadable
sub-folder vanished from the report, a journal that could not be written stopped the batch with a
traceback, and a non-UTF-8 file name broke the journal.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from irstudio.cli import main
from irstudio.core.atomic import atomic_write, leftover_temp_files, stale_temp_files
from irstudio.inference import batch as batch_module
from irstudio.inference.batch import (
    JOURNAL_NAME,
    BatchError,
    BatchEventKind,
    journal_path,
    plan_batch,
    read_journal,
    run_batch,
)
from irstudio.inference.naming import MAX_NAME_BYTES, output_names, unique_labels
from tests.inference.test_batch import PLAN, Brighten, files_under, write_photo
from tests.training.helpers import drain

# ----------------------------------------------------------------------------- names


def test_every_source_of_a_folder_gets_its_own_name() -> None:
    sources = [Path("a.jpg"), Path("a.png"), Path("a-png.png"), Path("A.PNG"), Path("b.png")]
    names = output_names(sorted(sources), "m")
    assert len({name.casefold() for name in names}) == len(sources)
    assert names == output_names(sorted(sources), "m")  # the same names on every run
    assert dict(zip(sorted(sources), names, strict=True))[Path("b.png")] == "b_m.png"


def test_a_repeat_never_takes_a_name_another_input_has_of_its_own() -> None:
    assert unique_labels(["a", "a", "a-2"]) == ["a", "a-3", "a-2"]
    assert unique_labels(["photos", "Photos"]) == ["photos", "Photos-2"]


def test_long_names_are_shortened_and_stay_distinct() -> None:
    sources = [Path("é" * 120 + "1.png"), Path("é" * 120 + "2.png")]  # 241 bytes each
    names = output_names(sources, "compacter-x1-denoise")
    assert all(len(os.fsencode(name)) <= MAX_NAME_BYTES for name in names)
    assert len(set(names)) == 2 and all(name.endswith("_compacter-x1-denoise.png") for name in names)


def test_restore_of_same_stem_files_into_one_folder_writes_each(tmp_path: Path) -> None:
    for name, seed in (("a.png", 1), ("a.jpg", 2), ("a-png.png", 3)):
        write_photo(tmp_path / name, seed)
    out = tmp_path / "out"
    sources = [str(tmp_path / name) for name in ("a.png", "a.jpg", "a-png.png")]
    assert main(["restore", *sources, "-m", "identity", "--out", str(out)]) == 0
    assert len(files_under(out)) == 3
    again = main(["restore", *sources, "-m", "identity", "--out", str(out), "--overwrite"])
    assert again == 0 and len(files_under(out)) == 3  # each replaces its own output only


def test_a_file_named_twice_is_restored_once(tmp_path: Path, capsys) -> None:
    write_photo(tmp_path / "a.png", 1)
    assert main(["restore", str(tmp_path / "a.png"), str(tmp_path / "." / "a.png"), "-m", "identity"]) == 0
    assert "exists, skipped" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_identity.png"]


def test_a_batch_with_same_stem_files_restores_all(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for name, seed in (("a.png", 1), ("a.jpg", 2), ("a-png.png", 3)):
        write_photo(source / name, seed)
    out = tmp_path / "out"
    _, report = drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert len(report.written) == 3 and len(files_under(out) - {JOURNAL_NAME}) == 3


def test_two_input_folders_with_one_name_both_run(tmp_path: Path, capsys) -> None:
    for parent, seed in (("x", 1), ("y", 2)):
        write_photo(tmp_path / parent / "photos" / "a.png", seed)
    out = tmp_path / "out"
    folders = [str(tmp_path / "x" / "photos"), str(tmp_path / "y" / "photos")]
    assert main(["restore", *folders, "-m", "identity", "--out", str(out)]) == 0
    assert {"photos/a_identity.png", "photos-2/a_identity.png"} <= files_under(out)
    assert "done in an earlier run" not in capsys.readouterr().err


def test_an_existing_output_from_another_source_is_not_called_done_earlier(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / "a.png", 1)
    out = tmp_path / "out"
    items = plan_batch(source, out, "m")
    journal = journal_path(out)
    out.mkdir()
    entry = {"source": "other/a.png", "target": "a_m.png", "status": "written", "model": "m"}
    journal.write_text(json.dumps(entry) + "\n")
    write_photo(out / "a_m.png", 9)
    events, report = drain(run_batch(Brighten(), items, PLAN, journal=journal))
    assert [e.message for e in events if e.kind is BatchEventKind.SKIPPED] == ["output exists"]
    assert report.earlier == ()


# ----------------------------------------------------------------------------- concurrent writers

_HOLD = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o666)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(30)
"""


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_a_temporary_another_process_is_writing_is_never_removed(tmp_path: Path) -> None:
    target = tmp_path / "a_m.png"
    theirs = tmp_path / f".a_m.png.{os.getpid()}-0123456789ab.tmp"  # even with our own pid in it
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(theirs)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert stale_temp_files(target) == []
        with atomic_write(target, overwrite=False) as temp:
            temp.write_bytes(b"ours")
        assert theirs.exists() and target.read_bytes() == b"ours"
    finally:
        holder.kill()
        holder.wait()
    assert stale_temp_files(target) == [theirs]  # its writer is gone: now it is a leftover


def test_a_temporary_named_by_a_live_process_is_left_alone(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = tmp_path / f".a_m.png.{sleeper.pid}-0123456789ab.tmp"
        theirs.write_bytes(b"half")
        with atomic_write(tmp_path / "a_m.png", overwrite=False) as temp:
            temp.write_bytes(b"ours")
        assert theirs.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    left = [tmp_path / f".a_m.png.{pid}-0123456789ab.tmp", tmp_path / ".a_m.png.0123456789ab.tmp"]
    for path in left:
        path.write_bytes(b"half")
    with atomic_write(tmp_path / "a_m.png", overwrite=False) as temp:
        temp.write_bytes(b"ours")
    assert leftover_temp_files(tmp_path / "a_m.png") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_m.png"]


def test_two_batches_into_one_folder_both_finish_without_temporaries(tmp_path: Path) -> None:
    source = tmp_path / "in"
    for index in range(4):
        write_photo(source / f"p{index}.png", index, size=(96, 64))
    out = tmp_path / "out"
    code = (
        "import sys; from irstudio.cli import main; "
        "sys.exit(main(['restore', sys.argv[1], '-m', 'identity', '--out', sys.argv[2], '--tile', '32']))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(source), str(out)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert all(run.returncode == 0 for run in runs), errors
    assert files_under(out) == {JOURNAL_NAME, *(f"p{i}_identity.png" for i in range(4))}


# ----------------------------------------------------------------------------- batch edge cases


def test_an_unreadable_sub_folder_is_reported(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "in"
    write_photo(source / "a.png", 1)
    write_photo(source / "locked" / "b.png", 2)
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == source / "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    items = plan_batch(source, tmp_path / "out", "m")
    _, report = drain(run_batch(Brighten(), items, PLAN))
    assert [p.name for p in report.written] == ["a_m.png"]
    assert [(f.relative, f.reason) for f in report.failed] == [
        ("locked/", "cannot list the folder (Permission denied)")
    ]


def test_outputs_of_an_earlier_batch_inside_the_input_are_not_restored(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / "a.png", 1)
    drain(
        run_batch(
            Brighten(),
            plan_batch(source, source / "restored", "m"),
            PLAN,
            journal=journal_path(source / "restored"),
        )
    )
    assert (source / "restored" / "a_m.png").is_file()
    items = plan_batch(source, tmp_path / "elsewhere", "other")
    assert [item.relative for item in items] == ["a.png"]


def test_a_journal_that_cannot_be_written_refuses_before_any_file(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / "a.png", 1)
    out = tmp_path / "out"
    journal_path(out).mkdir(parents=True)  # a folder where the journal goes
    model = Brighten()
    with pytest.raises(BatchError, match="cannot write the batch journal"):
        drain(run_batch(model, plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert model.calls == 0 and files_under(out) == set()


def test_a_journal_failing_mid_batch_is_reported_and_the_batch_goes_on(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "in"
    for index in range(3):
        write_photo(source / f"p{index}.png", index)
    out = tmp_path / "out"

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batch_module, "_append_journal", disk_full)
    _, report = drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert len(report.written) == 3
    assert "journal could not be updated (No space left on device)" in report.summary()


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="file names must be valid Unicode there")
def test_a_non_utf8_file_name_is_restored_and_journalled(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / "plain.png", 1)
    odd = Path(os.fsdecode(os.fsencode(str(source)) + b"/caf\xe9.png"))  # Latin-1 bytes
    os.link(source / "plain.png", odd)
    out = tmp_path / "out"
    _, report = drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert len(report.written) == 2 and not report.failed
    entries = read_journal(journal_path(out))
    assert len(entries) == 2
    journal_path(out).read_bytes().decode("ascii")  # valid ASCII JSON lines
    _, rerun = drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN, journal=journal_path(out)))
    assert len(rerun.earlier) == 2


def test_a_source_with_a_name_near_the_limit_gets_a_short_enough_output(tmp_path: Path) -> None:
    source = tmp_path / "in"
    write_photo(source / ("x" * 248 + ".png"), 1)  # 252 bytes: the output name would be 258
    out = tmp_path / "out"
    _, report = drain(run_batch(Brighten(), plan_batch(source, out, "m"), PLAN))
    assert len(report.written) == 1 and not report.failed
    assert len(os.fsencode(report.written[0].name)) <= MAX_NAME_BYTES


def test_the_batch_summary_lists_each_failure_with_its_cause(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in"
    write_photo(source / "good.png", 1)
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["restore", str(source), "-m", "identity", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    summary = err[err.index("1 written") :]
    assert "failed: broken.png: " in summary and "damaged" in summary
