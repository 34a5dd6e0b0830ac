"""What the model panel offers: tasks, and for each task the models that serve it (no Qt here).

A ``ModelChoice`` is one entry of the list: a registry ``ModelSpec`` plus the weights to load into
it. The list for a task is, in this order: models with shipped weights (weights/, described in
weights/manifest.json), the user's library (``paths.user_library_dir()``: ``.safetensors`` files
written by ``training.export``, recognised by our metadata), classical baselines, and the
architecture presets without weights (random initialisation, marked "untrained").

``model_card(choice)`` gives the rows of the model card: architecture, parameters, MACs, scale,
precisions, weights and, when known, training data, iterations and benchmark scores.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from irstudio.models.catalog import REGISTRY
from irstudio.models.library import LibraryModel, library_models
from irstudio.models.spec import ModelSpec, Task

__all__ = [
    "TASKS",
    "LibraryModel",
    "ModelChoice",
    "TaskChoice",
    "choices_for",
    "library_models",
    "model_card",
    "read_manifest",
    "task_choice",
]

_log = logging.getLogger(__name__)

SHIPPED, LIBRARY, BASELINE, UNTRAINED = "shipped", "library", "baseline", "untrained"
KIND_TITLES = {
    SHIPPED: "Trained models",
    LIBRARY: "Your library",
    BASELINE: "Classical baselines",
    UNTRAINED: "Untrained presets (random weights)",
}


@dataclass(frozen=True)
class TaskChoice:
    """A task as the user picks it: ``key`` (settings), ``label``, the registry task and scale."""

    key: str
    label: str
    task: Task
    scale: int


TASKS: tuple[TaskChoice, ...] = (
    TaskChoice("denoise", "Denoise", Task.DENOISE, 1),
    TaskChoice("sr2", "Super-resolution ×2", Task.SR, 2),
    TaskChoice("sr4", "Super-resolution ×4", Task.SR, 4),
    TaskChoice("jpeg", "Remove JPEG artifacts", Task.JPEG, 1),
    TaskChoice("derain", "Remove rain", Task.DERAIN, 1),
    TaskChoice("realphoto", "Restore a real photo", Task.REALPHOTO, 1),
    TaskChoice("realphoto4", "Restore a real photo ×4", Task.REALPHOTO, 4),
)


def task_choice(key: str) -> TaskChoice:
    """The task with ``key``; the first task when the key is unknown (e.g. stale settings)."""
    return next((t for t in TASKS if t.key == key), TASKS[0])


@dataclass(frozen=True)
class ModelChoice:
    """One model the user can run.

    ``key``: unique in the app (the registry id, or ``library:<file name>``); ``kind``: one of
    shipped / library / baseline / untrained; ``weights``: the file to load, None for baselines
    and untrained presets; ``record``: what is known about its training (manifest entry, or the
    library file's metadata), possibly empty.
    """

    key: str
    label: str
    spec: ModelSpec
    kind: str
    weights: Path | None = None
    record: Mapping[str, object] = field(default_factory=dict)

    @property
    def untrained(self) -> bool:
        return self.kind == UNTRAINED


def read_manifest(path: Path) -> dict[str, dict[str, object]]:
    """The manifest's entries by model id; empty when the file is absent or unreadable (logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        _log.warning("cannot read %s: %s", path, error)
        return {}
    entries = data.get("models", []) if isinstance(data, dict) else []
    return {str(e["id"]): e for e in entries if isinstance(e, dict) and "id" in e}


def _registry_choices(task: TaskChoice, manifest: Mapping[str, Mapping[str, object]]) -> list[ModelChoice]:
    choices = []
    for spec in REGISTRY.for_task(task.task, task.scale):
        if not spec.learned:
            kind, weights = BASELINE, None
        elif spec.weights is not None:
            from irstudio.paths import weights_dir

            kind, weights = SHIPPED, weights_dir() / spec.weights
        else:
            kind, weights = UNTRAINED, None
        choices.append(ModelChoice(spec.id, spec.name, spec, kind, weights, manifest.get(spec.id, {})))
    return choices


def choices_for(
    task: TaskChoice, *, manifest: Mapping[str, Mapping[str, object]], library: Iterable[LibraryModel]
) -> list[ModelChoice]:
    """The models for ``task``: shipped, library, baselines, untrained presets (each in its order)."""
    registry = _registry_choices(task, manifest)
    mine = [
        ModelChoice(f"library:{m.path.name}", m.name, m.spec, LIBRARY, m.path, m.metadata)
        for m in library
        if m.task == task.task.value and m.scale == task.scale
    ]
    by_kind = {kind: [c for c in registry if c.kind == kind] for kind in (SHIPPED, BASELINE, UNTRAINED)}
    return [*by_kind[SHIPPED], *mine, *by_kind[BASELINE], *by_kind[UNTRAINED]]


# ---------------------------------------------------------------------------------- model card


def _count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:.2f} M"
    if value >= 1_000:
        return f"{value / 1e3:.1f} k"
    return str(value)


def _scores(scores: object) -> str:
    """A manifest's ``scores`` list as one line per benchmark, with the baseline and the gain, e.g.
    ``Set5 x2: 35.83 dB, SSIM 0.9488 (bicubic-x2 33.68 dB, +2.15)``."""
    if not isinstance(scores, list):
        return str(scores)
    lines = []
    for score in scores:
        if not isinstance(score, Mapping) or "psnr" not in score:
            continue
        psnr = float(score["psnr"])
        line = f"{score.get('benchmark', '?')}: {psnr:.2f} dB"
        if "ssim" in score:
            line += f", SSIM {float(score['ssim']):.4f}"
        base = score.get("baseline")
        if isinstance(base, Mapping) and "psnr" in base:
            base_psnr = float(base["psnr"])
            line += f" ({base.get('model', 'baseline')} {base_psnr:.2f} dB, {psnr - base_psnr:+.2f})"
        lines.append(line)
    return "\n".join(lines)


def _below_baseline(scores: object) -> list[str]:
    """The benchmarks of a manifest ``scores`` list where the model's PSNR is under its baseline's."""
    if not isinstance(scores, list):
        return []
    return [
        str(score.get("benchmark", "?"))
        for score in scores
        if isinstance(score, Mapping)
        and isinstance(score.get("baseline"), Mapping)
        and "psnr" in score
        and "psnr" in score["baseline"]
        and float(score["psnr"]) < float(score["baseline"]["psnr"])
    ]


def _training_rows(record: Mapping[str, object]) -> list[tuple[str, str]]:
    """Training data, iterations, starting weights and scores from a manifest entry (``training``,
    ``scores``) or a library file's metadata (``training`` as ``training.export`` writes it)."""
    training = record.get("training")
    training = training if isinstance(training, Mapping) else {}
    rows = []
    data = training.get("data")
    if data:
        rows.append(("Training data", data if isinstance(data, str) else json.dumps(data)))
    steps = training.get("iterations") or training.get("steps")
    if steps:
        rows.append(("Iterations", f"{int(steps):,}"))  # type: ignore[call-overload]
    started_from = training.get("started_from") or training.get("base_weights")
    if started_from and started_from != "random":
        rows.append(("Started from", Path(str(started_from)).stem))
    if record.get("scores"):
        rows.append(("Scores", _scores(record["scores"])))
        below = _below_baseline(record["scores"])
        if below:
            where = ", ".join(below)
            rows.append(("Caution", f"scores below its baseline on {where}: not yet a good choice"))
    psnr, ssim = training.get("psnr"), training.get("ssim")
    if isinstance(psnr, int | float):
        extra = f", SSIM {ssim:.4f}" if isinstance(ssim, int | float) else ""
        rows.append(("Validation", f"{psnr:.2f} dB{extra}"))
    return rows


def model_card(choice: ModelChoice) -> list[tuple[str, str]]:
    """(label, value) rows describing ``choice``; the first row is the status line."""
    spec = choice.spec
    status = {
        SHIPPED: "Trained weights shipped with IR Studio",
        LIBRARY: f"Your model, based on {spec.id}",
        BASELINE: "Classical method (no weights)",
        UNTRAINED: "Untrained (random weights): output is not a restoration",
    }[choice.kind]
    rows = [("Status", status), ("Architecture", f"{spec.arch}, ×{spec.scale}")]
    if spec.learned:
        rows.append(("Parameters", _count(spec.params)))
        if spec.macs_720p is not None:
            rows.append(("MACs", f"{spec.macs_720p / 1e9:.1f} G for a 1280×720 output"))
        precisions = ", ".join(("fp32", *spec.half_dtypes))
        rows.append(("Precision", f"{precisions}; tiles on a {spec.tile_multiple} px grid"))
    if choice.weights is not None:
        rows.append(("Weights", choice.weights.name))
    rows += _training_rows(choice.record)
    if spec.description:
        rows.append(("About", spec.description))
    return rows
