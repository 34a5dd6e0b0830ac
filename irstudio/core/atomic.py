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

Temporary names: ``.<name>.<12 hex digits>.tmp``, where ``<name>`` is the target's file name cut to
at most ``NAME_BYTES`` bytes. Only a hard crash (power loss, SIGKILL) leaves one behind;
``leftover_temp_files(path)`` finds those of one target so they can be removed.
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

__all__ = ["NAME_BYTES", "TargetExistsError", "atomic_write", "leftover_temp_files"]

NAME_BYTES = 128
"""Most bytes of the target's name kept in a temporary name (which stays well under 255 bytes)."""

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.tmp$")
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
    descriptor, temp = _create_temp_beside(target)
    try:
        new_file_mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
    finally:
        os.close(descriptor)
    try:
        yield temp
        _restore_mode(temp, new_file_mode)
        _fsync_file(temp)
        _publish(temp, target, overwrite=overwrite)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)  # gone after os.replace; still there after a hard link or a failure
    _sync_folder(target.parent)


def leftover_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files that ``atomic_write`` calls for ``path`` left in its folder, sorted.

    Only an interrupted process leaves them (or a write to ``path`` still in progress elsewhere).
    An absent folder gives an empty list.
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    name = _name_part(target)
    found = []
    for candidate in target.parent.glob(".*.tmp"):
        match = _TEMP_NAME.match(candidate.name)
        if match and match["name"] == name and candidate.is_file():
            found.append(candidate)
    return sorted(found)


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
        temp = target.with_name(f".{name}.{secrets.token_hex(6)}.tmp")
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
