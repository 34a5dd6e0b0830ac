"""``train(config, cancel)``: the training loop as a generator of events.

    run = train(config, cancel)          # nothing happens until the first next()
    for event in run: ...                # Started, StepLog, Validation, CheckpointSaved, Notice
    summary = <StopIteration.value>      # TrainSummary (or use ``run_to_end``)

Each step: learning rate from the warm-up + cosine schedule, forward under bf16 autocast on CUDA
(fp32 elsewhere), loss terms in fp32, backward, gradient clipping, then the NaN guard: a step whose
loss terms or gradient norm are not finite is skipped (a ``Notice`` names the term) and after
``train.max_bad_steps`` such steps in a row the run stops with ``NonFiniteLossError`` naming it.
Otherwise AdamW steps and the EMA follows. The cancel token is checked before every step; a
cancelled run writes a checkpoint and returns a summary with ``stopped=True`` (resume continues it).

Validation (EMA weights), checkpoints (``train.keep_checkpoints`` kept) and the metrics log
(``metrics.jsonl``, one JSON object per event) come from rank 0. Resuming rewrites the log up to the
checkpoint's step, so the curves continue where the checkpoint left them. Given the same config and
deterministic kernels, N steps + resume + N steps gives the same weights as 2N steps straight.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.data import DrawSampler, TrainPatches
from irstudio.training.checkpoints import (
    TrainingCheckpoint,
    capture_rng,
    checkpoint_path,
    prune_checkpoints,
    save_checkpoint,
)
from irstudio.training.config import TrainConfig
from irstudio.training.config_io import config_to_json, save_config
from irstudio.training.events import (
    CheckpointSaved,
    MetricsLog,
    Notice,
    Started,
    StepLog,
    TrainEvent,
    TrainSummary,
    Validation,
)
from irstudio.training.losses import GRADIENT_TERM, NonFiniteLossError, describe_non_finite
from irstudio.training.setup import Prepared, prepare, runtime_settings
from irstudio.training.validation import validate


def train(
    config: TrainConfig, cancel: CancelToken = NEVER_CANCELLED, *, resume: bool | str | Path = False
) -> Generator[TrainEvent, None, TrainSummary]:
    """Train ``config`` (see the module docstring). ``resume``: True for the run folder's latest
    checkpoint, or a checkpoint path; False refuses a run folder that already has checkpoints."""
    with runtime_settings(config) as notices:
        run = prepare(config, resume)
        run.notices[:0] = notices
        try:
            return (yield from _Loop(run).events(cancel))
        finally:
            run.close()


def run_to_end(events: Generator[TrainEvent, None, TrainSummary]) -> TrainSummary:
    """Drain a ``train()`` generator and return its summary (for scripts and tests)."""
    while True:
        try:
            next(events)
        except StopIteration as finished:
            summary: TrainSummary = finished.value
            return summary


class _Loop:
    def __init__(self, run: Prepared) -> None:
        self.run = run
        self.config = run.config
        self.step = run.start_step
        self.draws = run.start_draws
        self.best_psnr = run.best_psnr
        self.last_scores = run.last_scores
        self.last_checkpoint: Path | None = None
        self.checkpointed_step: int | None = None
        self.bad_steps = 0
        self.log = (
            MetricsLog(
                self.config.run_dir / "metrics.jsonl",
                resume_step=run.start_step if run.resumed_from else None,
            )
            if run.dist.is_main
            else None
        )
        # a copy, not a fresh build: building would draw from the RNG and break exact resume
        self.eval_net = copy.deepcopy(run.net) if run.ema is not None and run.dist.is_main else None

    def _emit(self, event: TrainEvent) -> TrainEvent:
        if self.log is not None:
            self.log.write(event.to_record())
        return event

    def events(self, cancel: CancelToken) -> Generator[TrainEvent, None, TrainSummary]:
        run, config = self.run, self.config
        started_at = time.monotonic()
        if run.dist.is_main:  # the config now in force (a resumed run may have changed, e.g., its length)
            config.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, config.run_dir / "config.toml")
        yield self._emit(
            Started(
                run_dir=config.run_dir,
                model_id=run.spec.id,
                task=run.task,
                scale=run.scale,
                device=str(run.device),
                precision=run.precision,
                world_size=run.dist.world_size,
                start_step=self.step,
                total_steps=config.train.steps,
                train_images=len(run.data.source),
                val_images=len(run.data.validation),
                skipped=tuple(str(s) for s in run.data.skipped),
            )
        )
        for notice in run.notices:
            yield self._emit(Notice(self.step, notice))
        stopped = yield from self._steps(cancel)
        if self.checkpointed_step != self.step:
            yield from self._checkpoint()
        scores = self.last_scores or (None, None)
        summary = TrainSummary(
            run_dir=config.run_dir,
            final_step=self.step,
            total_steps=config.train.steps,
            steps_run=self.step - run.start_step,
            stopped=stopped,
            elapsed_s=time.monotonic() - started_at,
            last_checkpoint=self.last_checkpoint,
            psnr=scores[0],
            ssim=scores[1],
            best_psnr=self.best_psnr,
        )
        if self.log is not None:
            self.log.write(summary.to_record())
        return summary

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int, int]]:
        """(input, target, patch, batch) for every remaining step, stage by stage."""
        run, config = self.run, self.config
        for stage_end in config.stage_ends():
            if self.step >= stage_end:
                continue
            patch, batch = config.patch_at(self.step)
            dataset = TrainPatches(
                run.data.source, patch=patch, seed=config.seed, augment=config.data.augment
            )
            sampler = DrawSampler(
                first_draw=self.draws,
                steps=stage_end - self.step,
                batch_size=batch,
                world_size=run.dist.world_size,
                rank=run.dist.rank,
            )
            # its own generator: iterating a loader draws a base seed, which must not touch the global RNG
            loader = DataLoader(
                dataset,
                batch_size=batch,
                sampler=sampler,
                num_workers=config.data.num_workers,
                pin_memory=run.device.type == "cuda",
                generator=torch.Generator().manual_seed(config.seed + self.draws),
                multiprocessing_context=_worker_start_method() if config.data.num_workers else None,
            )
            for lq, gt in loader:
                yield lq, gt, patch, batch

    def _steps(self, cancel: CancelToken) -> Generator[TrainEvent, None, bool]:
        run, train_cfg = self.run, self.config.train
        sums: dict[str, float] = {}
        counted, window_start, window_steps = 0, time.monotonic(), 0
        for lq, gt, patch, batch in self._batches():
            if run.dist.any([cancel.cancelled], run.device)[0]:
                return True
            lr = run.schedule.apply(run.optimizer, self.step)
            values, notice = self._train_step(lq, gt)
            self.step += 1
            self.draws += batch * run.dist.world_size
            window_steps += 1
            if notice:
                yield self._emit(Notice(self.step, notice))
            if values is not None:
                counted += 1
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value
            finished = self.step == train_cfg.steps
            if (self.step % train_cfg.log_every == 0 or finished) and counted:
                elapsed = max(time.monotonic() - window_start, 1e-9)
                yield self._emit(
                    StepLog(
                        self.step,
                        train_cfg.steps,
                        {k: v / counted for k, v in sums.items()},
                        lr,
                        patch,
                        window_steps / elapsed,
                    )
                )
                sums, counted, window_start, window_steps = {}, 0, time.monotonic(), 0
            if (self.step % train_cfg.validate_every == 0 or finished) and run.dist.is_main:
                yield from self._validate()
            if self.step % train_cfg.checkpoint_every == 0 or finished:
                yield from self._checkpoint()
        return False

    def _train_step(self, lq: torch.Tensor, gt: torch.Tensor) -> tuple[dict[str, float] | None, str | None]:
        """One optimiser step; (loss terms, None), or (None, notice) when the NaN guard skipped it."""
        run = self.run
        lq, gt = lq.to(run.device, non_blocking=True), gt.to(run.device, non_blocking=True)
        with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.bf16):
            output = run.trained(lq)
        terms = run.loss(output.float(), gt)
        run.optimizer.zero_grad(set_to_none=True)
        torch.stack(list(terms.values())).sum().backward()
        clip = self.config.optim.grad_clip
        norm = torch.nn.utils.clip_grad_norm_(run.net.parameters(), clip if clip > 0 else math.inf)
        values = {name: float(term.detach()) for name, term in terms.items()}
        values[GRADIENT_TERM] = float(norm)
        flags = run.dist.any([not math.isfinite(v) for v in values.values()], run.device)
        if any(flags):
            run.optimizer.zero_grad(set_to_none=True)
            # a term flagged by another process is shown as nan here
            shown = {
                name: (math.nan if math.isfinite(value) else value) if flag else value
                for (name, value), flag in zip(values.items(), flags, strict=True)
            }
            message = describe_non_finite(shown, self.step + 1)
            self.bad_steps += 1
            if self.bad_steps > self.config.train.max_bad_steps:
                raise NonFiniteLossError(message)
            return None, f"skipped: {message}"
        self.bad_steps = 0
        run.optimizer.step()
        if run.ema is not None:
            run.ema.update(run.net)
        del values[GRADIENT_TERM]
        return values, None

    def _validate(self) -> Iterator[TrainEvent]:
        run = self.run
        if not len(run.data.validation):
            return
        net = run.net
        if self.eval_net is not None and run.ema is not None:
            run.ema.copy_to(self.eval_net)
            net = self.eval_net
        psnr_value, ssim_value, previews = validate(
            net, run.data.validation, device=run.device, task=run.task, scale=run.scale
        )
        self.last_scores = (psnr_value, ssim_value)
        if self.best_psnr is None or psnr_value > self.best_psnr:
            self.best_psnr = psnr_value
        yield self._emit(Validation(self.step, psnr_value, ssim_value, len(run.data.validation), previews))

    def _checkpoint(self) -> Iterator[TrainEvent]:
        run = self.run
        rng_states = run.dist.gather(capture_rng())  # collective: every process takes part
        self.checkpointed_step = self.step
        if not run.dist.is_main:
            return
        checkpoint = TrainingCheckpoint(
            step=self.step,
            draws=self.draws,
            model=run.net.state_dict(),
            ema=run.ema.state_dict() if run.ema is not None else None,
            optimizer=run.optimizer.state_dict(),
            schedule=run.schedule.state_dict(),
            rng=rng_states,
            world_size=run.dist.world_size,
            model_id=run.spec.id,
            task=run.task,
            scale=run.scale,
            config=config_to_json(self.config),
            best_psnr=self.best_psnr,
            psnr=self.last_scores[0] if self.last_scores else None,
            ssim=self.last_scores[1] if self.last_scores else None,
        )
        self.last_checkpoint = save_checkpoint(checkpoint, checkpoint_path(self.config.run_dir, self.step))
        prune_checkpoints(self.config.run_dir, self.config.train.keep_checkpoints)
        yield self._emit(CheckpointSaved(self.step, self.last_checkpoint))


def _worker_start_method() -> str:
    """How data-loader workers start: never by forking this process, which runs other threads (the
    app's Qt and worker threads, OpenVINO's and torch's pools) whose locks a forked child inherits
    held. ``forkserver`` forks them from a clean single-threaded server where the platform has it,
    else ``spawn``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
