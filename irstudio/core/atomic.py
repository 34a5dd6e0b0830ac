"""Atomic file writes: a file is either complete under its final name or not there at all.

``atomic_write(path, overwrite=...)`` is a context manager that yields the path of a new, empty,
hidden temporary file beside ``path`` (same folder, so same file system). The caller writes it
(by path or by opening it); when the block ends normally the file is flushed to disk and published
under ``path``, then the folder entry is flushed (best effort). When the block raises (any
exception, ``KeyboardInterrupt`` included), the temporary file is removed, ``path`` is left as it
was, and the exception propagates.

Publishing: with ``overwrite=True`` by ``os.replace`` (an existing file is replaced in one step);
with ``overwrite=False`` by a hard link that fails if the name exists, so a file that appeared
meanwhile is never clobbered (``TargetExistsError``, also raised up front when ``path`` exists).

Permissions are those of any new file: ``0o666 & ~umask``. The temporary file is created with mode
0o666 and the kernel applies the umask (nothing reads or changes the process umask); a writer that
replaces the file or narrows its mode (safetensors makes 0o600 files) has that mode put back.

Temporary names: ``.<name>.<pid>-<12 hex digits>.tmp``, where ``<name>`` is the target's file name
cut to at most ``NAME_BYTES`` bytes and ``<pid>`` the writing process. While the block runs, the
writer holds an exclusive ``flock`` on its temporary (POSIX). Only a hard crash (power loss,
SIGKILL) leaves one behind: ``leftover_temp_files(path)`` lists the temporaries of one target and
``stale_temp_files(path)`` those nobody is writing (no lock held, and the pid is not a live process
other than this one). ``atomic_write`` removes the stale temporaries of its target before it
starts, so the next write of an output cleans up after a killed one, and never removes a file that
another process (a second batch into the same folder) is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl module on Windows; the users check for None

__all__ = [
    "NAME_BYTES",
    "TargetExistsError",
    "atomic_write",
    "leftover_temp_files",
    "remove_stale_temp_files_in",
    "stale_temp_files",
]

NAME_BYTES = 128
"""Most bytes of the target's name kept in a temporary name (which stays well under 255 bytes)."""

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>[0-9]+)-)?[0-9a-f]{12}\.tmp$")
_TEMP_ATTEMPTS = 100
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class TargetExistsError(FileExistsError):
    """The target exists and ``overwrite`` was not asked for; the existing file is untouched."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary file's path beside ``path``; publish it as ``path`` when the block succeeds.

    The folder must exist. Raises ``TargetExistsError`` (``path`` exists and not ``overwrite``;
    checked before the block runs and again when publishing) and ``OSError`` for I/O failures
    (folder missing or read-only, disk full). The temporary file never survives the call.
    """
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise _exists(target)
    _remove(stale_temp_files(target))
    descriptor, temp = _create_temp_beside(target)
    try:
        new_file_mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
        _lock(descriptor)  # held until the block ends: the temporary is in use
        yield temp
        _restore_mode(temp, new_file_mode)
        _fsync_file(temp)
        _publish(temp, target, overwrite=overwrite)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)  # gone after os.replace; still there after a hard link or a failure
        os.close(descriptor)
    _sync_folder(target.parent)


def leftover_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files of ``atomic_write`` calls for ``path`` in its folder, sorted: those of
    writes in progress and those an interrupted process left. An absent folder gives []."""
    target = Path(path)
    return sorted(candidate for candidate, _ in _temp_files(target.parent, _name_part(target)))


def stale_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporaries of ``path`` that nobody is writing (see the module docstring), sorted."""
    target = Path(path)
    return _stale(target.parent, _name_part(target))


def remove_stale_temp_files_in(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove every stale ``atomic_write`` temporary in ``folder`` (whatever its target: a killed
    run's checkpoint of a step that will not be written again); returns the removed paths."""
    return _remove(_stale(Path(folder), None))


def _temp_files(folder: Path, name: str | None) -> Iterator[tuple[Path, int | None]]:
    """(temporary, writer's pid or None) in ``folder``: of the target named ``name``, or of any."""
    if not folder.is_dir():
        return
    for candidate in folder.glob(".*.tmp"):
        match = _TEMP_NAME.match(candidate.name)
        if match and (name is None or match["name"] == name) and candidate.is_file():
            yield candidate, int(match["pid"]) if match["pid"] else None


def _stale(folder: Path, name: str | None) -> list[Path]:
    return sorted(candidate for candidate, pid in _temp_files(folder, name) if not _in_use(candidate, pid))


def _remove(paths: list[Path]) -> list[Path]:
    """Unlink ``paths``; the ones actually removed."""
    removed = []
    for candidate in paths:
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _lock(descriptor: int) -> None:
    """An exclusive lock on the temporary for as long as the descriptor is open (POSIX only; on
    Windows an open file cannot be removed anyway)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):  # a file system without locks: the pid still protects it
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _in_use(candidate: Path, pid: int | None) -> bool:
    """Whether a writer still holds ``candidate``: a live process other than this one named in it,
    or a lock on it. Unknown (cannot be opened) counts as in use."""
    if pid is not None and pid != os.getpid() and _process_alive(pid):
        return True
    if fcntl is None:
        return False
    try:
        descriptor = os.open(candidate, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)  # also releases the probe's lock
    return False


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it there: count it alive (never remove its file)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or a platform that cannot tell
    return True


def _name_part(target: Path) -> str:
    """The target's name, cut to ``NAME_BYTES`` bytes at a character boundary."""
    encoded = os.fsencode(target.name)
    if len(encoded) <= NAME_BYTES:
        return target.name
    return encoded[:NAME_BYTES].decode("utf-8", errors="ignore")


def _create_temp_beside(target: Path) -> tuple[int, Path]:
    """A new hidden file in the target's folder, opened for writing; (descriptor, path)."""
    name = _name_part(target)
    for _ in range(_TEMP_ATTEMPTS):
        temp = target.with_name(f".{name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temp, _CREATE_FLAGS, 0o666), temp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "could not create a temporary file", str(target.parent))


def _restore_mode(temp: Path, mode: int) -> None:
    """Give the written file back the mode it was created with, if the writer changed it."""
    if stat.S_IMODE(os.stat(temp).st_mode) != mode:
        os.chmod(temp, mode)


def _fsync_file(temp: Path) -> None:
    """Flush the finished file's data to disk (fsync is per file, so a new descriptor will do)."""
    descriptor = os.open(temp, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(temp: Path, target: Path, *, overwrite: bool) -> None:
    """Give the finished file its final name; without ``overwrite`` never replace a file."""
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # atomic, and fails if the name exists
    except FileExistsError:
        raise _exists(target) from None
    except (OSError, NotImplementedError):  # a file system without hard links
        if os.path.lexists(target):
            raise _exists(target) from None
        os.replace(temp, target)


def _exists(target: Path) -> TargetExistsError:
    return TargetExistsError(errno.EEXIST, "already exists (not overwritten)", str(target))


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry to disk where the platform allows it (best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
