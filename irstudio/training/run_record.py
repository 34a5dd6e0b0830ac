"""What a finished run folder says about its training, as a weights-manifest record.

``run_facts(run_dir)`` reads ``config.toml`` and ``metrics.jsonl`` of a run (``runs/<name>``) and
returns the manifest fields: architecture, preset, task, scale, degradation and a ``training``
record (data folders, the weight file it started from ("random" when none) and whether by
transfer, iterations, patch/batch stages, loss, optimiser, device, hardware, wall time summed over
the run's sessions, resumes, last validation, and ``pixels_seen``: the input pixels of every
training patch, batch x patch² summed over the steps of each stage). Data paths are given from
``shared/`` on, so the record names the training set without this machine's layout.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from irstudio.models.catalog import resolve_id
from irstudio.models.manifest_doc import pixels_seen
from irstudio.training.config import TrainConfig
from irstudio.training.config_io import config_to_dict, load_config


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl (not a finished run folder)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wall_time_s(events: list[dict[str, Any]]) -> float:
    """Seconds of training: each session runs from its ``started`` event to its last event."""
    total, session_start, last = 0.0, None, None
    for event in events:
        if event.get("event") == "started":
            if session_start is not None and last is not None:
                total += last - session_start
            session_start = event["time"]
        last = event.get("time", last)
    if session_start is not None and last is not None:
        total += last - session_start
    return round(total, 3)  # the events record milliseconds


def _portable(path: str | None) -> str | None:
    if path is None:
        return None
    marker = "shared/data/"
    return path[path.index(marker) :] if marker in path else Path(path).name


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_hardware(config: TrainConfig, device: str) -> str:
    """``"CPU <name>, N thread(s)"`` for CPU runs (this machine); GPU runs must be named by hand."""
    if device != "cpu":
        raise ValueError(f"the run trained on {device}: name its hardware with --hardware")
    threads = config.runtime.cpu_threads
    return f"CPU {_cpu_name()}, {threads or 'all'} thread{'s' if threads != 1 else ''}"


def _stages(config: TrainConfig) -> list[dict[str, int]]:
    starts = [0, *[stage.step for stage in config.train.progressive]]
    return [
        {"from_step": start, "patch": config.patch_at(start)[0], "batch": config.patch_at(start)[1]}
        for start in starts
    ]


def _data_folders(config: TrainConfig) -> str | None:
    """The training folders as one portable line ("shared/data/train/a + shared/data/train/b")."""
    folders = [config.data.clean, *config.data.more_clean] if config.data.clean else [config.data.target]
    return " + ".join(str(_portable(str(folder))) for folder in folders if folder is not None) or None


def _started_from(config: TrainConfig) -> str:
    """The weight file the run started from (as ``training.setup`` picks it), or "random"."""
    if config.model.weights is not None:
        return Path(config.model.weights).name
    return resolve_id(config.model.id).weights or "random"


def run_facts(run_dir: Path, *, hardware: str | None = None) -> dict[str, Any]:
    """Manifest fields for the run in ``run_dir`` (see the module docstring)."""
    config = load_config(run_dir / "config.toml")
    events = _events(run_dir)
    started = [event for event in events if event.get("event") == "started"]
    if not started:
        raise ValueError(f"{run_dir}: the run never started")
    checkpoints = [int(event["step"]) for event in events if event.get("event") == "checkpoint"]
    steps = max(checkpoints, default=0)  # what export_model writes: the latest checkpoint
    validations = [event for event in events if event.get("event") == "validation"]
    spec = resolve_id(config.model.id)
    task = config.model.task or spec.tasks[0].value
    degradation = (
        config_to_dict(config).get("degradation") or config.degradation_for(task, spec.scale).to_dict()
    )
    facts: dict[str, Any] = {
        "preset": spec.id,
        "architecture": spec.arch,
        "task": task,
        "scale": spec.scale,
        "degradation": degradation,
        "training": {
            "data": _data_folders(config),
            "started_from": _started_from(config),
            "transfer": config.model.transfer,
            "iterations": steps,
            "planned_iterations": config.train.steps,
            "stages": _stages(config),
            "loss": config.loss.kind,
            "lr": config.optim.lr,
            "ema_decay": config.optim.ema_decay,
            "weights": "EMA, stored fp16" if config.optim.ema_decay else "raw, stored fp16",
            "device": started[0].get("device"),
            "hardware": hardware or default_hardware(config, str(started[0].get("device"))),
            "wall_time_s": wall_time_s(events),
            "sessions": len(started),
            "last_validation": validations[-1].get("psnr") if validations else None,
            "seed": config.seed,
        },
    }
    facts["training"]["pixels_seen"] = pixels_seen(facts["training"])
    return facts
