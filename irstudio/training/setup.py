"""Everything a run needs before its first step: model, device, precision, optimiser, data, resume.

``prepare(config, resume)`` returns a ``Prepared`` run (``loop.train`` drives it). The model is the
registry entry ``config.model.id`` with ``config.model.weights`` (or its shipped weights) loaded;
initialisation is seeded by ``config.seed``. Resuming loads the checkpoint's model, EMA,
optimiser, schedule, step, sampler position and (per process) RNG states.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from irstudio.core.atomic import remove_stale_temp_files_in
from irstudio.core.device import cpu_has_native_bf16, resolve_device
from irstudio.core.memory import collect_garbage
from irstudio.models.catalog import resolve_id
from irstudio.models.loading import load_state, open_model, transfer_weights
from irstudio.models.spec import ModelSpec
from irstudio.training.checkpoints import (
    CheckpointError,
    TrainingCheckpoint,
    checkpoints_dir,
    list_checkpoints,
    load_checkpoint,
    restore_rng,
)
from irstudio.training.config import ConfigError, TrainConfig
from irstudio.training.data_setup import RunData, build_run_data
from irstudio.training.distributed import Distributed
from irstudio.training.losses import LossFunction, build_loss
from irstudio.training.optim import ModelEMA, WarmupCosine, build_optimizer


@dataclass
class Prepared:
    """A run ready to step. ``net`` is the plain module, ``trained`` the one to call (DDP-wrapped
    under torchrun). ``ema`` is None when EMA is off. ``resumed_from``: the checkpoint, if any."""

    config: TrainConfig
    spec: ModelSpec
    task: str
    scale: int
    device: torch.device
    bf16: bool
    dist: Distributed
    net: nn.Module
    trained: nn.Module
    ema: ModelEMA | None
    optimizer: torch.optim.Optimizer
    schedule: WarmupCosine
    loss: LossFunction
    data: RunData
    start_step: int = 0
    start_draws: int = 0
    best_psnr: float | None = None
    last_scores: tuple[float, float] | None = None
    resumed_from: Path | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def close(self) -> None:
        """Drop the DDP wrapper, then leave the process group. In this order: a DDP reducer that
        outlives the group destroys it from its destructor while holding the GIL, which deadlocks
        against gloo's worker threads."""
        if self.trained is not self.net:
            self.trained = self.net
            collect_garbage()
        self.dist.close()


def resolve_task(config: TrainConfig, spec: ModelSpec) -> str:
    tasks = [task.value for task in spec.tasks]
    task = config.model.task or tasks[0]
    if task not in tasks:
        raise ConfigError(f"model.task: {spec.id} does not do '{task}' (it does: {', '.join(tasks)})")
    return task


def _wants_cuda(requested: str) -> bool:
    wanted = requested.strip().lower()
    return wanted.startswith("cuda") or (wanted == "auto" and torch.cuda.is_available())


def _pick_device(config: TrainConfig, dist: Distributed) -> torch.device:
    if dist.enabled and _wants_cuda(config.runtime.device):
        return torch.device("cuda", dist.local_rank)
    return torch.device(resolve_device(config.runtime.device).spec)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (CUDA with bf16, a CPU with AVX512_BF16/AMX)."""
    if device.type == "cuda":
        supported: bool = torch.cuda.is_bf16_supported()
        return supported
    return device.type == "cpu" and cpu_has_native_bf16()


def _use_bf16(config: TrainConfig, spec: ModelSpec, device: torch.device) -> bool:
    """bf16 autocast (fp32 master weights, losses in fp32): asked for, or "auto" where the device
    computes bf16 natively (CUDA, CPUs with AVX512_BF16/AMX) and the model allows it."""
    precision = config.runtime.precision
    if precision == "bf16" and not native_bf16(device):
        raise ConfigError(
            f"runtime.precision bf16 needs a CUDA device or a CPU with native bf16 (training on {device})"
        )
    if precision == "auto":
        return "bf16" in spec.half_dtypes and native_bf16(device)
    return precision == "bf16"


def _checkpoints_to_resume(config: TrainConfig, resume: bool | str | Path) -> list[Path]:
    """The checkpoints to try, in order: the newest first for ``resume=True`` (a damaged one falls
    back to the one before), only the one named for a path, none for a fresh run."""
    if resume is False or resume is None:
        if list_checkpoints(config.run_dir):
            raise ConfigError(
                f"{config.run_dir} already holds checkpoints: resume the run (--resume) or give it "
                f"another name"
            )
        return []
    if resume is True:
        found = list_checkpoints(config.run_dir)
        if not found:
            raise CheckpointError(f"{config.run_dir}: no checkpoint to resume from")
        return found[::-1]
    return [Path(resume)]


def _first_readable(candidates: list[Path]) -> tuple[Path, TrainingCheckpoint, list[str]] | None:
    """The first checkpoint of ``candidates`` that loads, its state, and a notice per damaged one
    passed over. Raises the last ``CheckpointError`` when none loads; None when there is none."""
    notices: list[str] = []
    for index, path in enumerate(candidates):
        try:
            return path, load_checkpoint(path), notices
        except CheckpointError as error:
            if index == len(candidates) - 1:
                raise
            notices.append(f"{error}; resuming from an earlier checkpoint instead")
    return None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare(config: TrainConfig, resume: bool | str | Path = False) -> Prepared:
    """Build the run (see the module docstring); joins torch.distributed under torchrun."""
    spec = resolve_id(config.model.id)
    if not spec.learned:
        raise ConfigError(f"model.id: {spec.id} has nothing to train (a classical baseline)")
    task = resolve_task(config, spec)
    remove_stale_temp_files_in(checkpoints_dir(config.run_dir))  # left by a killed run
    checkpoint = _first_readable(_checkpoints_to_resume(config, resume))
    dist = Distributed.from_environment(use_cuda=_wants_cuda(config.runtime.device))
    try:
        return _prepare_in_group(config, spec, task, checkpoint, dist)
    except BaseException:
        dist.close()
        raise


def _initial_model(config: TrainConfig, spec: ModelSpec) -> tuple[nn.Module, list[str]]:
    """The model before step 0, and a notice naming the tensors a ``model.transfer`` start left as
    initialised."""
    if not config.model.transfer:
        return open_model(spec, config.model.weights), []
    assert config.model.weights is not None  # ModelSection requires it
    net, kept_initial = transfer_weights(spec, config.model.weights)
    loaded = len(net.state_dict()) - len(kept_initial)
    shown = ", ".join(kept_initial) or "none"
    source = config.model.weights.name
    return net, [f"started from {source}: {loaded} tensors loaded; initialised afresh: {shown}"]


def _prepare_in_group(
    config: TrainConfig,
    spec: ModelSpec,
    task: str,
    checkpoint: tuple[Path, TrainingCheckpoint, list[str]] | None,
    dist: Distributed,
) -> Prepared:
    device = _pick_device(config, dist)
    bf16 = _use_bf16(config, spec, device)
    _seed_everything(config.seed)
    net, notices = _initial_model(config, spec)
    net = net.to(device).train()
    if not any(parameter.requires_grad for parameter in net.parameters()):
        raise ConfigError(f"model.id: {spec.id} has no trainable parameters")
    scale = spec.scale
    data = build_run_data(config, task=task, scale=scale, model_id=spec.id, with_validation=dist.is_main)
    optim = config.optim
    run = Prepared(
        config=config,
        spec=spec,
        task=task,
        scale=scale,
        device=device,
        bf16=bf16,
        dist=dist,
        net=net,
        trained=net,
        ema=ModelEMA(net, optim.ema_decay) if optim.ema_decay > 0 else None,
        optimizer=build_optimizer(net, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay),
        schedule=WarmupCosine(
            lr=optim.lr, min_lr=optim.min_lr, warmup=optim.warmup_steps, total=config.train.steps
        ),
        loss=build_loss(
            config.loss.kind,
            fft_weight=config.loss.fft_weight,
            fft_norm=config.loss.fft_norm,
            charbonnier_eps=config.loss.charbonnier_eps,
        ),
        data=data,
        notices=notices,
    )
    torch.manual_seed(config.seed + 1_000_003 * (dist.rank + 1))  # per-process stream (dropout, drop-path)
    if checkpoint is not None:
        path, state, passed_over = checkpoint
        run.notices.extend(passed_over)
        _load_resume_state(run, path, state)
    if dist.enabled:
        run.trained = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    return run


def _load_resume_state(run: Prepared, path: Path, checkpoint: TrainingCheckpoint) -> None:
    if checkpoint.model_id != run.spec.id:
        raise CheckpointError(
            f"{path}: trains '{checkpoint.model_id}', but the config says model.id = '{run.spec.id}'"
        )
    load_state(run.net, checkpoint.model, path.name)
    if run.ema is not None:
        if checkpoint.ema is None:
            run.ema = ModelEMA(run.net, run.config.optim.ema_decay)
        else:
            run.ema.load_state_dict(checkpoint.ema)
    run.optimizer.load_state_dict(checkpoint.optimizer)
    run.schedule.load_state_dict(checkpoint.schedule)
    run.start_step, run.start_draws = checkpoint.step, checkpoint.draws
    run.best_psnr = checkpoint.best_psnr
    run.last_scores = checkpoint.scores
    run.resumed_from = path
    if len(checkpoint.rng) == run.dist.world_size:
        restore_rng(checkpoint.rng[run.dist.rank])
    else:
        run.notices.append(
            f"the checkpoint was written by {len(checkpoint.rng)} process(es), this run has "
            f"{run.dist.world_size}: random streams restart, data order continues"
        )


@contextlib.contextmanager
def runtime_settings(config: TrainConfig) -> Iterator[list[str]]:
    """Apply ``runtime.cpu_threads`` (at most this computer's cores: more only makes threads wait
    on each other) and ``runtime.deterministic`` for the run; restore them after. Yields the
    notices for the run (a capped thread count)."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    notices: list[str] = []
    try:
        wanted, cores = config.runtime.cpu_threads, os.cpu_count() or 1
        if wanted > cores:
            notices.append(
                f"runtime.cpu_threads = {wanted} is more than this computer's {cores} cores; using {cores}"
            )
        if wanted:
            torch.set_num_threads(min(wanted, cores))
        if config.runtime.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        yield notices
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = benchmark
