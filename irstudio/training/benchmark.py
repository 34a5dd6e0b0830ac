"""Training speed per architecture: ``python -m irstudio.training.benchmark``.

Times the training step as ``train()`` runs it (forward, L1 + 0.1 FFT loss, backward, gradient
clipping, AdamW, EMA update) on random batches already on the device, so the figure is the model's
cost without data loading. Input patches are ``--patch`` pixels (the low-resolution side for SR
models, as in training), ``--batch`` per step. On the CPU: fp32; on CUDA: fp32 and bf16 autocast.

    python -m irstudio.training.benchmark                      # every architecture, patch 64, batch 8
    python -m irstudio.training.benchmark --models compacter-x4 --steps 20 --json

Prints one line per model and precision: iterations/s, seconds/iteration, peak CUDA memory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from irstudio.models.archs import asid, ast, compacter, lir
from irstudio.models.catalog import REGISTRY, resolve_id
from irstudio.training.losses import build_loss
from irstudio.training.optim import ModelEMA, build_optimizer

DEFAULT_MODELS = ("compacter-x4", "asid-x4", "ast-b", "lir")
"""One preset per architecture: the SR presets at x4 (as the papers train them), AST-B and LIR at x1."""


@dataclass(frozen=True)
class SpeedResult:
    model: str
    params: int
    scale: int
    device: str
    precision: str
    patch: int
    batch: int
    steps: int
    iterations_per_second: float
    seconds_per_iteration: float
    peak_memory_mib: float | None


def build_model(model_id: str) -> nn.Module:
    """A registry model, or an architecture preset by id when the registry does not list it (yet)."""
    if model_id in REGISTRY:
        return resolve_id(model_id).build()
    for arch in (compacter, asid, ast, lir):
        if model_id in arch.PRESETS:
            return arch.build(arch.PRESETS[model_id])
    raise SystemExit(f"benchmark: unknown model '{model_id}'")


def _output_scale(model: nn.Module, device: torch.device) -> int:
    with torch.no_grad():
        probe = torch.rand(1, 3, 32, 32, device=device)
        return model(probe).shape[-1] // 32


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(
    model: nn.Module, device: torch.device, bf16: bool
) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """The training step of ``loop.train`` (without the NaN guard's host syncs)."""
    optimizer = build_optimizer(model, lr=2e-4, betas=(0.9, 0.99), weight_decay=0.0)
    ema = ModelEMA(model, 0.999)
    loss = build_loss("l1_fft")

    def step(lq: torch.Tensor, gt: torch.Tensor) -> None:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            output = model(lq)
        terms = loss(output.float(), gt)
        optimizer.zero_grad(set_to_none=True)
        torch.stack(list(terms.values())).sum().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update(model)

    return step


def measure(
    model_id: str, *, device: torch.device, precision: str, patch: int, batch: int, steps: int, warmup: int
) -> SpeedResult:
    """Iterations per second of ``model_id``'s training step (timed steps / their total time)."""
    torch.manual_seed(0)
    model = build_model(model_id).to(device).train()
    scale = _output_scale(model, device)
    lq = torch.rand(batch, 3, patch, patch, device=device)
    gt = torch.rand(batch, 3, patch * scale, patch * scale, device=device)
    step = make_step(model, device, precision == "bf16")
    for _ in range(warmup):
        step(lq, gt)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step(lq, gt)
    _synchronize(device)
    elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return SpeedResult(
        model_id,
        params,
        scale,
        str(device),
        precision,
        patch,
        batch,
        steps,
        steps / elapsed,
        elapsed / steps,
        peak,
    )


def describe(result: SpeedResult) -> str:
    memory = f"  peak {result.peak_memory_mib:7.0f} MiB" if result.peak_memory_mib is not None else ""
    return (
        f"{result.model:14s} {result.params / 1e6:6.2f}M x{result.scale}  {result.device:7s} "
        f"{result.precision:5s} patch {result.patch} batch {result.batch}: "
        f"{result.iterations_per_second:8.3f} it/s  {result.seconds_per_iteration:8.3f} s/it{memory}"
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
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model and precision")
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
        precisions = ("fp32", "bf16") if device.type == "cuda" else ("fp32",)
        for model_id in [m.strip() for m in args.models.split(",") if m.strip()]:
            for precision in precisions:
                result = measure(
                    model_id,
                    device=device,
                    precision=precision,
                    patch=args.patch,
                    batch=args.batch,
                    steps=args.steps,
                    warmup=args.warmup,
                )
                results.append(result)
                if not args.json:
                    print(describe(result), flush=True)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} CPU thread(s); data loading not included", file=sys.stderr)
    return 0 if all(math.isfinite(r.iterations_per_second) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
