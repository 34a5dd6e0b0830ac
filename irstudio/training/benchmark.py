"""Training speed per architecture, before and after this round's tuning, in one run:
``python -m irstudio.training.benchmark``.

Times the training step as ``train()`` runs it (forward, L1 + 0.1 FFT loss, backward, gradient
clipping, AdamW, EMA update) on random batches already on the device, so the figure is the model's
cost without data loading. Two settings per model, their steps alternated and the medians compared
(background load on a shared machine falls on both alike):

* ``before``: fp32 and foreach AdamW, what the loop ran until December 2026;
* ``after``: what ``train()`` runs now on that device: bf16 autocast where the device computes bf16
  natively and the model allows it (fp32 master weights, losses in fp32) and fused AdamW.

Input patches are ``--patch`` pixels (the low-resolution side for SR models, as in training),
``--batch`` per step; pixels/s counts input pixels (batch x patch^2 x steps/s).

    python -m irstudio.training.benchmark                      # every architecture, patch 64, batch 8
    python -m irstudio.training.benchmark --models compacter-x1 --steps 10 --json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from irstudio.models.architectures import architecture_of_preset
from irstudio.models.catalog import REGISTRY, resolve_id
from irstudio.models.descriptor import ArchDescriptor
from irstudio.training.losses import build_loss
from irstudio.training.optim import ModelEMA, build_optimizer
from irstudio.training.setup import native_bf16

DEFAULT_MODELS = ("compacter-x1", "compacter-x4", "asid-x4", "ast-t", "lir")
"""One preset per architecture (Compacter at x1 as the app fine-tunes it and at x4 as the paper
trains it), AST-T and LIR at x1."""


@dataclass(frozen=True)
class Setting:
    """How a step runs: ``bf16`` autocast, ``fused`` AdamW."""

    name: str
    bf16: bool
    fused: bool


BEFORE = Setting("before", bf16=False, fused=False)


@dataclass(frozen=True)
class SpeedResult:
    model: str
    params: int
    scale: int
    device: str
    setting: str
    precision: str
    patch: int
    batch: int
    steps: int
    iterations_per_second: float
    pixels_per_second: float


def _preset_arch(model_id: str) -> ArchDescriptor[Any]:
    """The architecture with the preset ``model_id`` (an id the registry lacks); exits when none has it."""
    arch = architecture_of_preset(model_id)
    if arch is None:
        raise SystemExit(f"benchmark: unknown model '{model_id}'")
    return arch


def build_model(model_id: str) -> nn.Module:
    """A registry model, or an architecture preset by id when the registry does not list it (yet)."""
    if model_id in REGISTRY:
        return resolve_id(model_id).build()
    return _preset_arch(model_id).builder(model_id)()


def _output_scale(model: nn.Module, device: torch.device) -> int:
    with torch.no_grad():
        probe = torch.rand(1, 3, 32, 32, device=device)
        out: torch.Tensor = model(probe)
        return out.shape[-1] // 32


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _half_dtypes(model_id: str) -> tuple[str, ...]:
    """The reduced precisions the registry entry, or the preset's architecture, allows."""
    if model_id in REGISTRY:
        return resolve_id(model_id).half_dtypes
    return _preset_arch(model_id).half_dtypes


def after_setting(model_id: str, device: torch.device) -> Setting:
    """What ``train()`` runs for this model on ``device`` (see ``training.setup``)."""
    allows_bf16 = "bf16" in _half_dtypes(model_id)
    return Setting("after", bf16=allows_bf16 and native_bf16(device), fused=True)


def make_step(model: nn.Module, setting: Setting) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The training step of ``loop.train`` (without the NaN guard's host syncs) under ``setting``."""
    optimizer = build_optimizer(model, lr=2e-4, betas=(0.9, 0.99), weight_decay=0.0, fused=setting.fused)
    ema = ModelEMA(model, 0.999)
    loss = build_loss("l1_fft")
    device_type = next(model.parameters()).device.type

    def step(lq: torch.Tensor, gt: torch.Tensor) -> None:
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=setting.bf16):
            output = model(lq)
        terms = loss(output.float(), gt)
        optimizer.zero_grad(set_to_none=True)
        torch.stack(list(terms.values())).sum().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update(model)

    return step


def measure_pair(
    model_id: str, *, device: torch.device, patch: int, batch: int, steps: int, warmup: int
) -> list[SpeedResult]:
    """``before`` and ``after`` for ``model_id``: two copies of the model from one seed, steps
    alternated, the median step time of each."""
    settings = (BEFORE, after_setting(model_id, device))
    models = []
    for _ in settings:
        torch.manual_seed(0)
        models.append(build_model(model_id).to(device).train())
    scale = _output_scale(models[0], device)
    lq = torch.rand(batch, 3, patch, patch, device=device)
    gt = torch.rand(batch, 3, patch * scale, patch * scale, device=device)
    runs = [make_step(model, setting) for model, setting in zip(models, settings, strict=True)]
    for _ in range(warmup):
        for run in runs:
            run(lq, gt)
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(steps):
        for run, times in zip(runs, samples, strict=True):
            _synchronize(device)
            started = time.perf_counter()
            run(lq, gt)
            _synchronize(device)
            times.append(time.perf_counter() - started)
    params = sum(p.numel() for p in models[0].parameters() if p.requires_grad)
    results = []
    for setting, times in zip(settings, samples, strict=True):
        rate = 1.0 / statistics.median(times)
        precision = "bf16" if setting.bf16 else "fp32"
        results.append(
            SpeedResult(
                model_id,
                params,
                scale,
                str(device),
                setting.name,
                precision,
                patch,
                batch,
                steps,
                rate,
                rate * batch * patch * patch,
            )
        )
    return results


def describe(result: SpeedResult) -> str:
    return (
        f"{result.model:14s} {result.params / 1e6:6.2f}M x{result.scale}  {result.device:7s} "
        f"{result.setting:6s} {result.precision:5s} patch {result.patch} batch {result.batch}: "
        f"{result.iterations_per_second:7.3f} it/s  {result.pixels_per_second / 1e3:8.1f} kpixel/s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m irstudio.training.benchmark", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids")
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA when present, and the CPU), cpu or cuda[:N]"
    )
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model and setting")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of lines")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(args.device)]
    results = []
    for device in devices:
        for model_id in [m.strip() for m in args.models.split(",") if m.strip()]:
            before, after = measure_pair(
                model_id,
                device=device,
                patch=args.patch,
                batch=args.batch,
                steps=args.steps,
                warmup=args.warmup,
            )
            results += [before, after]
            if not args.json:
                print(describe(before), flush=True)
                print(describe(after), flush=True)
                speedup = after.pixels_per_second / before.pixels_per_second
                print(f"{model_id:14s} after / before: {speedup:.2f}x", flush=True)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} CPU thread(s); data loading not included", file=sys.stderr)
    return 0 if all(math.isfinite(r.pixels_per_second) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
