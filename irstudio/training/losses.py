"""Training losses as named terms, so logs and the NaN guard can say which term misbehaved.

A loss maps ``(prediction, target)`` (float32 N x 3 x H x W, same shapes, any device) to an ordered
dict ``{term name: weighted scalar tensor}``; the training objective is the sum of the terms.

- ``l1_fft``: ``{"l1": mean |p - t|, "fft": w * mean |rFFT2(p) - rFFT2(t)|}`` over the real and
  imaginary parts (Compacter's dual-domain loss; w = 0.1 by default). ``norm="backward"`` is the
  papers' unnormalised transform (its scale grows with the patch side); ``"ortho"`` is scale-free.
- ``l1``: ``{"l1": ...}``; ``charbonnier``: ``{"charbonnier": mean sqrt((p - t)^2 + eps^2)}``.

Terms are computed in float32 whatever the autocast state (cuFFT has no bf16 transform).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

LossTerms = dict[str, Tensor]
LossFunction = Callable[[Tensor, Tensor], LossTerms]


class NonFiniteLossError(ArithmeticError):
    """Training produced NaN or infinity; the message names the loss term (or the gradient) and step."""


def l1_loss(prediction: Tensor, target: Tensor) -> Tensor:
    return (prediction.float() - target.float()).abs().mean()


def fft_l1_loss(prediction: Tensor, target: Tensor, *, norm: str = "backward") -> Tensor:
    """Mean absolute difference of the real and imaginary parts of the 2-D real FFT (last two dims)."""
    spectrum_p = torch.fft.rfft2(prediction.float(), norm=norm)
    spectrum_t = torch.fft.rfft2(target.float(), norm=norm)
    return (torch.view_as_real(spectrum_p) - torch.view_as_real(spectrum_t)).abs().mean()


def charbonnier_loss(prediction: Tensor, target: Tensor, *, eps: float = 1e-3) -> Tensor:
    difference = prediction.float() - target.float()
    return torch.sqrt(difference * difference + eps * eps).mean()


def build_loss(
    kind: str = "l1_fft",
    *,
    fft_weight: float = 0.1,
    fft_norm: str = "backward",
    charbonnier_eps: float = 1e-3,
) -> LossFunction:
    """The loss named ``kind`` (``l1_fft``, ``l1``, ``charbonnier``) with its parameters bound."""
    if kind == "l1_fft":

        def dual_domain(prediction: Tensor, target: Tensor) -> LossTerms:
            return {
                "l1": l1_loss(prediction, target),
                "fft": fft_weight * fft_l1_loss(prediction, target, norm=fft_norm),
            }

        return dual_domain
    if kind == "l1":
        return lambda prediction, target: {"l1": l1_loss(prediction, target)}
    if kind == "charbonnier":
        return lambda prediction, target: {
            "charbonnier": charbonnier_loss(prediction, target, eps=charbonnier_eps)
        }
    raise ValueError(f"unknown loss '{kind}' (known: l1_fft, l1, charbonnier)")


def non_finite_terms(values: dict[str, float]) -> list[str]:
    """Names whose value is NaN or infinite, in order."""
    return [name for name, value in values.items() if not math.isfinite(value)]


GRADIENT_TERM = "gradient norm"
"""The name the guard gives the global gradient norm beside the loss terms."""


def describe_non_finite(values: dict[str, float], step: int) -> str:
    """The guard's message: which loss term(s), or the gradient norm, went non-finite at which step."""
    named = [
        (f"{name} = {values[name]}" if name == GRADIENT_TERM else f"loss term '{name}' = {values[name]}")
        for name in non_finite_terms(values)
    ]
    return (
        f"not finite at step {step}: {', '.join(named)}; lower optim.lr, keep optim.grad_clip on, "
        f"or train in fp32 (runtime.precision)"
    )
