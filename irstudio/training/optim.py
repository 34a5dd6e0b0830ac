"""Optimiser pieces: AdamW, the warm-up + cosine learning-rate schedule, and the weight EMA.

Each has a ``state_dict`` of tensors and plain numbers, so checkpoints load with
``torch.load(weights_only=True)`` and a resumed run continues the same curve.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def build_optimizer(
    model: nn.Module, *, lr: float, betas: tuple[float, float], weight_decay: float, fused: bool | None = None
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; no weight decay on biases and norm weights (1-D tensors).
    ``fused`` None: the fused kernel (one pass over all parameters) for CPU and CUDA fp32
    parameters, else foreach; False: foreach (what training used before, for the benchmark)."""
    decayed: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decayed if parameter.ndim > 1 else plain).append(parameter)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    if fused is None:
        fused = all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in decayed + plain)
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=lr, betas=betas, fused=fused, foreach=None if fused else True
    )


class WarmupCosine:
    """Learning rate at step s: linear from ``lr / warmup`` to ``lr`` over ``warmup`` steps, then a
    half cosine from ``lr`` down to ``min_lr`` at ``total`` steps (held there after).

    ``apply(optimizer, step)`` sets every parameter group's lr and returns it. The only state is the
    last step applied (the schedule itself is recomputed from the config on resume).
    """

    def __init__(self, *, lr: float, min_lr: float, warmup: int, total: int) -> None:
        self.lr, self.min_lr, self.warmup, self.total = lr, min_lr, warmup, total
        self.step = 0

    def lr_at(self, step: int) -> float:
        if self.warmup and step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = max(1, self.total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        value = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = value
        self.step = step
        return value

    def state_dict(self) -> dict[str, float | int]:
        return {
            "step": self.step,
            "lr": self.lr,
            "min_lr": self.min_lr,
            "warmup": self.warmup,
            "total": self.total,
        }

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.step = int(state["step"])


class ModelEMA:
    """Exponential moving average of a model's floating-point parameters and buffers.

    ``update(model)`` after each optimiser step: ``ema = d * ema + (1 - d) * current`` with
    ``d = min(decay, (1 + n) / (10 + n))`` for the n-th update (a short warm-up so early averages are
    not dominated by the initial weights). Non-float buffers are copied. ``state_dict()`` has the
    model's own keys plus ``"__ema_updates__"``; ``copy_to(model)`` loads the averages into a model.
    """

    UPDATES_KEY = "__ema_updates__"

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, Tensor] = {
            key: value.detach().clone() for key, value in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for key, value in model.state_dict().items():
            average = self.shadow[key]
            if average.is_floating_point():
                average.lerp_(value.detach().to(average.dtype), 1.0 - d)
            else:
                average.copy_(value)

    def copy_to(self, model: nn.Module) -> None:
        model.load_state_dict(self.shadow, strict=True)

    def state_dict(self) -> dict[str, Tensor]:
        return {**self.shadow, self.UPDATES_KEY: torch.tensor(self.updates, dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.updates = int(state[self.UPDATES_KEY])
        for key, value in state.items():
            if key != self.UPDATES_KEY:
                self.shadow[key].copy_(value)
