"""What ``train()`` yields while it runs, and what it returns.

Events are frozen dataclasses; ``to_record()`` gives the JSON line ``MetricsLog`` writes to
``metrics.jsonl``.
Every process of a distributed run yields ``Started``/``StepLog``/``Notice``; only rank 0 validates
and writes checkpoints, so ``Validation`` and ``CheckpointSaved`` come from rank 0 only.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _number(value: float) -> float | None:
    """JSON has no NaN/inf: they are written as null."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Started:
    """The run is set up. ``start_step`` > 0 when resumed; ``skipped`` lists files left out."""

    run_dir: Path
    model_id: str
    task: str
    scale: int
    device: str
    precision: str
    world_size: int
    start_step: int
    total_steps: int
    train_images: int
    val_images: int
    skipped: tuple[str, ...] = ()

    def to_record(self) -> dict[str, object]:
        return {
            "event": "started",
            "step": self.start_step,
            "total_steps": self.total_steps,
            "model": self.model_id,
            "task": self.task,
            "scale": self.scale,
            "device": self.device,
            "precision": self.precision,
            "world_size": self.world_size,
            "train_images": self.train_images,
            "val_images": self.val_images,
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True)
class StepLog:
    """Training progress after ``step`` steps (1-based count of steps done): loss terms averaged over
    the steps since the last log, learning rate, patch size and throughput."""

    step: int
    total_steps: int
    losses: dict[str, float]
    lr: float
    patch: int
    steps_per_second: float

    @property
    def loss(self) -> float:
        return sum(self.losses.values())

    def to_record(self) -> dict[str, object]:
        return {
            "event": "step",
            "step": self.step,
            "loss": _number(self.loss),
            "losses": {k: _number(v) for k, v in self.losses.items()},
            "lr": self.lr,
            "patch": self.patch,
            "steps_per_second": self.steps_per_second,
        }


@dataclass(frozen=True)
class Validation:
    """Mean PSNR/SSIM (dB, [-1, 1]) of the validated (EMA) weights on the fixed validation crops.

    ``previews``: up to four (input, output, target) uint8 HxWx3 triplets for a validation strip.
    """

    step: int
    psnr: float
    ssim: float
    images: int
    previews: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = field(
        default=(), repr=False, compare=False
    )

    def to_record(self) -> dict[str, object]:
        return {
            "event": "validation",
            "step": self.step,
            "psnr": _number(self.psnr),
            "ssim": _number(self.ssim),
            "images": self.images,
        }


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path

    def to_record(self) -> dict[str, object]:
        return {"event": "checkpoint", "step": self.step, "path": str(self.path)}


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the run (e.g. a skipped non-finite step)."""

    step: int
    message: str

    def to_record(self) -> dict[str, object]:
        return {"event": "notice", "step": self.step, "message": self.message}


TrainEvent = Started | StepLog | Validation | CheckpointSaved | Notice


@dataclass(frozen=True)
class TrainSummary:
    """How the run ended. ``stopped``: cancelled before ``total_steps`` (a checkpoint was written at
    ``final_step`` so it can be resumed). PSNR/SSIM are the last validation's (None if none ran)."""

    run_dir: Path
    final_step: int
    total_steps: int
    steps_run: int
    stopped: bool
    elapsed_s: float
    last_checkpoint: Path | None
    psnr: float | None = None
    ssim: float | None = None
    best_psnr: float | None = None

    def to_record(self) -> dict[str, object]:
        return {
            "event": "finished",
            "step": self.final_step,
            "total_steps": self.total_steps,
            "steps_run": self.steps_run,
            "stopped": self.stopped,
            "elapsed_s": round(self.elapsed_s, 3),
            "checkpoint": str(self.last_checkpoint) if self.last_checkpoint else None,
            "psnr": self.psnr,
            "ssim": self.ssim,
            "best_psnr": self.best_psnr,
        }


class MetricsLog:
    """``metrics.jsonl`` of a run: one JSON object per line; rank 0 only. Resuming at step s keeps the
    lines with ``step <= s`` and drops the rest (they belong to steps that will be redone)."""

    def __init__(self, path: Path, *, resume_step: int | None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[str] = []
        if resume_step is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resume_step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue
        path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def write(self, record: dict[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({**record, "time": round(time.time(), 3)}) + "\n")
