"""``TrainConfig``: everything a training run needs, as frozen, validated dataclasses.

Read from TOML (``load_config``), or from a plain dict / JSON; written back to TOML or JSON with the
same content (``config_to_toml``, ``config_to_json``): ``load(dump(c)) == c``. Unknown keys are an
error naming the key (and the closest known one); every value is type-checked and range-checked
with a message naming the field. Relative paths in a TOML file are taken relative to that file's
folder; ``output_dir`` left out means ``./runs`` in the working directory.

A run writes into ``output_dir / name``: ``config.toml``, ``metrics.jsonl`` and ``checkpoints/``.
The sections, their keys and defaults are the dataclasses below; ``configs/examples/`` shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from irstudio.data import Degradation
from irstudio.models.spec import Task

TASKS = tuple(task.value for task in Task)  # the command line's and the configs' spelling of Task
LOSS_KINDS = ("l1_fft", "l1", "charbonnier")
PRECISIONS = ("auto", "fp32", "bf16")
FFT_NORMS = ("backward", "ortho")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(ValueError):
    """A training configuration is malformed; the message names the key and what was expected."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class ModelSection:
    """The base model: a registry id (``irstudio models``), optional weights, the task trained.

    ``weights``: a .safetensors/.pth file to start from (default: the id's shipped weights, else its
    random initialisation). ``task``: one of the model's tasks (default: its first).
    ``transfer``: load only the tensors of ``weights`` whose shape fits (e.g. another scale's
    weights of the same architecture, whose upsampler differs); the rest keep their initialisation.
    """

    id: str
    weights: Path | None = None
    task: str | None = None
    transfer: bool = False

    def __post_init__(self) -> None:
        _require(bool(self.id.strip()), "model.id must name a model ('irstudio models' lists them)")
        _require(
            self.task is None or self.task in TASKS, f"model.task must be one of {TASKS}, got {self.task!r}"
        )
        _require(not self.transfer or self.weights is not None, "model.transfer needs model.weights")


@dataclass(frozen=True)
class DataSection:
    """Where the images are and how patches are drawn.

    Either ``clean`` (a folder of clean photos, degraded on the fly; ``more_clean`` adds further
    folders to it) or ``input`` + ``target`` (paired folders matched by name). Validation:
    ``val_clean`` / ``val_input`` + ``val_target`` when given, else ``val_fraction`` of the training
    images (at most ``val_max_images``), one fixed centre crop each with an input side of at most
    ``val_patch``. ``patch`` is the training input
    side (targets are ``scale`` times larger); ``batch_size`` is per process. Decoded images stay in
    RAM when they fit ``ram_budget_mb``.
    """

    clean: Path | None = None
    more_clean: tuple[Path, ...] = ()
    input: Path | None = None
    target: Path | None = None
    val_clean: Path | None = None
    val_input: Path | None = None
    val_target: Path | None = None
    val_fraction: float = 0.05
    val_max_images: int = 16
    val_patch: int = 128
    patch: int = 64
    batch_size: int = 8
    num_workers: int = 2
    ram_budget_mb: int = 4096
    augment: bool = True

    def __post_init__(self) -> None:
        paired = self.input is not None or self.target is not None
        _require(
            (self.clean is None) == paired,
            "data: give either 'clean' (a folder of clean images) or 'input' and 'target' (paired folders)",
        )
        _require(
            not paired or (self.input is not None and self.target is not None),
            "data: paired training needs both 'input' and 'target'",
        )
        _require(
            self.val_clean is None or not paired, "data.val_clean goes with 'clean'; use val_input/val_target"
        )
        _require(not (self.more_clean and paired), "data.more_clean goes with 'clean', not paired folders")
        _require(
            (self.val_input is None) == (self.val_target is None),
            "data: give both val_input and val_target, or neither",
        )
        _require(
            self.val_input is None or paired, "data.val_input/val_target go with paired 'input'/'target'"
        )
        _require(
            0.0 <= self.val_fraction <= 0.5, f"data.val_fraction must be in [0, 0.5], got {self.val_fraction}"
        )
        _require(self.val_max_images >= 0, f"data.val_max_images must be >= 0, got {self.val_max_images}")
        _require(self.val_patch >= 16, f"data.val_patch must be >= 16, got {self.val_patch}")
        _require(self.patch >= 8, f"data.patch must be >= 8, got {self.patch}")
        _require(self.batch_size >= 1, f"data.batch_size must be >= 1, got {self.batch_size}")
        _require(self.num_workers >= 0, f"data.num_workers must be >= 0, got {self.num_workers}")
        _require(self.ram_budget_mb >= 0, f"data.ram_budget_mb must be >= 0, got {self.ram_budget_mb}")

    @property
    def paired(self) -> bool:
        return self.clean is None


@dataclass(frozen=True)
class OptimSection:
    """AdamW with linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to ``min_lr``.

    ``grad_clip``: largest global gradient norm (0 disables). ``ema_decay``: decay of the exponential
    moving average of the weights that is validated and exported (0 disables: the raw weights are).
    """

    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 500
    min_lr: float = 1e-6
    grad_clip: float = 1.0
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        _require(0 < self.lr < 1, f"optim.lr must be in (0, 1), got {self.lr}")
        _require(
            all(0 <= b < 1 for b in self.betas), f"optim.betas must be in [0, 1), got {list(self.betas)}"
        )
        _require(self.weight_decay >= 0, f"optim.weight_decay must be >= 0, got {self.weight_decay}")
        _require(self.warmup_steps >= 0, f"optim.warmup_steps must be >= 0, got {self.warmup_steps}")
        _require(0 <= self.min_lr <= self.lr, f"optim.min_lr must be in [0, lr], got {self.min_lr}")
        _require(self.grad_clip >= 0, f"optim.grad_clip must be >= 0 (0 disables), got {self.grad_clip}")
        _require(0 <= self.ema_decay < 1, f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class LossSection:
    """``l1_fft``: L1 + ``fft_weight`` x L1 of the 2-D real FFT (real and imaginary parts; Compacter's
    dual-domain loss, ``fft_norm`` "backward" as the papers, "ortho" to make it patch-size free);
    ``l1``; ``charbonnier``: mean sqrt(d^2 + eps^2)."""

    kind: str = "l1_fft"
    fft_weight: float = 0.1
    fft_norm: str = "backward"
    charbonnier_eps: float = 1e-3

    def __post_init__(self) -> None:
        _require(self.kind in LOSS_KINDS, f"loss.kind must be one of {LOSS_KINDS}, got {self.kind!r}")
        _require(self.fft_weight >= 0, f"loss.fft_weight must be >= 0, got {self.fft_weight}")
        _require(
            self.fft_norm in FFT_NORMS, f"loss.fft_norm must be one of {FFT_NORMS}, got {self.fft_norm!r}"
        )
        _require(self.charbonnier_eps > 0, f"loss.charbonnier_eps must be > 0, got {self.charbonnier_eps}")


@dataclass(frozen=True)
class PatchStage:
    """Progressive training: from ``step`` on, draw ``patch``-sized inputs in batches of ``batch_size``
    (left out: ``data.batch_size``)."""

    step: int
    patch: int
    batch_size: int | None = None

    def __post_init__(self) -> None:
        _require(self.step >= 0, f"train.progressive step must be >= 0, got {self.step}")
        _require(self.patch >= 8, f"train.progressive patch must be >= 8, got {self.patch}")
        _require(
            self.batch_size is None or self.batch_size >= 1,
            f"train.progressive batch_size must be >= 1, got {self.batch_size}",
        )


@dataclass(frozen=True)
class TrainSection:
    """How long and how often: ``steps`` in all; validation, checkpoints and log lines every N steps
    (and at the end); the last ``keep_checkpoints`` checkpoints are kept. ``max_bad_steps``: steps
    in a row with a non-finite loss or gradient that are skipped before the run stops (0: stop at
    the first). ``progressive``: patch stages (see ``PatchStage``)."""

    steps: int = 10_000
    validate_every: int = 500
    checkpoint_every: int = 1000
    log_every: int = 10
    keep_checkpoints: int = 3
    max_bad_steps: int = 3
    progressive: tuple[PatchStage, ...] = ()

    def __post_init__(self) -> None:
        for key in ("steps", "validate_every", "checkpoint_every", "log_every", "keep_checkpoints"):
            _require(getattr(self, key) >= 1, f"train.{key} must be >= 1, got {getattr(self, key)}")
        _require(self.max_bad_steps >= 0, f"train.max_bad_steps must be >= 0, got {self.max_bad_steps}")
        starts = [stage.step for stage in self.progressive]
        _require(starts == sorted(set(starts)), f"train.progressive steps must increase, got {starts}")


@dataclass(frozen=True)
class RuntimeSection:
    """``device``: auto, cpu, cuda, cuda:N or mps (under torchrun each process uses cuda:LOCAL_RANK).
    ``precision``: auto (bf16 autocast where the device computes bf16 natively, CUDA or a CPU with
    AVX512_BF16/AMX, and the model allows it; else fp32), fp32, bf16 (such devices only).
    ``deterministic``: deterministic kernels. ``cpu_threads``: torch threads (0: torch's default)."""

    device: str = "auto"
    precision: str = "auto"
    deterministic: bool = False
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        _require(
            self.precision in PRECISIONS,
            f"runtime.precision must be one of {PRECISIONS}, got {self.precision!r}",
        )
        _require(self.cpu_threads >= 0, f"runtime.cpu_threads must be >= 0, got {self.cpu_threads}")


@dataclass(frozen=True)
class TrainConfig:
    """A whole run. ``name`` names the run folder ``output_dir / name``; ``degradation`` (clean data
    only) defaults to the task's (``Degradation.for_task``); ``seed`` fixes initialisation, the
    train/validation split, every draw and the validation crops."""

    name: str
    model: ModelSection
    data: DataSection
    degradation: Degradation | None = None
    optim: OptimSection = field(default_factory=OptimSection)
    loss: LossSection = field(default_factory=LossSection)
    train: TrainSection = field(default_factory=TrainSection)
    runtime: RuntimeSection = field(default_factory=RuntimeSection)
    output_dir: Path = Path("runs")
    seed: int = 0

    def __post_init__(self) -> None:
        _require(
            bool(_NAME_PATTERN.match(self.name)),
            f"name must be letters, digits, '.', '_' or '-' (it names the run folder), got {self.name!r}",
        )
        _require(0 <= self.seed < 2**32, f"seed must be in 0..{2**32 - 1}, got {self.seed}")
        _require(
            self.degradation is None or not self.data.paired,
            "degradation applies to clean data only; paired folders bring their own inputs",
        )

    @property
    def run_dir(self) -> Path:
        return self.output_dir / self.name

    def patch_at(self, step: int) -> tuple[int, int]:
        """(patch, batch_size) in force at ``step`` (0-based), following ``train.progressive``."""
        patch, batch = self.data.patch, self.data.batch_size
        for stage in self.train.progressive:
            if stage.step <= step:
                patch, batch = stage.patch, stage.batch_size or self.data.batch_size
        return patch, batch

    def stage_ends(self) -> list[int]:
        """Steps (ascending, ending with ``train.steps``) where the patch stage changes or the run ends."""
        inner = [stage.step for stage in self.train.progressive if 0 < stage.step < self.train.steps]
        return [*inner, self.train.steps]

    def degradation_for(self, task: str, scale: int) -> Degradation:
        """The degradation in force: the configured one, else the task's default at ``scale``."""
        return self.degradation if self.degradation is not None else Degradation.for_task(task, scale)


__all__ = [
    "ConfigError",
    "DataSection",
    "LossSection",
    "ModelSection",
    "OptimSection",
    "PatchStage",
    "RuntimeSection",
    "TrainConfig",
    "TrainSection",
]
