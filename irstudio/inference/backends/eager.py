"""Eager PyTorch, optionally in channels_last memory format.

``ChannelsLast(model)`` converts the model's 4-D weights to channels_last (in place) and feeds it a
channels_last input; it returns a contiguous NCHW tensor, so callers see the same contract as the
plain model: (N, C, H, W) float in, (N, C_out, H * s, W * s) out, same device and dtype. Conv nets
often gain from it (performance.md §3.6); attention nets may lose, which is why the chooser measures.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

EAGER = "eager"
CHANNELS_LAST = "eager-channels-last"


class ChannelsLast(nn.Module):
    """``inner`` run in channels_last; output contiguous NCHW. ``inner`` stays a submodule (``.to``,
    ``.eval`` and ``.train`` reach it)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            return self.inner(x)
        return self.inner(x.contiguous(memory_format=torch.channels_last)).contiguous()


def unwrap(module: nn.Module) -> nn.Module:
    """The plain model inside a backend wrapper (the module itself when it is not wrapped)."""
    for name in ("reference", "inner", "_orig_mod"):
        inner = getattr(module, name, None)
        if isinstance(inner, nn.Module):
            return unwrap(inner)
    return module
