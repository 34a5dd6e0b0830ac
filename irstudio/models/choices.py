"""Which models the user can pick: tasks, and the models that serve each (shared by the app and the CLI).

A ``ModelChoice`` is one entry of the list: a registry ``ModelSpec`` plus the weights to load into
it. Every list is in this order: models with shipped weights (weights/, described in
weights/manifest.json), the user's library (``paths.user_library_dir()``: ``.safetensors`` files
written by ``training.export``, recognised by our metadata), classical baselines, and the
architecture presets without weights (random initialisation, marked "untrained"); inside a kind, the
registry's order (shipped, baselines, presets) or the library's (by name).

``all_choices`` is every model (``irstudio models`` prints it), ``choices_for(task)`` those of one
``TaskChoice`` (the model panel and the training panel show it): the same entries, in the same order,
with the same labels. ``manifest_records(path)`` is the manifest's entries by id for the model
cards, empty (logged) when the manifest is damaged: a damaged manifest must not stop the app; the
registry then lists no shipped models either (``catalog``).

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
from irstudio.models.loading import WeightsError, read_manifest
from irstudio.models.spec import ModelSpec, Task

__all__ = [
    "BASELINE",
    "KINDS",
    "KIND_TITLES",
    "LIBRARY",
    "SHIPPED",
    "TASKS",
    "UNTRAINED",
    "LibraryModel",
    "ModelChoice",
    "TaskChoice",
    "all_choices",
    "choices_for",
    "library_models",
    "manifest_records",
    "model_card",
    "task_choice",
]

_log = logging.getLogger(__name__)

SHIPPED, LIBRARY, BASELINE, UNTRAINED = "shipped", "library", "baseline", "untrained"
KINDS = (SHIPPED, LIBRARY, BASELINE, UNTRAINED)
"""The kinds of model, in the order every list shows them."""
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

    ``key``: unique in the app (the registry id, or ``library:<file name>``); ``label``: the name
    shown; ``spec``: the registry entry whose module is built (a library model's base preset);
    ``kind``: one of ``KINDS``; ``weights``: the file to load, None for baselines and untrained
    presets; ``record``: what is known about its training (manifest entry, or the library file's
    metadata), possibly empty. ``tasks`` and ``scale``: what it is offered for, the spec's unless
    given (a library model serves the task and scale it was exported for).
    """

    key: str
    label: str
    spec: ModelSpec
    kind: str
    weights: Path | None = None
    record: Mapping[str, object] = field(default_factory=dict)
    tasks: tuple[Task, ...] = ()
    scale: int = 0

    def __post_init__(self) -> None:
        if not self.tasks:
            object.__setattr__(self, "tasks", self.spec.tasks)
        if not self.scale:
            object.__setattr__(self, "scale", self.spec.scale)

    @property
    def untrained(self) -> bool:
        return self.kind == UNTRAINED

    @property
    def model_id(self) -> str:
        """The id the command line takes (``irstudio restore --model``): the registry id, or the
        library file's stem."""
        if self.kind == LIBRARY and self.weights is not None:
            return self.weights.stem
        return self.spec.id

    def serves(self, task: TaskChoice) -> bool:
        """Whether it is offered for ``task`` (its registry task, at its scale)."""
        return task.task in self.tasks and task.scale == self.scale


def manifest_records(path: Path) -> dict[str, Mapping[str, object]]:
    """The manifest's entries by model id, for the model cards; empty when the file is absent, and
    empty with a warning logged when it is damaged (``read_manifest`` refuses it)."""
    try:
        return read_manifest(path).records()
    except WeightsError as error:
        _log.warning("shipped models not listed: %s", error)
        return {}


def _registry_choice(spec: ModelSpec, manifest: Mapping[str, Mapping[str, object]]) -> ModelChoice:
    kind, weights = BASELINE, None
    if spec.learned and spec.weights is not None:
        from irstudio.paths import weights_dir

        kind, weights = SHIPPED, weights_dir() / spec.weights
    elif spec.learned:
        kind = UNTRAINED
    return ModelChoice(spec.id, spec.name, spec, kind, weights, manifest.get(spec.id, {}))


def _library_tasks(model: LibraryModel) -> tuple[Task, ...]:
    """The task a library model was exported for; its preset's tasks when the name is not a task."""
    try:
        return (Task(model.task),)
    except ValueError:
        return model.spec.tasks


def _library_choice(model: LibraryModel) -> ModelChoice:
    return ModelChoice(
        f"library:{model.path.name}",
        model.name,
        model.spec,
        LIBRARY,
        model.path,
        model.metadata,
        tasks=_library_tasks(model),
        scale=model.scale,
    )


def _in_kind_order(choices: Iterable[ModelChoice]) -> list[ModelChoice]:
    """``choices`` grouped by kind in ``KINDS`` order, each group in its given order."""
    listed = list(choices)
    return [choice for kind in KINDS for choice in listed if choice.kind == kind]


def all_choices(
    *, manifest: Mapping[str, Mapping[str, object]], library: Iterable[LibraryModel]
) -> list[ModelChoice]:
    """Every model: shipped, library, baselines, untrained presets (each in its order).

    ``manifest``: the manifest's entries by id (``manifest_records``), the shipped models' records;
    ``library``: the user's models (``library_models``)."""
    registry = [_registry_choice(spec, manifest) for spec in REGISTRY]
    return _in_kind_order([*registry, *(_library_choice(model) for model in library)])


def choices_for(
    task: TaskChoice, *, manifest: Mapping[str, Mapping[str, object]], library: Iterable[LibraryModel]
) -> list[ModelChoice]:
    """The models for ``task``: ``all_choices`` that serve it, in the same order."""
    return [choice for choice in all_choices(manifest=manifest, library=library) if choice.serves(task)]


# ---------------------------------------------------------------------------------- model card


def _count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:.2f} M"
    if value >= 1_000:
        return f"{value / 1e3:.1f} k"
    return str(value)


def _score_line(score: Mapping[str, object]) -> str:
    """One benchmark's line, e.g. ``Set5 x2: 35.83 dB, SSIM 0.9488 (bicubic-x2 33.68 dB, +2.15)``."""
    psnr = _number(score["psnr"])
    line = f"{score.get('benchmark', '?')}: {psnr:.2f} dB"
    if "ssim" in score:
        line += f", SSIM {_number(score['ssim']):.4f}"
    base = score.get("baseline")
    if isinstance(base, Mapping) and "psnr" in base:
        base_psnr = _number(base["psnr"])
        line += f" ({base.get('model', 'baseline')} {base_psnr:.2f} dB, {psnr - base_psnr:+.2f})"
    return line


def _number(value: object) -> float:
    """A JSON number (or numeric string) as float; ``TypeError``/``ValueError`` otherwise."""
    if isinstance(value, int | float | str):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def _score_list(scores: object) -> list[Mapping[str, object]]:
    """The scores of a manifest's ``scores`` list that have a PSNR."""
    if not isinstance(scores, list):
        return []
    return [score for score in scores if isinstance(score, Mapping) and "psnr" in score]


def _scores(scores: object) -> str:
    """A manifest's ``scores`` list as one line per benchmark, with the baseline and the gain."""
    if not isinstance(scores, list):
        return str(scores)
    return "\n".join(_score_line(score) for score in _score_list(scores))


def _below_baseline(scores: object) -> list[str]:
    """The benchmarks of a manifest ``scores`` list where the model's PSNR is under its baseline's."""
    below = []
    for score in _score_list(scores):
        base = score.get("baseline")
        if isinstance(base, Mapping) and "psnr" in base and _number(score["psnr"]) < _number(base["psnr"]):
            below.append(str(score.get("benchmark", "?")))
    return below


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
        rows.append(("Iterations", f"{int(_number(steps)):,}"))
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


_STATUS = {
    SHIPPED: "Trained weights shipped with IR Studio",
    LIBRARY: "Your model, based on {id}",
    BASELINE: "Classical method (no weights)",
    UNTRAINED: "Untrained (random weights): output is not a restoration",
}


def model_card(choice: ModelChoice) -> list[tuple[str, str]]:
    """(label, value) rows describing ``choice``; the first row is the status line."""
    spec = choice.spec
    rows = [("Status", _STATUS[choice.kind].format(id=spec.id))]
    rows.append(("Architecture", f"{spec.arch}, ×{spec.scale}"))
    if spec.learned:
        rows.append(("Parameters", _count(spec.params)))
        if spec.macs_720p is not None:
            rows.append(("MACs", f"{spec.macs_720p / 1e9:.1f} G for a 1280×720 output"))
        precisions = ", ".join(spec.precisions)
        rows.append(("Precision", f"{precisions}; tiles on a {spec.tile_multiple} px grid"))
    if choice.weights is not None:
        rows.append(("Weights", choice.weights.name))
    rows += _training_rows(choice.record)
    if spec.description:
        rows.append(("About", spec.description))
    return rows
