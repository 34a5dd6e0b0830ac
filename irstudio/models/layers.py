"""Layers shared by the architectures, laid out for compiled CPU graphs: 1x1 convolutions on
channels-last tokens, channel splits without activation splits, and the per-pixel ``LayerNorm2d``
of ASID and LIR.

A model that keeps its features as (N, H, W, C) tokens between its windowed attentions runs a
1x1 convolution as one matrix product (``F.linear`` with the convolution's own weights, so state
dicts and the authors' key names are unchanged). Graph compilers run that layout without the
planar <-> blocked reorders an NCHW feature map needs before every window partition (OpenVINO:
Compacter's CPU time was a third channel splits and reorders of NCHW maps).

``chunked_pointwise`` is ``pointwise(conv, t).chunk(parts, dim=-1)`` and ``chunked_conv`` the same
for NCHW maps, in equal or given parts (optionally through a depthwise convolution). In eager mode
the parts are views of one product; while ``torch.jit.trace`` records a graph, each part is its
own product with a slice of the weights (a constant the converter folds), so the graph never
splits an activation (OpenVINO's CPU plugin runs such splits on a slow reference kernel).

``pad_to_multiple`` is the one bottom/right padding every architecture runs before its windows
(``padded_side`` the size it pads to): each keeps its own mode and fallback through the arguments.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "LayerNorm2d",
    "chunked_conv",
    "chunked_linear_on_map",
    "chunked_pointwise",
    "linear_on_map",
    "pad_to_multiple",
    "padded_side",
    "pointwise",
]

PadMode = Literal["reflect", "replicate", "constant"]
PadFallback = Literal["axis", "both"]


def _matrix(conv: nn.Conv2d) -> Tensor:
    if conv.kernel_size != (1, 1) or conv.groups != 1:
        raise ValueError("a pointwise layer needs a dense 1x1 convolution")
    return conv.weight.flatten(1)


def pointwise(conv: nn.Conv2d, tokens: Tensor) -> Tensor:
    """``conv`` (dense 1x1) on channels-last ``tokens`` (..., C_in) -> (..., C_out); same device
    and dtype as the weights."""
    return F.linear(tokens, _matrix(conv), conv.bias)


def chunked_pointwise(conv: nn.Conv2d, tokens: Tensor, parts: int) -> tuple[Tensor, ...]:
    """``pointwise(conv, tokens).chunk(parts, dim=-1)``: ``parts`` tensors (..., C_out / parts)."""
    if not torch.jit.is_tracing():
        return pointwise(conv, tokens).chunk(parts, dim=-1)
    weights = _matrix(conv).chunk(parts)
    biases = conv.bias.chunk(parts) if conv.bias is not None else (None,) * parts
    return tuple(F.linear(tokens, w, b) for w, b in zip(weights, biases, strict=True))


def chunked_conv(
    conv: nn.Conv2d, x: Tensor, parts: int | tuple[int, ...], *, depthwise: nn.Conv2d | None = None
) -> tuple[Tensor, ...]:
    """``conv(x).split(sizes, dim=1)`` for a dense convolution on (N, C, H, W), ``parts`` equal
    parts or the channel count of each, or with ``depthwise`` (groups equal to its channels)
    ``depthwise(conv(x))`` split so: while tracing, one convolution per part with its slice of the
    weights (no activation split)."""
    sizes = (conv.out_channels // parts,) * parts if isinstance(parts, int) else parts
    if not torch.jit.is_tracing():
        y: Tensor = conv(x)
        split_parts: tuple[Tensor, ...] = (depthwise(y) if depthwise is not None else y).split(sizes, dim=1)
        return split_parts
    outs = [_conv_part(conv, x, w, b) for w, b in _weight_parts(conv, sizes)]
    if depthwise is None:
        return tuple(outs)
    return tuple(
        _conv_part(depthwise, y, w, b)
        for y, (w, b) in zip(outs, _weight_parts(depthwise, sizes), strict=True)
    )


def _weight_parts(conv: nn.Conv2d, sizes: tuple[int, ...]) -> list[tuple[Tensor, Tensor | None]]:
    biases = conv.bias.split(sizes) if conv.bias is not None else (None,) * len(sizes)
    return list(zip(conv.weight.split(sizes), biases, strict=True))


def _conv_part(conv: nn.Conv2d, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``conv`` restricted to some output channels; a depthwise ``conv`` keeps one group per channel."""
    depthwise = conv.groups > 1
    if depthwise and not conv.groups == conv.in_channels == conv.out_channels:
        raise ValueError("chunked_conv handles dense and depthwise convolutions")
    groups = x.shape[1] if depthwise else 1
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, groups)


def linear_on_map(linear: nn.Linear, x: Tensor) -> Tensor:
    """``linear`` applied to every pixel of an NCHW map (as a 1x1 convolution with its weights):
    (N, C_in, H, W) -> (N, C_out, H, W)."""
    return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)


def chunked_linear_on_map(linear: nn.Linear, x: Tensor, parts: int) -> tuple[Tensor, ...]:
    """``linear_on_map(linear, x).chunk(parts, dim=1)``; while tracing, one product per part."""
    if not torch.jit.is_tracing():
        return linear_on_map(linear, x).chunk(parts, dim=1)
    biases = linear.bias.chunk(parts) if linear.bias is not None else (None,) * parts
    return tuple(
        F.conv2d(x, w[:, :, None, None], b) for w, b in zip(linear.weight.chunk(parts), biases, strict=True)
    )


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel of an NCHW map, affine: biased variance, ``eps``
    inside the root (1e-6, as Omni-SR's and LIR's own), ``weight``/``bias`` (C,) as their state
    dicts name them. (N, C, H, W) -> same. Eager inference runs PyTorch's fused ``layer_norm`` on
    the channels-last view (1.7x faster for ASID's forward); training and traced graphs keep the
    explicit mean/variance form: under bf16 autocast ``layer_norm`` runs in fp32 with casts of the
    whole map either side (ASID's bf16 training step measured 0.75 it/s with it, 0.92-0.95 without,
    in separate runs of ``python -m irstudio.training.benchmark``), and OpenVINO fuses the
    explicit form into one MVN over C without transposing the map."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_grad_enabled() and not torch.jit.is_tracing():
            pixels = x.permute(0, 2, 3, 1)
            normed = F.layer_norm(pixels, pixels.shape[-1:], self.weight, self.bias, self.eps)
            return normed.permute(0, 3, 1, 2)
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        normed = centred / (centred.pow(2).mean(1, keepdim=True) + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * normed + self.bias.view(1, -1, 1, 1)


def padded_side(size: int, multiple: int, minimum: int = 1) -> int:
    """The smallest multiple of ``multiple`` (>= 1) that is >= ``size`` and >= ``minimum``."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    return -(-max(size, minimum) // multiple) * multiple


def pad_to_multiple(
    x: Tensor,
    multiple: int,
    *,
    mode: PadMode = "reflect",
    minimum: int = 1,
    fallback: PadFallback = "axis",
) -> Tensor:
    """``x`` (N, C, H, W), or (C, H, W), padded at the bottom and right to (H', W') with
    H' = ``padded_side(H, multiple, minimum)`` (W' alike); the image stays at [..., :H, :W], so the
    caller crops its output back. Same dtype and device; an input already that size is returned
    itself (no copy).

    ``mode``: "reflect" mirrors without repeating the edge pixel (what Compacter, AST, LIR and ASID
    use: no artificial edge at the border), "replicate" repeats the edge pixel, "constant" pads
    zeros (the authors' AST and ASID code; ours do not, see their module docstrings). Reflection
    needs the pad smaller than the side; where it is not, "replicate" is used instead: on that
    axis alone (``fallback="axis"``: Compacter, AST, LIR) or on both axes whenever either cannot
    reflect (``fallback="both"``: ASID's rule). Each keeps its outputs bit for bit.
    """
    height, width = x.shape[-2:]
    pad_h = padded_side(height, multiple, minimum) - height
    pad_w = padded_side(width, multiple, minimum) - width
    if pad_h == 0 and pad_w == 0:
        return x
    mode_h, mode_w = _axis_modes(mode, fallback, (pad_h, height), (pad_w, width))
    if mode_h == mode_w:  # one pad, the same values as two (a pad only copies)
        return _pad(x, (0, pad_w, 0, pad_h), mode_h)
    return _pad(_pad(x, (0, 0, 0, pad_h), mode_h), (0, pad_w, 0, 0), mode_w)


def _axis_modes(
    mode: PadMode, fallback: PadFallback, rows: tuple[int, int], cols: tuple[int, int]
) -> tuple[str, str]:
    """The mode of each axis given its (pad, side): "reflect" falls back to "replicate" where the
    pad is not smaller than the side (per ``fallback``)."""
    if mode not in ("reflect", "replicate", "constant") or fallback not in ("axis", "both"):
        raise ValueError(f"unknown padding mode {mode!r} or fallback {fallback!r}")
    if mode != "reflect":
        return mode, mode
    fits = [pad < side for pad, side in (rows, cols)]
    if fallback == "both":
        fits = [all(fits)] * 2
    mode_h, mode_w = ("reflect" if ok else "replicate" for ok in fits)
    return mode_h, mode_w


def _pad(x: Tensor, pads: tuple[int, int, int, int], mode: str) -> Tensor:
    return F.pad(x, pads, mode=mode) if any(pads) else x
