"""The Training panel's form model: its values, the config, and the work its controller submits.

``TrainingForm`` holds the panel's values as plain data (JSON-able: the controller persists it in
``QSettings`` through ``to_dict``/``from_dict``). From it:

- ``degradation_for(form) -> Degradation``: optional Gaussian blur, then the task's step
  (noise σ range, bicubic downscale, JPEG quality range or rain streaks).
- ``check_folder(form) -> str``: raises ``ConfigError`` when the folder holds no images (clean) or
  no input/target pairs (paired); returns a one-line description ("12 images").
- ``build_config(form) -> TrainConfig``: the run ``train()`` executes (``data.num_workers = 0``:
  the GUI trains on a worker thread, not in DataLoader processes). Raises ``ConfigError``.
- ``resume_config(form) -> TrainConfig``: the run folder's own ``config.toml`` with the form's
  iterations and device, to continue its latest checkpoint.
- ``make_preview(form)``: up to four ``(input, target)`` pairs as training draws them, or why not;
  ``preview_work``, ``training_work``, ``export_work``: ``TaskRunner`` work (see ``gui.tasks``).
  ``training_work`` stops *gracefully* whatever stops it: the Stop token, or the runner
  cancelling the job (shutdown) — the loop then finishes its step and writes a checkpoint.
- ``read_history(run_dir, up_to)``: loss and PSNR points of ``metrics.jsonl`` (curves on resume).

No Qt here: the module runs in tests without a display; the view
(``widgets/training_panel.py``) and the controller (``training_panel_controller.py``) use it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from irstudio import paths
from irstudio.core import Cancelled, CancelToken
from irstudio.data import (
    DatasetError,
    Degradation,
    Downscale,
    GaussianBlur,
    Jpeg,
    Noise,
    PairedSource,
    Rain,
    Step,
    list_images,
    match_pairs,
    preview_pairs,
)
from irstudio.models import Task, task_choice
from irstudio.training import (
    ConfigError,
    DataSection,
    LossSection,
    ModelSection,
    OptimSection,
    RuntimeSection,
    TrainConfig,
    TrainEvent,
    TrainSection,
    TrainSummary,
    export_model,
    latest_checkpoint,
    load_config,
    train,
)

__all__ = [
    "LOSSES",
    "PREVIEW_COUNT",
    "PreviewResult",
    "TrainingForm",
    "build_config",
    "check_folder",
    "checkpoint_step",
    "default_run_name",
    "default_runs_dir",
    "degradation_for",
    "export_path",
    "export_work",
    "list_runs",
    "make_preview",
    "paired_folders",
    "preview_work",
    "read_history",
    "resume_config",
    "run_dir_of",
    "training_work",
]

_log = logging.getLogger(__name__)

PREVIEW_COUNT = 4
LOSSES: tuple[tuple[str, str], ...] = (
    ("l1_fft", "L1 + 0.1·FFT (dual-domain)"),
    ("l1", "L1"),
    ("charbonnier", "Charbonnier"),
)
INPUT_DIR, TARGET_DIR = "input", "target"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")  # the rule training.export uses for file stems


def default_runs_dir() -> Path:
    """Where runs go unless the user picks another folder: ``<user state dir>/runs``."""
    return paths.user_state_dir() / "runs"


@dataclass(frozen=True)
class TrainingForm:
    """The Training panel's values. Ranges are ``(low, high)``; σ on the 0-255 scale.

    ``task``: a ``model_choices.TASKS`` key (denoise, sr2, sr4, jpeg, derain). ``model_id``: the
    registry preset trained; ``weights``: a library file to start from ("" = the preset's shipped
    weights, else its random initialisation). ``name`` names the run folder ``output_dir / name``.
    """

    folder: str = ""
    paired: bool = False
    task: str = "denoise"
    noise_sigma: tuple[float, float] = (0.0, 50.0)
    gray_probability: float = 0.2
    jpeg_quality: tuple[int, int] = (10, 90)
    rain_density: tuple[float, float] = (0.001, 0.005)
    rain_length: tuple[float, float] = (10.0, 35.0)
    rain_angle: tuple[float, float] = (-20.0, 20.0)
    rain_width: tuple[float, float] = (1.0, 2.0)
    rain_brightness: tuple[float, float] = (0.5, 0.9)
    blur: bool = False
    blur_sigma: tuple[float, float] = (0.2, 2.0)
    model_id: str = "compacter-x1-denoise"  # fine-tune the shipped model, never random weights by default
    weights: str = ""
    steps: int = 1000  # a fine-tune, not a training from scratch
    patch: int = 64
    batch_size: int = 8
    lr: float = 2e-4
    loss: str = "l1_fft"
    validate_every: int = 100
    checkpoint_every: int = 250
    device: str = "auto"
    output_dir: str = field(default_factory=lambda: str(default_runs_dir()))
    name: str = ""
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain values (tuples as lists) for JSON."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TrainingForm:
        """Inverse of ``to_dict``, forgiving: unknown keys and values of the wrong type are dropped
        (stale or damaged settings give the defaults for those fields)."""
        defaults = cls()
        values: dict[str, object] = {}
        for item in dataclasses.fields(cls):
            if item.name not in data:
                continue
            value, default = data[item.name], getattr(defaults, item.name)
            if isinstance(default, tuple):
                ok = isinstance(value, list | tuple) and len(value) == 2
                ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                if ok:
                    values[item.name] = tuple(type(default[0])(v) for v in value)  # type: ignore[union-attr]
            elif isinstance(default, bool):
                if isinstance(value, bool):
                    values[item.name] = value
            elif isinstance(default, float):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values[item.name] = float(value)
            elif isinstance(value, type(default)) and not isinstance(value, bool):
                values[item.name] = value
        return replace(defaults, **values)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ config


def run_dir_of(form: TrainingForm) -> Path:
    return Path(form.output_dir).expanduser() / form.name.strip()


def paired_folders(folder: str | Path) -> tuple[Path, Path]:
    """The ``input/`` and ``target/`` subfolders of a paired data folder."""
    root = Path(folder).expanduser()
    return root / INPUT_DIR, root / TARGET_DIR


def _task_step(form: TrainingForm) -> Step:
    choice = task_choice(form.task)
    if choice.task is Task.SR:
        return Downscale(scale=choice.scale)
    if choice.task is Task.JPEG:
        return Jpeg(quality=form.jpeg_quality)
    if choice.task is Task.REALPHOTO:
        return Degradation.for_task(Task.REALPHOTO, choice.scale).steps[0]
    if choice.task is Task.DERAIN:
        return Rain(
            density=form.rain_density,
            length=form.rain_length,
            angle=form.rain_angle,
            width=form.rain_width,
            brightness=form.rain_brightness,
        )
    return Noise(sigma=form.noise_sigma, gray_probability=form.gray_probability)


def degradation_for(form: TrainingForm) -> Degradation:
    """Blur (when on), then the task's step. Raises ``ConfigError`` for a bad range, naming it."""
    try:
        steps: list[Step] = [GaussianBlur(sigma=form.blur_sigma)] if form.blur else []
        steps.append(_task_step(form))
    except ValueError as error:
        raise ConfigError(f"degradation: {error}") from None
    return Degradation(tuple(steps))


def _folder(form: TrainingForm) -> Path:
    if not form.folder.strip():
        raise ConfigError("Choose a folder of training images first.")
    folder = Path(form.folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder.")
    return folder


def check_folder(form: TrainingForm) -> str:
    """A line describing the data ("12 images", "8 pairs"); ``ConfigError`` when there is none."""
    folder = _folder(form)
    if form.paired:
        inputs, targets = paired_folders(folder)
        for sub in (inputs, targets):
            if not sub.is_dir():
                raise ConfigError(f"{folder}: paired data needs '{INPUT_DIR}' and '{TARGET_DIR}' subfolders.")
        pairs, unmatched = match_pairs(inputs, targets)
        if not pairs:
            raise ConfigError(f"{folder}: no input/target pairs (files are matched by name).")
        extra = f", {len(unmatched)} unmatched" if unmatched else ""
        return f"{len(pairs)} pairs{extra}"
    count = len(list_images(folder))
    if count == 0:
        raise ConfigError(f"{folder}: no images found (PNG, JPEG, TIFF, WebP, BMP).")
    return f"{count} image{'s' if count != 1 else ''}"


def _data_section(form: TrainingForm, folder: Path) -> DataSection:
    common: dict[str, Any] = {
        "patch": form.patch,
        "batch_size": form.batch_size,
        "num_workers": 0,
        "val_fraction": 0.05,
        "val_max_images": 8,
        "val_patch": max(16, min(128, 2 * form.patch)),
    }
    if form.paired:
        inputs, targets = paired_folders(folder)
        return DataSection(input=inputs, target=targets, **common)
    return DataSection(clean=folder, **common)


def build_config(form: TrainingForm) -> TrainConfig:
    """The run described by ``form``; ``ConfigError`` naming what is wrong."""
    folder = _folder(form)
    if not form.name.strip():
        raise ConfigError("Give the run a name (it names its folder).")
    if not form.output_dir.strip():
        raise ConfigError("Choose a folder for the runs.")
    choice = task_choice(form.task)
    try:
        steps = form.steps
        return TrainConfig(
            name=form.name.strip(),
            model=ModelSection(
                id=form.model_id, weights=Path(form.weights) if form.weights else None, task=choice.task.value
            ),
            data=_data_section(form, folder),
            degradation=None if form.paired else degradation_for(form),
            optim=OptimSection(lr=form.lr, warmup_steps=min(500, steps // 20), min_lr=min(1e-6, form.lr)),
            loss=LossSection(kind=form.loss),
            train=TrainSection(
                steps=steps,
                validate_every=form.validate_every,
                checkpoint_every=form.checkpoint_every,
                log_every=1 if steps <= 500 else 10,
            ),
            runtime=RuntimeSection(device=form.device),
            output_dir=Path(form.output_dir).expanduser(),
            seed=form.seed,
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(str(error)) from None


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint file ``step_00001234.pt``."""
    return int(path.stem.rpartition("_")[2])


def resume_config(form: TrainingForm) -> TrainConfig:
    """The config to continue the form's run folder: its saved ``config.toml`` (the form's when it
    has none) with the form's iterations and device. ``ConfigError`` when there is nothing to
    continue or the iterations do not go past the checkpoint."""
    run_dir = run_dir_of(form)
    checkpoint = latest_checkpoint(run_dir) if form.name.strip() else None
    if checkpoint is None:
        raise ConfigError(f"{run_dir}: no checkpoint to resume from.")
    saved = run_dir / "config.toml"
    config = load_config(saved) if saved.is_file() else build_config(form)
    done = checkpoint_step(checkpoint)
    if form.steps <= done:
        raise ConfigError(f"The run is at step {done}: set Iterations above {done} to continue it.")
    return replace(
        config,
        name=run_dir.name,
        output_dir=run_dir.parent,
        data=replace(config.data, num_workers=0),
        train=replace(config.train, steps=form.steps),
        runtime=replace(config.runtime, device=form.device),
    )


def list_runs(output_dir: str | Path) -> list[str]:
    """Names of the run folders in ``output_dir`` (those with a config or a checkpoint), newest first."""
    folder = Path(output_dir).expanduser()
    if not folder.is_dir():
        return []
    runs = [
        p for p in folder.iterdir() if p.is_dir() and ((p / "config.toml").is_file() or latest_checkpoint(p))
    ]
    return [p.name for p in sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)]


def default_run_name(
    model_id: str, task: str, output_dir: str | Path = "", now: datetime | None = None
) -> str:
    """``<model>-<task>-YYYYmmdd-HHMM`` (a valid run name), with ``-2``, ``-3``... when that folder
    already exists in ``output_dir``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M")
    name = _UNSAFE.sub("_", f"{model_id}-{task}-{stamp}")
    folder = Path(output_dir).expanduser()
    candidate, number = name, 1
    while output_dir and (folder / candidate).exists():
        number += 1
        candidate = f"{name}-{number}"
    return candidate


# ------------------------------------------------------------------------------------ history


def read_history(
    run_dir: Path, up_to: int | None = None
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``(loss points, PSNR points)`` as (step, value) from the run's ``metrics.jsonl`` (steps up to
    ``up_to`` when given); unreadable lines and non-finite values are passed over."""
    losses: list[tuple[int, float]] = []
    psnrs: list[tuple[int, float]] = []
    try:
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return losses, psnrs
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        step = record.get("step")
        if not isinstance(step, int) or (up_to is not None and step > up_to):
            continue
        event, value = record.get("event"), None
        if event == "step":
            value, target = record.get("loss"), losses
        elif event == "validation":
            value, target = record.get("psnr"), psnrs
        if isinstance(value, int | float) and math.isfinite(value):
            target.append((step, float(value)))
    return losses, psnrs


# ------------------------------------------------------------------------------------ work


@dataclass(frozen=True)
class PreviewResult:
    """Training pairs to show: ``(input, target)`` float32 HxWx3 in [0, 1] (target = scale x input)
    with ``summary`` describing the data ("12 images"), or ``message`` saying why there are none."""

    pairs: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    summary: str = ""
    message: str = ""


def _paired_preview(form: TrainingForm, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    inputs, targets = paired_folders(form.folder)
    pairs, _ = match_pairs(inputs, targets)
    step = max(1, len(pairs) // max(1, count))
    source = PairedSource(
        pairs[::step][: 2 * count], scale=task_choice(form.task).scale, ram_budget=0, min_patch=form.patch
    )
    rng = np.random.default_rng(seed)
    return [source.random_pair(i, rng, form.patch, augment=False) for i in range(min(count, len(source)))]


def make_preview(form: TrainingForm, *, count: int = PREVIEW_COUNT, seed: int = 0) -> PreviewResult:
    """Up to ``count`` pairs as training draws them (random crops of ``form.patch``); a message
    instead when the folder or the degradation is not usable."""
    try:
        summary = check_folder(form)
        if form.paired:
            pairs = _paired_preview(form, count, seed)
        else:
            pairs = preview_pairs(
                form.folder, degradation_for(form), patch=form.patch, count=count, seed=seed
            )
    except (ConfigError, DatasetError) as error:
        return PreviewResult(message=str(error))
    if not pairs:
        side = form.patch * task_choice(form.task).scale
        return PreviewResult(message=f"No image is at least {side}×{side} pixels (the training patch).")
    clipped = tuple((np.clip(lq, 0.0, 1.0), np.clip(gt, 0.0, 1.0)) for lq, gt in pairs)
    return PreviewResult(pairs=clipped, summary=summary)


def preview_work(
    form: TrainingForm, *, count: int = PREVIEW_COUNT, seed: int = 0
) -> Callable[[CancelToken], PreviewResult]:
    """Work returning a ``PreviewResult`` (a plain call: the runner reports it as ``finished``)."""

    def work(token: CancelToken) -> PreviewResult:
        token.raise_if_cancelled()
        return make_preview(form, count=count, seed=seed)

    return work


class _EitherToken(CancelToken):
    """Cancelled as soon as any of its tokens is."""

    def __init__(self, *tokens: CancelToken) -> None:
        super().__init__()
        self._tokens = tokens

    @property
    def cancelled(self) -> bool:
        return any(token.cancelled for token in self._tokens)

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled("cancelled by the user")


def _stopping_gracefully(
    events: Generator[TrainEvent, None, TrainSummary], stop: CancelToken
) -> Generator[TrainEvent, None, TrainSummary]:
    """Pass ``events`` on. Closed early (the runner cancelled the job), it sets ``stop`` and drains
    ``events`` silently, so the loop ends its step and writes its checkpoint before closing."""
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            return done.value
        try:
            yield event
        except GeneratorExit:
            stop.cancel()
            try:
                for _ in events:
                    pass
            except Exception:
                _log.exception("training did not stop cleanly")
            raise


def training_work(
    config: TrainConfig, *, resume: bool, stop: CancelToken
) -> Callable[[CancelToken], Generator[TrainEvent, None, TrainSummary]]:
    """Work that runs ``train(config, ..., resume=resume)``: yields its events and returns the
    ``TrainSummary``. ``stop.cancel()`` ends it at the next step with a checkpoint
    (``summary.stopped``); so does the runner cancelling the job."""

    def work(token: CancelToken) -> Generator[TrainEvent, None, TrainSummary]:
        return _stopping_gracefully(train(config, _EitherToken(stop, token), resume=resume), stop)

    return work


def export_path(library_dir: Path, name: str) -> Path:
    """The file ``export_model(..., name=name, destination=library_dir)`` writes."""
    stem = _UNSAFE.sub("_", name).strip("._") or "model"
    return library_dir / f"{stem}.safetensors"


def export_work(
    run_dir: Path, *, name: str, library_dir: Path, overwrite: bool
) -> Callable[[CancelToken], Path]:
    """Work that exports the run's latest checkpoint (EMA weights) to ``library_dir``; returns the path."""

    def work(token: CancelToken) -> Path:
        token.raise_if_cancelled()
        return export_model(run_dir, destination=library_dir, name=name, overwrite=overwrite)

    return work
