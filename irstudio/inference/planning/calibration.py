"""One calibration record per (model, weights, device, threads, runtime versions): what measuring this
computer chose, so later restores run that way without measuring.

Written only by an explicit measurement (``irstudio bench``, the app's
"Optimise for this computer"), never on a restore's critical path. Read by ``auto_plan`` before the
committed table (``known.py``). Stored in ``user_state_dir()/calibration.json`` through
``VerdictCache``: atomic, merged under a lock when two processes write, stamped with the library
versions; a malformed entry reads as missing (the table then serves).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.inference.backends.cache import VerdictCache, default_cache_path, make_key
from irstudio.inference.backends.chooser import ALL_BACKENDS
from irstudio.inference.backends.exported import weights_fingerprint

CALIBRATION_NAME = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """What was measured best here: ``backend`` and core ``tile`` side (input pixels)."""

    backend: str
    tile: int

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "tile": self.tile}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Calibration | None:
        """The record in ``entry``, or None when it is malformed (wrong types, unknown backend)."""
        backend, tile = entry.get("backend"), entry.get("tile")
        if backend not in ALL_BACKENDS or not isinstance(tile, int) or isinstance(tile, bool) or tile < 1:
            return None
        return cls(str(backend), tile)


def calibration_key(model_id: str, model: nn.Module, device: DeviceInfo) -> str:
    """Model id, weights fingerprint, device spec and name, and torch's threads (CPU)."""
    return make_key(
        model=model_id,
        weights=weights_fingerprint(model)[:16],
        device=device.spec,
        device_name=device.name,
        threads=torch.get_num_threads() if device.spec == "cpu" else "-",
    )


def _store(state_dir: Path | None) -> VerdictCache:
    path = state_dir / CALIBRATION_NAME if state_dir is not None else default_cache_path(CALIBRATION_NAME)
    return VerdictCache(path)


def read_calibration(
    model_id: str, model: nn.Module, device: DeviceInfo, state_dir: Path | None
) -> Calibration | None:
    """The record measured here for this model and weights (None when not measured, stale or damaged)."""
    entry = _store(state_dir).get(calibration_key(model_id, model, device))
    return None if entry is None else Calibration.from_json(entry)


def write_calibration(
    model_id: str, model: nn.Module, device: DeviceInfo, state_dir: Path | None, record: Calibration
) -> None:
    """Store ``record`` for this model, weights and device (merged safely with other processes)."""
    _store(state_dir).put(calibration_key(model_id, model, device), record.to_json())
