"""Atomic writes: complete file or none, never a clobbered file, normal permissions, findable leftovers."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from irstudio.core.atomic import NAME_BYTES, TargetExistsError, atomic_write, leftover_temp_files


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_new_file_is_published_and_no_temporary_stays(tmp_path: Path, overwrite: bool) -> None:
    target = tmp_path / "out.bin"
    with atomic_write(target, overwrite=overwrite) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".") and temp.exists()
        assert not target.exists()  # nothing under the final name until the block ends
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["out.bin"]


def test_overwrite_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with atomic_write(target, overwrite=True) as temp:
        temp.write_text("new")
        assert target.read_text() == "old"  # still the old file while the new one is written
    assert target.read_text() == "new"
    assert _listing(tmp_path) == ["state.json"]


@pytest.mark.parametrize(
    "error", [RuntimeError("encoder bug"), OSError(28, "No space left"), KeyboardInterrupt()]
)
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_exception_removes_the_temporary_and_leaves_the_target_untouched(
    tmp_path: Path, error: BaseException, overwrite: bool
) -> None:
    target = tmp_path / "out.bin"
    if overwrite:
        target.write_bytes(b"keep")
    with pytest.raises(type(error)), atomic_write(target, overwrite=overwrite) as temp:
        temp.write_bytes(b"half")
        raise error
    assert _listing(tmp_path) == (["out.bin"] if overwrite else [])
    if overwrite:
        assert target.read_bytes() == b"keep"


def test_an_existing_file_is_refused_before_the_block_runs_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "photo.png"
    target.write_bytes(b"precious")
    ran = False
    with pytest.raises(TargetExistsError) as caught, atomic_write(target, overwrite=False):
        ran = True
    assert not ran and caught.value.filename == str(target)
    assert isinstance(caught.value, FileExistsError)  # callers catching OSError see it too
    assert target.read_bytes() == b"precious" and _listing(tmp_path) == ["photo.png"]


def test_a_file_that_appears_during_the_write_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "race.png"
    with pytest.raises(TargetExistsError), atomic_write(target, overwrite=False) as temp:
        temp.write_bytes(b"ours")
        target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert _listing(tmp_path) == ["race.png"]


def test_a_missing_folder_raises_an_os_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "out.bin", overwrite=True):
        pytest.fail("the block must not run")
    assert _listing(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("overwrite", [False, True])
def test_the_file_gets_the_permissions_of_a_normal_new_file(
    tmp_path: Path, umask_022: None, overwrite: bool
) -> None:
    target = tmp_path / "weights.safetensors"
    if overwrite:
        target.write_bytes(b"old")
        target.chmod(0o600)  # the old file's mode is not carried over
    with atomic_write(target, overwrite=overwrite) as temp:
        temp.write_bytes(b"data")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_leftover_temp_files_finds_an_interrupted_write_of_that_target_only(tmp_path: Path) -> None:
    target = tmp_path / "c_m.png"
    other_suffix = tmp_path / ".c_m.jpg.0123456789ab.tmp"
    other_target = tmp_path / ".d_m.png.0123456789ab.tmp"
    not_a_temp = tmp_path / ".c_m.png.tmp"
    for path in (other_suffix, other_target, not_a_temp):
        path.write_bytes(b"x")
    with atomic_write(target, overwrite=False) as temp:
        temp.write_bytes(b"half")
        assert leftover_temp_files(target) == [temp]  # what a crash at this point would leave
    assert leftover_temp_files(target) == []
    assert leftover_temp_files(tmp_path / "absent" / "x.png") == []


def test_a_long_name_gives_a_short_enough_temporary_that_is_still_found(tmp_path: Path) -> None:
    target = tmp_path / ("写" * 80 + ".png")  # 244 bytes: a name a temporary cannot simply extend
    with atomic_write(target, overwrite=False) as temp:
        assert len(os.fsencode(temp.name)) <= NAME_BYTES + 32  # dot, pid, token, suffix
        temp.write_bytes(b"data")
        assert leftover_temp_files(target) == [temp]
    assert target.read_bytes() == b"data" and _listing(tmp_path) == [target.name]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_writer_that_recreates_the_file_as_private_does_not_narrow_the_permissions(
    tmp_path: Path, umask_022: None
) -> None:
    """Like safetensors' ``save_file``, which writes a new 0o600 file over the path it is given."""
    target = tmp_path / "weights.safetensors"
    with atomic_write(target, overwrite=True) as temp:
        temp.unlink()
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, b"data")
        os.close(descriptor)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_bytes() == b"data"
