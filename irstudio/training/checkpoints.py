"""Training checkpoints: everything needed to continue a run exactly, in a file that loads with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists and dicts only; no pickled code).

A checkpoint is a ``TrainingCheckpoint`` (a frozen, typed record); on disk it is a plain dict:
``format`` ("irstudio-train-checkpoint"), ``version``, ``step`` (steps done), ``draws`` (training
samples consumed: the data sampler's position), ``model`` and ``ema`` (state dicts; ``ema`` None when
EMA is off), ``optimizer``, ``schedule``, ``rng`` (one entry per process: python, numpy, torch and
CUDA generator states as tensors), ``world_size``, ``model_id``, ``task``, ``scale``, ``config``
(the run's TrainConfig as JSON), ``best_psnr`` and the last validation's ``psnr``/``ssim`` (None
before any). ``load_checkpoint`` checks every field's type and names the first that is wrong.

Files are ``<run>/checkpoints/step_00001234.pt``, written through ``core.atomic.atomic_write`` (a
temporary file in the same folder, flushed, renamed over with ``os.replace``), so a crash never leaves
a half-written checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch import Tensor

from irstudio.core.atomic import atomic_write
from irstudio.models.loading import is_unsafe_pickle_refusal

FORMAT = "irstudio-train-checkpoint"
VERSION = 1
_NAME = re.compile(r"^step_(\d{8,})\.pt$")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or not ours; the message names the file."""


StateDict = dict[str, Any]


class RngState(TypedDict):
    """One process's generator states (``capture_rng``): tensors and plain numbers, weights_only-safe."""

    python_version: int
    python: Tensor  # int64, Mersenne Twister words and position
    python_gauss: float | None
    numpy_keys: Tensor  # int64 copy of the uint32 key
    numpy_pos: int
    numpy_has_gauss: int
    numpy_cached: float
    torch: Tensor
    cuda: list[Tensor]  # one per device; empty without CUDA


@dataclass(frozen=True)
class TrainingCheckpoint:
    """Everything a run needs to continue exactly (see the module docstring for each field)."""

    step: int
    draws: int
    model: StateDict
    ema: StateDict | None
    optimizer: StateDict
    schedule: StateDict
    rng: list[RngState]
    world_size: int
    model_id: str
    task: str
    scale: int
    config: str
    best_psnr: float | None = None
    psnr: float | None = None
    ssim: float | None = None

    @property
    def run_name(self) -> str:
        """The run's name, from its config (``"model"`` when the config has none)."""
        return str(json.loads(self.config).get("name") or "model")

    @property
    def scores(self) -> tuple[float, float] | None:
        """The last validation's (PSNR, SSIM), or None before any."""
        return (self.psnr, self.ssim) if self.psnr is not None and self.ssim is not None else None

    def to_state(self) -> dict[str, object]:
        """The plain dict written to disk (with ``format`` and ``version``)."""
        return {"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_state(cls, state: dict[str, object], path: Path) -> TrainingCheckpoint:
        """The record of a loaded dict; ``CheckpointError`` naming the first missing or wrong field."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in state:
                if field.default is dataclasses.MISSING:
                    raise CheckpointError(f"{path}: the checkpoint has no '{field.name}'")
                continue
            value = state[field.name]
            if not _FIELD_CHECKS[field.name](value):
                raise CheckpointError(f"{path}: the checkpoint's '{field.name}' is not what it should be")
            values[field.name] = value
        return cls(**values)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_score(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


_FIELD_CHECKS = {
    "step": _is_int,
    "draws": _is_int,
    "model": lambda v: isinstance(v, dict),
    "ema": lambda v: v is None or isinstance(v, dict),
    "optimizer": lambda v: isinstance(v, dict),
    "schedule": lambda v: isinstance(v, dict),
    "rng": lambda v: isinstance(v, list) and all(isinstance(item, dict) for item in v),
    "world_size": _is_int,
    "model_id": lambda v: isinstance(v, str),
    "task": lambda v: isinstance(v, str),
    "scale": _is_int,
    "config": lambda v: isinstance(v, str),
    "best_psnr": _is_score,
    "psnr": _is_score,
    "ssim": _is_score,
}


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return checkpoints_dir(run_dir) / f"step_{step:08d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoints, oldest (lowest step) first."""
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)) and p.is_file()]
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints; returns the deleted paths."""
    found = list_checkpoints(run_dir)
    doomed = found[: max(0, len(found) - keep)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


# --------------------------------------------------------------------------------------------------
# Random generator states as tensors


def capture_rng() -> RngState:
    """This process's python, numpy (legacy global), torch and CUDA generator states, weights_only-safe."""
    version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=True)
    assert isinstance(numpy_state, tuple)  # the dict form is for generators other than MT19937
    _, keys, position, has_gauss, cached = numpy_state
    state: RngState = {
        "python_version": int(version),
        "python": torch.tensor(python_state, dtype=torch.int64),
        "python_gauss": gauss,
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": int(position),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: RngState) -> None:
    """Put back generator states captured by ``capture_rng`` (CUDA only when devices exist)."""
    python_state = tuple(int(v) for v in state["python"].tolist())
    random.setstate((int(state["python_version"]), python_state, state["python_gauss"]))
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (
            "MT19937",
            keys,
            int(state["numpy_pos"]),
            int(state["numpy_has_gauss"]),
            float(state["numpy_cached"]),
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)


# --------------------------------------------------------------------------------------------------
# Files


def save_checkpoint(checkpoint: TrainingCheckpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` atomically (temp file in the same folder, fsync, ``os.replace``),
    replacing ``path`` if it exists; the folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=True) as temp, open(temp, "wb") as stream:
        torch.save(checkpoint.to_state(), stream)
    return path


def _reason(error: Exception) -> str:
    """Why torch could not read the file, without torch's advice to load it unsafely."""
    if is_unsafe_pickle_refusal(error):
        return "it holds Python objects beyond plain data, which are never loaded"
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def load_checkpoint(path: str | Path) -> TrainingCheckpoint:
    """Read a checkpoint on the CPU with ``weights_only=True``; refuse files that are not ours
    (``CheckpointError`` naming the file and, for a damaged record, the field)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable training checkpoint ({_reason(error)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an IR Studio training checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {state.get('version')} (this IR Studio reads {VERSION})"
        )
    return TrainingCheckpoint.from_state(state, path)
