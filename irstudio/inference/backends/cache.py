"""Small JSON verdict caches under the user's state folder: measure once, remember the answer.

A ``VerdictCache`` maps a string key to a JSON-serialisable dict. The file is read on first use,
written atomically (``core.atomic``) after each ``put``, and an unreadable or foreign file is
treated as empty (a cache can always be rebuilt by measuring again). Every entry records the
``environment_stamp`` (torch / ONNX Runtime / OpenVINO versions) it was measured under; ``get``
ignores entries from another environment, so upgrading torch re-measures. Entries that are not
dicts (null, a number, a list) are ignored too.

Two processes may measure at once: ``put`` takes an exclusive lock on ``<file>.lock`` (where the
platform has ``fcntl``), reads the file again and merges its entries with this one before writing,
so neither process erases what the other stored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from irstudio.core.atomic import atomic_write

CACHE_FORMAT = 1

BACKEND_CACHE_NAME = "backend-cache.json"
PRECISION_CACHE_NAME = "precision-cache.json"
AUTOTILE_CACHE_NAME = "autotile-cache.json"
CPU_TILE_CACHE_NAME = "cpu-tile-cache.json"


def environment_stamp() -> str:
    """The library versions a measurement depends on, e.g. ``"torch 2.13.0+cpu; onnxruntime 1.32.0;
    openvino 2026.4.1"`` (read from the installed packages' metadata: nothing is imported)."""
    parts = [f"torch {torch.__version__}"]
    for package in ("onnxruntime", "openvino"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package} absent")
    return "; ".join(parts)


def default_cache_path(name: str) -> Path:
    """``paths.user_state_dir() / name`` (the folder is created when the cache is first written)."""
    from irstudio.paths import user_state_dir

    return user_state_dir() / name


def make_key(**fields: object) -> str:
    """A stable key from named fields: ``"device=cpu|model=asid-x2|..."`` (sorted by name)."""
    return "|".join(f"{name}={fields[name]}" for name in sorted(fields))


class VerdictCache:
    """A JSON file of ``key -> entry`` dicts; entries from another environment read as missing."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] | None = None

    def _read_file(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            return {}
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {str(k): v for k, v in entries.items() if isinstance(v, dict)}

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self._read_file()
        return self._entries

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key`` in this environment, else None."""
        entry = self._load().get(key)
        if entry is None or entry.get("environment") != environment_stamp():
            return None
        return dict(entry)

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` (stamped with the environment), merged with what other processes wrote
        meanwhile, and rewrite the file atomically.

        A cache that cannot be written (read-only home, full disk) is kept in memory only.
        """
        stamped = {**entry, "environment": environment_stamp()}
        self._load()[key] = stamped
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(self.path.with_name(self.path.name + ".lock")):
                merged = {**self._load(), **self._read_file(), key: stamped}
                text = json.dumps({"format": CACHE_FORMAT, "entries": merged}, indent=1, sort_keys=True)
                with atomic_write(self.path, overwrite=True) as temp:
                    temp.write_text(text, encoding="utf-8")
            self._entries = merged
        except OSError:
            return

    def keys(self) -> list[str]:
        return sorted(self._load())


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (created) where ``fcntl`` exists; else no lock."""
    try:
        import fcntl
    except ImportError:  # Windows: last writer wins, after merging what it read
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
