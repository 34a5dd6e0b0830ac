"""Compacter: a compact Transformer for lightweight image restoration (our reconstruction).

Paper: Zhijian Wu, Jun Li, Yang Hu, Dingjiang Huang, "Compacter: A Lightweight Transformer for Image
Restoration", ACM MM 2024, pp. 3094-3103. **No official code or weights exist** (architectures.md §1.1),
so this module is a reconstruction from the abstract, a third-party paper note and the design proposal
in architectures.md §1.5. It honours the paper's stated constraints; its exact layers are our choices,
listed below. No author checkpoint can load into it, because none is published.

What the paper states (abstract and notes), and how each point is realised here:

* **CASA, Compact Adaptive Self-Attention.**

  - *Projection sharing*: ONE 1x1 conv (``attn.qkv``, C -> 3C) makes Q, K and V; the same tensors feed
    both branches, each over all C channels and ``num_heads`` heads (head dim C / heads).
  - Spatial branch: multi-head self-attention inside non-overlapping ``window_size`` windows, with
    a Swin relative-position bias and scale ``head_dim ** -0.5``.
  - Channel branch: multi-head "transposed" attention over the whole (padded) image. Q and K are
    L2-normalised along the pixel axis, multiplied by a learnable per-head ``temperature`` (init 1)
    and softmaxed into one C/h x C/h matrix per head, which mixes V's channels.
  - *Adaptive interaction*, in both directions (§1.5, DAT-AIM style): the spatial branch yields a
    channel gate ``g_c = sigmoid(W2 GELU(W1 GAP(S)))`` of shape (B, C, 1, 1) that scales the channel
    branch; the channel branch yields a spatial gate ``g_s = sigmoid(W2 GELU(W1 Ch))`` of shape
    (B, 1, H, W) that scales the spatial branch. Both MLPs narrow by ``gate_reduction``.
  - *Heterogeneous aggregation*: a depth-wise 3x3 conv on V (``attn.v_dwconv``) adds local detail.
  - Output: ``proj(S * g_s + Ch * g_c + DWConv(V))``, ``proj`` a 1x1 conv.

* **DSGM, Dual Selective Gated Module** (the feed-forward): a 1x1 conv C -> 2 * hidden (hidden =
  ``int(C * mlp_ratio)``) split into a and b. The local selection is ``GELU(DWConv3x3(a))``. The
  global selection, "encapsulating globality into each pixel", is ``b * sigmoid(MLP(GAP(b)))``.
  Their product goes through a 1x1 conv back to C.

* **Block** (pre-norm): ``x = x + CASA(LN(x)); x = x + DSGM(LN(x))``. LN is a per-pixel LayerNorm
  over channels (eps 1e-5, affine).

* **Body**: ``conv_first`` (3x3, 3 -> C), then ``len(depths)`` residual groups. Each group is
  ``depths[i]`` blocks followed by a 3x3 conv, with a skip around the group.

* **Heads**: one 3x3 conv C -> 3 * s^2, then PixelShuffle(s). For s = 1 (denoising, JPEG, deraining:
  the same body) the result is added to the input (global residual). For SR there is no image-level
  skip.

* About **400K parameters** at x4 (abstract). This configuration has 415,908 at x4, 400,320 at x2,
  406,815 at x3 and 396,423 at x1 (``CompacterConfig`` defaults, ``PRESETS``).

Design choices the sources leave open, and what we chose:

1. Width 48, 4 heads (head dim 12), window 8, two groups of six blocks, DSGM ratio 2, gate reduction 8,
   QKV bias on. These give ≈ 400K parameters (§1.5 arithmetic).
2. Alternating Swin shifts: blocks 1, 3, 5 of each group roll their windows by ``window_size // 2``
   and use the standard -100 region mask. Without this, only the depth-wise convs would cross window
   borders.
3. Channel attention is global (whole padded image), like RAMiT, Restormer and DAT, and §1.5. The
   GAP of the channel gate and of DSGM's global selection is global too. Consequence: tiled output
   matches whole-image output only approximately (the global statistics differ per tile);
   ``tile_multiple`` gives the window period, the best alignment available.
4. Which branch gates which (§1.5): spatial -> channel gate on Ch; channel -> spatial gate on S.
5. No mean shift and no input rescaling: the model works in [0, 1] directly. No dropout and no drop
   path (inference-first; the trainer may add regularisation elsewhere).
6. The training loss (L1 + 0.1 * L1 of the 2-D FFT) is not part of the model; see the trainer.
7. Padding (``layers.pad_to_multiple``): reflect to a multiple of ``window_size`` where the size allows
   (pad < side), replicate otherwise, per axis. Padded pixels take part in the global channel statistics.
   The output is cropped back.
8. Initialisation: PyTorch defaults for convs, LayerNorm weight 1 / bias 0, channel temperature 1,
   relative-position table trunc-normal (std 0.02) as in Swin.

Attention modules for the map view (``attention_modules``; forward hooks, forward unchanged). Per
CASA block ``layers.{i}.blocks.{j}.attn`` there are four small submodules. Hp, Wp are the padded
height and width (multiples of ``window_size``); crop ``[..., :H, :W]`` to align with the image.

* ``.spatial_map`` (``SpatialAttentionMap``): inputs ``(q, k, mask)``, with q and k of shape
  (B * nW, heads, w*w, head_dim) and ``mask`` (nW, w*w, w*w) additive, or None in unshifted blocks.
  Output: the post-softmax window attention, (B * nW, heads, w*w, w*w); rows sum to 1. Windows are in
  batch-major, then row-major order over the padded grid. In shifted blocks (odd j) the grid is over
  the image rolled by ``-window_size // 2`` on both axes (``torch.roll``).
* ``.channel_map`` (``ChannelAttentionMap``): inputs ``(q, k)``, each tokens (B, Hp*Wp, C). Output:
  the post-softmax channel attention of every head as one block-diagonal (B, C, C); rows sum to 1
  and entries outside a head's (head_dim, head_dim) block are 0. Row ``h * head_dim + r`` says how
  that output channel mixes the V channels of head h.
* ``.spatial_gate`` (``SpatialGate``): input the channel-branch output as tokens (B, Hp, Wp, C).
  Output: the spatial gate map in (0, 1), (B, Hp, Wp, 1), which scales the spatial branch.
* ``.channel_gate`` (``ChannelGate``): input the spatial-branch output as tokens (B, Hp, Wp, C).
  Output: the channel gate vector in (0, 1), (B, 1, 1, C), which scales the channel branch.

Layout: inside a residual group the blocks keep channels-last tokens (B, Hp, Wp, C) and run the
authors' 1x1 convolutions as matrix products with the same weights (``irstudio.models.layers``);
DSGM, the group's 3x3 convolution and everything outside the groups work on NCHW maps. Outputs equal the NCHW
formulation to float rounding (about 1e-7); compiled graphs (OpenVINO) run it without the
channel splits and planar reorders that took a third of the NCHW graph's CPU time.

Key names: with no official checkpoint, our module tree *is* the reference layout:
``conv_first.*``, ``layers.{i}.blocks.{j}.{norm1,norm2}.{weight,bias}``,
``layers.{i}.blocks.{j}.attn.{qkv,v_dwconv,proj}.{weight,bias}``,
``layers.{i}.blocks.{j}.attn.spatial_map.relative_position_bias_table`` ((2w-1)^2, heads),
``layers.{i}.blocks.{j}.attn.channel_map.temperature`` (heads, 1, 1),
``layers.{i}.blocks.{j}.attn.{spatial_gate,channel_gate}.{reduce,expand}.{weight,bias}``,
``layers.{i}.blocks.{j}.ffn.{project_in,dwconv,project_out}.{weight,bias}``,
``layers.{i}.blocks.{j}.ffn.select.{reduce,expand}.{weight,bias}``, ``layers.{i}.conv.*`` and
``upsample.0.*`` (scale s: ``upsample.0.weight.shape[0] == 3 * s * s``). The relative-position index
is a non-persistent buffer. ``from_official_state_dict`` only unwraps trainer wrappers and ``module.``
prefixes (``irstudio.models.checkpoint_keys``). It drops stray ``relative_position_index`` /
``attn_mask`` buffers and checks every key against this layout.

Half precision: bf16 only (``HALF_DTYPES``). Window attention is fp16-unsafe in the Swin family
(performance.md §5).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irstudio.models.checkpoint_keys import unwrap_checkpoint
from irstudio.models.descriptor import ArchDescriptor
from irstudio.models.layers import chunked_conv, chunked_pointwise, pad_to_multiple, pointwise

__all__ = [
    "ARCH",
    "HALF_DTYPES",
    "PRESETS",
    "ChannelAttentionMap",
    "ChannelGate",
    "Compacter",
    "CompacterConfig",
    "SpatialAttentionMap",
    "SpatialGate",
    "attention_modules",
    "build",
    "from_official_state_dict",
    "tile_multiple",
]

HALF_DTYPES: tuple[str, ...] = ("bf16",)

_MASK_VALUE = -100.0  # Swin's additive mask for cross-region pairs in shifted windows


@dataclass(frozen=True)
class CompacterConfig:
    """Every hyper-parameter of Compacter; defaults are the x4 SR configuration (≈ 400K parameters).

    ``upscale``: output scale s (1 = restoration head with global residual). ``embed_dim``: feature
    width C. ``depths``: blocks per residual group. ``num_heads``: heads of both attention branches
    (C must divide by it). ``window_size``: side of the spatial-attention windows. ``mlp_ratio``:
    DSGM hidden width / C. ``gate_reduction``: narrowing of the gate MLPs (interaction and DSGM).
    ``qkv_bias``: bias on the shared QKV projection.
    """

    upscale: int = 4
    embed_dim: int = 48
    depths: tuple[int, ...] = (6, 6)
    num_heads: int = 4
    window_size: int = 8
    mlp_ratio: float = 2.0
    gate_reduction: int = 8
    qkv_bias: bool = True


PRESETS: dict[str, CompacterConfig] = {
    "compacter-x1": CompacterConfig(upscale=1),
    "compacter-x2": CompacterConfig(upscale=2),
    "compacter-x3": CompacterConfig(upscale=3),
    "compacter-x4": CompacterConfig(upscale=4),
}


# --------------------------------------------------------------------------------------------------
# Small tensor helpers
# --------------------------------------------------------------------------------------------------


def _to_windows(t: Tensor, heads: int, window: int) -> Tensor:
    """Tokens (B, H, W, C) -> (B * nW, heads, window**2, C // heads); windows batch-major,
    row-major; channel c is head c // d, feature c % d."""
    batch, height, width, channels = t.shape
    head_dim = channels // heads
    t = t.reshape(batch, height // window, window, width // window, window, heads, head_dim)
    t = t.permute(0, 1, 3, 5, 2, 4, 6)  # B, nWh, nWw, heads, wy, wx, d
    return t.reshape(-1, heads, window * window, head_dim)


def _from_windows(t: Tensor, batch: int, height: int, width: int, window: int) -> Tensor:
    """Inverse of ``_to_windows``: (B * nW, heads, window**2, d) -> tokens (B, H, W, heads * d)."""
    heads, head_dim = t.shape[1], t.shape[3]
    t = t.reshape(batch, height // window, width // window, heads, window, window, head_dim)
    t = t.permute(0, 1, 4, 2, 5, 3, 6)  # B, nWh, wy, nWw, wx, heads, d
    return t.reshape(batch, height, width, heads * head_dim)


def _relative_position_index(window: int) -> Tensor:
    """(window**2, window**2) int64 index into a ((2w-1)**2)-row bias table (Swin layout)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))
    coords = coords.flatten(1)  # 2, N
    delta = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return delta[..., 0] * (2 * window - 1) + delta[..., 1]


def _shift_mask(height: int, width: int, window: int, shift: int, like: Tensor) -> Tensor:
    """Additive mask (nW, N, N) for windows of an image rolled by ``-shift``: 0 within a region, -100 across.

    ``like`` gives device and dtype. Regions are Swin's 3 x 3 split at ``-window`` and ``-shift``.
    """
    regions = torch.zeros(height, width, device=like.device)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for rows in bands:
        for cols in bands:
            regions[rows, cols] = label
            label += 1
    windows = regions.reshape(height // window, window, width // window, window)
    windows = windows.permute(0, 2, 1, 3).reshape(-1, window * window)
    differs = windows[:, None, :] != windows[:, :, None]
    return differs.to(like.dtype) * _MASK_VALUE


# --------------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------------


class SpatialAttentionMap(nn.Module):
    """Window attention probabilities: softmax(q kᵀ * d^-0.5 + relative-position bias + mask).

    Owns the Swin relative-position bias table ((2w-1)^2, heads). ``forward(q, k, mask)``: q, k
    (B * nW, heads, w*w, d); ``mask`` (nW, w*w, w*w) additive or None. Returns (B * nW, heads, w*w, w*w).
    """

    relative_position_index: Tensor  # buffer

    def __init__(self, *, window_size: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        self.scale: float = head_dim**-0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", _relative_position_index(window_size), persistent=False
        )

    def _bias(self) -> Tensor:
        tokens = self.relative_position_index.shape[0]
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        return bias.reshape(tokens, tokens, -1).permute(2, 0, 1)  # heads, N, N

    def forward(self, q: Tensor, k: Tensor, mask: Tensor | None) -> Tensor:
        logits = (q * self.scale) @ k.transpose(-2, -1)
        bias = self._bias().to(logits.dtype)
        # Inference adds in place (the logits are the block's largest tensor); training adds out of
        # place, which autograd differentiates without rebasing a view (fwd+bwd 13 ms, not 21 ms).
        logits = logits + bias if torch.is_grad_enabled() else logits.add_(bias)
        if mask is not None:
            windows, heads, tokens = mask.shape[0], q.shape[1], q.shape[2]
            # Out of place: graph converters (OpenVINO's TorchScript frontend) reject writes through views.
            masked = logits.view(-1, windows, heads, tokens, tokens) + mask[None, :, None].to(logits.dtype)
            logits = masked.view(logits.shape)
        return logits.softmax(dim=-1)


class ChannelAttentionMap(nn.Module):
    """Channel ("transposed") attention probabilities per head: softmax(norm(q) norm(k)ᵀ * temperature).

    ``forward(q, k)``: q, k tokens (B, P, C) with P pixels; each channel is L2-normalised along P.
    Returns the block-diagonal (B, C, C): block h (channels h*d to h*d + d - 1) is head h's
    (d, d) attention, rows summing to 1; exactly 0 outside the blocks (a -inf mask before the
    softmax). All heads are one C x C product on the tokens: no per-head transposes, for heads
    times the products of this step (about 10 % more multiply-adds for the whole model). Owns
    ``temperature`` (heads, 1, 1), init 1.
    """

    outside_heads: Tensor  # buffer

    def __init__(self, *, num_heads: int, channels: int) -> None:
        super().__init__()
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        head = torch.arange(channels) // (channels // num_heads)
        outside = torch.where(head[:, None] == head[None, :], 0.0, float("-inf"))
        self.register_buffer("outside_heads", outside, persistent=False)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        logits = F.normalize(q, dim=1).transpose(-2, -1) @ F.normalize(k, dim=1)
        per_row = self.temperature.repeat_interleave(q.shape[-1] // self.temperature.shape[0], dim=0)
        return (logits * per_row.view(-1, 1) + self.outside_heads.to(logits.dtype)).softmax(dim=-1)


class ChannelGate(nn.Module):
    """Global channel selection: sigmoid(expand(GELU(reduce(GAP(t))))); tokens (B, H, W, C) ->
    (B, 1, 1, C). ``reduce``/``expand`` are the authors' 1x1 convolutions, run as matrix products."""

    def __init__(self, *, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        pooled = tokens.mean(dim=(1, 2), keepdim=True)
        return torch.sigmoid(pointwise(self.expand, F.gelu(pointwise(self.reduce, pooled))))

    def on_map(self, x: Tensor) -> Tensor:
        """The same gate for an NCHW map: (B, C, H, W) -> (B, C, 1, 1) (forward hooks do not see it)."""
        return torch.sigmoid(self.expand(F.gelu(self.reduce(x.mean(dim=(2, 3), keepdim=True)))))


class SpatialGate(nn.Module):
    """Per-pixel selection: sigmoid(expand(GELU(reduce(t)))); tokens (B, H, W, C) -> (B, H, W, 1)."""

    def __init__(self, *, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, 1, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        return torch.sigmoid(pointwise(self.expand, F.gelu(pointwise(self.reduce, tokens))))


def _depthwise_tokens(conv: nn.Conv2d, tokens: Tensor) -> Tensor:
    """A depthwise (or any) convolution on tokens (B, H, W, C) -> tokens (B, H, W, C')."""
    y: Tensor = conv(tokens.permute(0, 3, 1, 2))
    return y.permute(0, 2, 3, 1)


class CASA(nn.Module):
    """Compact Adaptive Self-Attention on normalised tokens (B, Hp, Wp, C), Hp and Wp multiples of
    the window.

    ``forward(t, mask)`` returns tokens (B, Hp, Wp, C); ``mask`` is the shift mask (shifted blocks)
    or None. The authors' layers (1x1 ``qkv``/``proj``, depthwise ``v_dwconv``) keep their names and
    weights; the 1x1 ones run as matrix products on the tokens.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        gate_reduction: int,
        qkv_bias: bool,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=qkv_bias)
        self.v_dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.spatial_map = SpatialAttentionMap(
            window_size=window_size, num_heads=num_heads, head_dim=dim // num_heads
        )
        self.channel_map = ChannelAttentionMap(num_heads=num_heads, channels=dim)
        self.spatial_gate = SpatialGate(channels=dim, reduction=gate_reduction)
        self.channel_gate = ChannelGate(channels=dim, reduction=gate_reduction)
        self.proj = nn.Conv2d(dim, dim, 1)

    def _spatial(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        batch, height, width, _ = q.shape
        shift = self.shift_size
        if shift:
            q, k, v = (torch.roll(t, (-shift, -shift), dims=(1, 2)) for t in (q, k, v))
        q, k, v = (_to_windows(t, self.num_heads, self.window_size) for t in (q, k, v))
        attn = self.spatial_map(q, k, mask if shift else None)
        out = _from_windows(attn @ v, batch, height, width, self.window_size)
        return torch.roll(out, (shift, shift), dims=(1, 2)) if shift else out

    def _channel(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        batch, height, width, channels = q.shape
        q, k, v = (t.reshape(batch, height * width, channels) for t in (q, k, v))
        attn: Tensor = self.channel_map(q, k)  # (B, C, C), block-diagonal over the heads
        return (v @ attn.transpose(-2, -1)).reshape(batch, height, width, channels)

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        q, k, v = chunked_pointwise(self.qkv, tokens, 3)
        local = _depthwise_tokens(self.v_dwconv, v)
        spatial = self._spatial(q, k, v, mask)
        channel = self._channel(q, k, v)
        spatial_gate = self.spatial_gate(channel)  # channel branch -> where the spatial branch matters
        channel_gate = self.channel_gate(spatial)  # spatial branch -> which channels of Ch matter
        return pointwise(self.proj, spatial * spatial_gate + channel * channel_gate + local)


class DSGM(nn.Module):
    """Dual Selective Gated Module: local gate GELU(DWConv(a)) times globally gated b, projected back.

    Tokens (B, H, W, C) -> (B, H, W, C); hidden width ``int(C * mlp_ratio)``. Inside, it works on
    an NCHW map: its depthwise convolution and channel gate need no token layout, and compiled
    graphs transpose the narrow input and output instead of the wide hidden map.
    """

    def __init__(self, *, dim: int, mlp_ratio: float, gate_reduction: int) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.project_in = nn.Conv2d(dim, 2 * hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.select = ChannelGate(channels=hidden, reduction=gate_reduction)
        self.project_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        a, b = chunked_conv(self.project_in, tokens.permute(0, 3, 1, 2), 2)
        local = F.gelu(self.dwconv(a))
        selected = b * self.select.on_map(b)
        y: Tensor = self.project_out(local * selected)
        return y.permute(0, 2, 3, 1)


class CompacterBlock(nn.Module):
    """Pre-norm block: t + CASA(LN(t)), then t + DSGM(LN(t)); tokens (B, Hp, Wp, C) -> same."""

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float,
        gate_reduction: int,
        qkv_bias: bool,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)  # over each token's channels, eps 1e-5
        self.attn = CASA(
            dim=dim,
            num_heads=num_heads,
            window_size=window_size,
            shift_size=shift_size,
            gate_reduction=gate_reduction,
            qkv_bias=qkv_bias,
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = DSGM(dim=dim, mlp_ratio=mlp_ratio, gate_reduction=gate_reduction)

    def forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        tokens = tokens + self.attn(self.norm1(tokens), mask)
        tokens = tokens + self.ffn(self.norm2(tokens))
        return tokens


class ResidualGroup(nn.Module):
    """``depth`` blocks (shift 0, w/2, 0, ...) then a 3x3 conv, with a skip around the group;
    (B, C, Hp, Wp) -> same. The blocks run on channels-last tokens (see ``irstudio.models.layers``)."""

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        gate_reduction: int,
        qkv_bias: bool,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            CompacterBlock(
                dim=dim,
                num_heads=num_heads,
                window_size=window_size,
                shift_size=0 if index % 2 == 0 else window_size // 2,
                mlp_ratio=mlp_ratio,
                gate_reduction=gate_reduction,
                qkv_bias=qkv_bias,
            )
            for index in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        tokens = x.permute(0, 2, 3, 1).contiguous()
        for block in self.blocks:
            tokens = block(tokens, mask)
        y: Tensor = self.conv(tokens.permute(0, 3, 1, 2))
        return x + y


class Compacter(nn.Module):
    """Compacter for SR (``upscale`` 2/3/4) or restoration (``upscale`` 1).

    ``forward(x)``: x (N, 3, H, W) float RGB in [0, 1], any H, W >= 1, any device; returns
    (N, 3, H * upscale, W * upscale), nominally in [0, 1] (not clamped), same dtype and device.
    """

    def __init__(
        self,
        *,
        upscale: int = 4,
        embed_dim: int = 48,
        depths: tuple[int, ...] = (6, 6),
        num_heads: int = 4,
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        gate_reduction: int = 8,
        qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if upscale < 1 or window_size < 2:
            raise ValueError(f"need upscale >= 1 and window_size >= 2, got {upscale}, {window_size}")
        self.upscale = upscale
        self.window_size = window_size
        self.conv_first = nn.Conv2d(3, embed_dim, 3, padding=1)
        self.layers = nn.ModuleList(
            ResidualGroup(
                dim=embed_dim,
                depth=depth,
                num_heads=num_heads,
                window_size=window_size,
                mlp_ratio=mlp_ratio,
                gate_reduction=gate_reduction,
                qkv_bias=qkv_bias,
            )
            for depth in depths
        )
        self.upsample = nn.Sequential(
            nn.Conv2d(embed_dim, 3 * upscale * upscale, 3, padding=1), nn.PixelShuffle(upscale)
        )

    def _needs_shift_mask(self) -> bool:
        return any(len(cast(ResidualGroup, group).blocks) > 1 for group in self.layers)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.window_size)  # reflect, per-axis fallback
        features = self.conv_first(padded)
        mask = None
        if self._needs_shift_mask():
            padded_h, padded_w = padded.shape[-2:]
            shift = self.window_size // 2
            mask = _shift_mask(padded_h, padded_w, self.window_size, shift, features)
        for group in self.layers:
            features = group(features, mask)
        out: Tensor = self.upsample(features)
        if self.upscale == 1:
            out = out + padded
        return out[..., : height * self.upscale, : width * self.upscale]


# --------------------------------------------------------------------------------------------------
# Module contract functions
# --------------------------------------------------------------------------------------------------


def build(config: CompacterConfig) -> Compacter:
    """A freshly initialised ``Compacter`` with the hyper-parameters of ``config``."""
    return Compacter(**dataclasses.asdict(config))


def tile_multiple(config: CompacterConfig) -> int:
    """Tile origins align to the window grid (no internal downsampling).

    Tiled output still differs slightly from whole-image output: channel attention and the gates'
    averages use the whole image. See the module docstring, choice 3.
    """
    return config.window_size


def attention_modules(config: CompacterConfig) -> tuple[str, ...]:
    """Hookable module names, four per CASA block, in block order.

    Per block: ``spatial_map``, ``channel_map``, ``spatial_gate``, ``channel_gate``. What a forward hook
    on each sees is described in the module docstring.
    """
    names = []
    for group, depth in enumerate(config.depths):
        for block in range(depth):
            prefix = f"layers.{group}.blocks.{block}.attn"
            for part in ("spatial_map", "channel_map", "spatial_gate", "channel_gate"):
                names.append(f"{prefix}.{part}")
    return tuple(names)


_STRAY_SUFFIXES = ("relative_position_index", "attn_mask")


@functools.cache
def _key_patterns() -> tuple[re.Pattern[str], ...]:
    """Regexes of every valid state-dict key: the default model's keys with indices generalised."""
    with torch.device("meta"):
        reference = Compacter()
    patterns = set()
    for key in reference.state_dict():
        parts = (r"\d+" if part.isdigit() else re.escape(part) for part in key.split("."))
        patterns.add(r"\.".join(parts))
    return tuple(re.compile(f"^{pattern}$") for pattern in sorted(patterns))


def from_official_state_dict(state_dict: Mapping[str, object]) -> dict[str, Tensor]:
    """Map a Compacter checkpoint to our state dict.

    No official weights exist, so "official" means our own layout, possibly wrapped by a
    trainer. ``unwrap_checkpoint`` removes the wrappers (``params_ema`` preferred, ``params``,
    ``state_dict``, ``model``, ``net``, nested or not) and ``module.`` prefixes (DataParallel/DDP);
    stray non-persistent buffers (``relative_position_index``, ``attn_mask``) are dropped. Then it
    checks every key against the Compacter layout. It raises ``ValueError`` naming the offending keys
    when a key is unknown, a value is not a tensor, or ``conv_first.weight`` / ``upsample.0.weight`` is
    missing. Shapes are checked by ``load_state_dict``.
    """
    result: dict[str, Tensor] = {}
    for key, value in unwrap_checkpoint(state_dict).items():
        if key.endswith(_STRAY_SUFFIXES):
            continue
        if not isinstance(value, Tensor):
            raise ValueError(f"not a Compacter checkpoint: value of {key!r} is not a tensor")
        result[key] = value
    unknown = [key for key in result if not any(p.match(key) for p in _key_patterns())]
    if unknown:
        shown = ", ".join(sorted(unknown)[:5])
        raise ValueError(f"not a Compacter checkpoint: {len(unknown)} unknown key(s), e.g. {shown}")
    missing = [key for key in ("conv_first.weight", "upsample.0.weight") if key not in result]
    if missing:
        raise ValueError(f"not a Compacter checkpoint: missing {', '.join(missing)}")
    return result


ARCH: ArchDescriptor[CompacterConfig] = ArchDescriptor(
    name="compacter",
    config_type=CompacterConfig,
    presets=PRESETS,
    build=build,
    tile_multiple=tile_multiple,
    attention_modules=attention_modules,
    half_dtypes=HALF_DTYPES,
    from_official=from_official_state_dict,
)
"""Compacter for the registry, the map view and the benchmark (see ``irstudio.models.descriptor``)."""
