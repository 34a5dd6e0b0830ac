"""Small JSON verdict caches under the user's state folder: measure once, remember the answer.

A ``VerdictCache`` maps a string key to a JSON-serialisable dict. The file is read on first use,
written atomically (``core.atomic``) after each ``put``, and an unreadable or foreign file is
treated as empty (a cache can always be rebuilt by measuring again). Every entry records the
``environment_stamp`` (torch / ONNX Runtime versions) it was measured under; ``get`` ignores entries
from another environment, so upgrading torch re-measures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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
    """The library versions a measurement depends on, e.g. ``"torch 2.13.0+cpu; onnxruntime 1.32.0"``."""
    parts = [f"torch {torch.__version__}"]
    try:
        import onnxruntime

        parts.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        parts.append("onnxruntime absent")
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

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = {}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("format") == CACHE_FORMAT:
                entries = data.get("entries")
                if isinstance(entries, dict):
                    self._entries = {k: v for k, v in entries.items() if isinstance(v, dict)}
        return self._entries

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key`` in this environment, else None."""
        entry = self._load().get(key)
        if entry is None or entry.get("environment") != environment_stamp():
            return None
        return dict(entry)

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` (stamped with the environment) and rewrite the file atomically.

        A cache that cannot be written (read-only home, full disk) is kept in memory only.
        """
        entries = self._load()
        entries[key] = {**entry, "environment": environment_stamp()}
        text = json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=1, sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.path, overwrite=True) as temp:
                temp.write_text(text, encoding="utf-8")
        except OSError:
            return

    def keys(self) -> list[str]:
        return sorted(self._load())
