"""ASID: Efficient Attention-Sharing Information Distillation Transformer for lightweight SISR.

Paper: Karam Park, Jae Woong Soh, Nam Ik Cho, AAAI 2025 (arXiv 2501.15774). Official code
``saturnian77/ASID`` (``components/ASID.py``, ``components/ASIDd8.py``, ``ops/IDSA.py``, ``ops/IDSG.py``,
``ops/IDSG_A.py``; helpers ``ops/esa.py``, ``ops/layernorm.py``, ``ops/pixelshuffle.py`` from Omni-SR).
This file is our own re-implementation from ``docs/architectures.md`` section 4, checked against that code.

Contract: ``ASID.forward`` takes ``(N, 3, H, W)`` float RGB in [0, 1] (any H, W >= 1, any device, float32
or bfloat16) and returns ``(N, 3, H*s, W*s)`` nominally in [0, 1] (not clamped).

Network (C = ``num_feat`` = 48, d = C/4 = 12 channels split off at each distillation step):

* ``input``: 3x3 conv 3 -> C. ``block0`` .. ``block{res_num-1}``: information-distillation groups (IDSG).
  ``output``: 3x3 conv C -> C plus the long skip from ``input``. ``up``: 3x3 conv C -> 3s^2 and PixelShuffle.
* IDSG: ``z = IDSA(x) ; z = res_end(z) + x ; return ESA(z)`` (``res_end`` is a 1x1 conv).
* IDSA (information distillation with attention): LB1 (MBConv, 48 ch) -> keep 12 "local" channels, spatial
  window attention SLA1 then grid attention SGA1 on the other 36 -> ``pw1`` (1x1, 48) -> distil 12 ->
  LB2 (36) -> keep 12, SLA2/SGA2 on 24 -> ``pw2`` (1x1, 36) -> distil 12 -> LB3 (24) -> keep 12, SLA3/SGA3
  on 12 -> ``pw3`` (1x1 over the concat of both distilled parts, the attended part and the local part, 48)
  -> ``BlockC``: channel attention over 8x8 windows, gated FFN, channel attention over the stride-8 grid,
  gated FFN (all pre-norm residual).
* LB: MBConv with expansion 1 and a residual: 1x1 -> GELU -> DW 3x3 -> GELU -> squeeze-excitation
  (mean -> Linear c->c/4 -> SiLU -> Linear c/4->c -> sigmoid, bias-free) -> 1x1.
* Spatial blocks (SLA = 8x8 windows, pixel (8a+i, 8b+j) is token (i, j) of window (a, b); SGA = 8x8
  grid, pixel (i*H/8 + a, j*W/8 + b) is token (i, j) of group (a, b)): ``t = LayerNorm(tokens)``,
  single-head attention (head dim = c, scale c^-0.5), residual with the un-normalised tokens, then
  ``x + GFFN(LayerNorm2d(x))``.
* Attention sharing: the six spatial blocks of the FIRST group (``block0``) compute their attention maps
  (``to_qkv`` bias-free, learned relative-position bias from a 225-entry table indexed by
  ``(drow + 7) * 15 + (dcol + 7)``, softmax). Every later group reuses the map of the block at the same
  position (a1 = SLA1, a2 = SGA1, ... a6 = SGA3) and only has ``to_v`` and ``to_out``:
  ``out = to_out(A_shared @ to_v(t))``. Channel attention is recomputed in every group.
* Channel attention (Restormer-style, one head): ``qkv = DW3x3(1x1 C->3C)`` (bias-free), q and k
  L2-normalised along the token axis, ``softmax(q k^T * temperature)`` is a C x C map per token group,
  ``project_out`` 1x1. Window variant: a group is the 64 pixels of one 8x8 window; grid variant: a group
  is all pixels with the same (row mod 8, col mod 8).
* GFFN (gated conv FFN, expansion 1, no biases): 1x1 c->2c -> DW 3x3 -> GELU(a) * b -> 1x1 c->c.
* ESA (Omni-SR's trimmed version, f = max(C/4, 16)): ``c1_ = conv1(x)``, stride-2 3x3 conv (no padding),
  7x7/3 max-pool, 3x3 conv, bilinear resize back, add ``conv_f(c1_)``, 1x1 to C, sigmoid, ``x * m``.
* LayerNorm2d: per-pixel LayerNorm over channels, eps 1e-6, affine.

Official-code facts used: the model works on [-1, 1] (``(x/255 - 0.5) * 2`` in the loaders), so
``forward`` maps [0, 1] -> [-1, 1] on entry and back on exit. The YAML flags ``pe`` (relative-position bias
is always on), ``ffn_bias`` (the GFFN never has biases) and ``block_num`` (must be 1) have no effect in
the official code, so they are not config fields here. ``bias`` switches the biases of ``input``,
``output``, ``up.0`` and ``res_end`` only (the official ``pw*`` and ESA convs always have biases).
Heads are always 1.

Choices the code leaves open or that we changed:

* Padding: the official code zero-pads bottom/right to a multiple of 8 (zeros in [-1, 1] space). We follow
  the project contract instead (``layers.pad_to_multiple``): reflect padding where the size allows on both
  axes, else replicate on both, bottom/right, to a multiple of ``window_size`` and at least 16 pixels
  (ESA's stride-2 conv + 7x7 pool needs >= 15; the official code crashes below that). Outputs differ from
  the official ones only near padded borders.
* ``window_size`` is used by every attention (the official spatial blocks hard-code 8, the channel blocks
  read ``window_size``); at the default 8 both agree.
* Head dimensions of size 1 are dropped from the attention tensors (maps are (B', 64, 64) and (N, G, C, C)
  rather than with a singleton head axis); this changes no value.
* Grid attentions and ESA see the whole image, so tiled inference cannot equal whole-image inference
  exactly (the official evaluation itself runs 64x64 tiles with overlap 24, each with its own shared maps).

State-dict keys are the official ones, so the official checkpoint (a raw ``state_dict``) maps onto ours by
unwrapping only (``models.checkpoint_keys``): ``input.*``, ``output.*``, ``up.0.*``;
``block0.residual_layer.0.<IDSA>`` (group A is a one-element list) and ``block{i}.residual_layer.<IDSA>``
for i >= 1; ``block{i}.res_end.*``, ``block{i}.esa.{conv1,conv_f,conv2,conv3,conv4}.*``; inside IDSA
``LB{k}.net.fn.{0,2,5}.*``, ``LB{k}.net.fn.4.gate.{1,3}.weight``, ``SLA{k}``/``SGA{k}`` with ``norm``,
``cnorm``, ``gfn.{project_in,dwconv,project_out}``, ``attn.{to_qkv,to_out.0,rel_pos_bias}`` (group A) or
``attn.{to_v,to_out.0}`` (later groups), ``BlockC.{canorm1,canorm2,cnorm1,cnorm2,cttn1,cttn2,gfn1,gfn2}``,
``pw{1,2,3}``. The relative-position index table is a non-persistent buffer, as in the official code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irstudio.models.checkpoint_keys import unwrap_checkpoint
from irstudio.models.descriptor import ArchDescriptor
from irstudio.models.layers import LayerNorm2d, chunked_conv, pad_to_multiple, padded_side

__all__ = [
    "ARCH",
    "ASID",
    "ESA_MIN_SIDE",
    "HALF_DTYPES",
    "PRESETS",
    "ASIDConfig",
    "attention_modules",
    "build",
    "config_from_state_dict",
    "from_official_state_dict",
    "tile_multiple",
]

HALF_DTYPES: tuple[str, ...] = ("bf16",)

ESA_MIN_SIDE = 15  # stride-2 3x3 conv then a 7x7 max-pool: the padded input must be at least this large
_SPATIAL_BLOCK_NAMES = ("SLA1", "SGA1", "SLA2", "SGA2", "SLA3", "SGA3")


@dataclass(frozen=True)
class ASIDConfig:
    """Hyper-parameters of ASID, with the official names; defaults are the official ASID x4 model.

    ``num_feat``: feature channels C (multiple of 4). ``res_num``: number of IDSG groups (3 for ASID, 8 for
    ASIDd8). ``upsampling``: SR scale s. ``bias``: biases of the head, tail, upsampler and ``res_end``
    convs. ``window_size``: side of the attention windows and of the grid.
    """

    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 48
    res_num: int = 3
    upsampling: int = 4
    bias: bool = True
    window_size: int = 8


PRESETS: dict[str, ASIDConfig] = {
    "asid-x2": ASIDConfig(upsampling=2),
    "asid-x3": ASIDConfig(upsampling=3),
    "asid-x4": ASIDConfig(upsampling=4),
    "asidd8-x4": ASIDConfig(res_num=8, upsampling=4),
}


# --------------------------------------------------------------------------- token layouts


# Every partition goes through channels-last pixels (N, H, W, C) and keeps the channels innermost:
# a compiled graph (OpenVINO) then moves each pixel's channels as one run instead of reordering a
# blocked NCHW map to planar before every partition (about a third of ASID's CPU time).


def _pixels(x: Tensor) -> Tensor:
    """(N, C, H, W) -> channels-last (N, H, W, C) (a view)."""
    return x.permute(0, 2, 3, 1)


def _to_map(pixels: Tensor, shape: torch.Size) -> Tensor:
    """Channels-last pixels, any view shape, -> the (N, C, H, W) map of ``shape``."""
    n, c, h, w = shape
    return pixels.reshape(n, h, w, c).permute(0, 3, 1, 2)


def _window_tokens(x: Tensor, w: int) -> Tensor:
    """(N, C, H, W) -> (N * H/w * W/w, w*w, C): pixel (w*a + i, w*b + j) is token i*w + j of window (a, b)."""
    n, c, h, wd = x.shape
    t = _pixels(x).reshape(n, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(n * (h // w) * (wd // w), w * w, c)


def _window_merge(tokens: Tensor, shape: torch.Size, w: int) -> Tensor:
    """Inverse of ``_window_tokens`` for a map of ``shape`` (N, C, H, W)."""
    n, c, h, wd = shape
    return _to_map(tokens.view(n, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5), shape)


def _grid_tokens(x: Tensor, w: int) -> Tensor:
    """(N, C, H, W) -> (N * H/w * W/w, w*w, C): pixel (i*H/w + a, j*W/w + b) = token i*w+j of group (a, b)."""
    n, c, h, wd = x.shape
    t = _pixels(x).reshape(n, w, h // w, w, wd // w, c).permute(0, 2, 4, 1, 3, 5)
    return t.reshape(n * (h // w) * (wd // w), w * w, c)


def _grid_merge(tokens: Tensor, shape: torch.Size, w: int) -> Tensor:
    """Inverse of ``_grid_tokens`` for a map of ``shape`` (N, C, H, W)."""
    n, c, h, wd = shape
    return _to_map(tokens.view(n, h // w, wd // w, w, w, c).permute(0, 3, 1, 4, 2, 5), shape)


def _channel_window_groups(x: Tensor, p: int) -> Tensor:
    """(N, C, H, W) -> (N, H/p * W/p, p*p, C): one token group per p x p window, tokens in raster order."""
    n, c, h, w = x.shape
    t = _pixels(x).reshape(n, h // p, p, w // p, p, c).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(n, (h // p) * (w // p), p * p, c)


def _channel_window_merge(groups: Tensor, shape: torch.Size, p: int) -> Tensor:
    """Inverse of ``_channel_window_groups``."""
    n, c, h, w = shape
    return _to_map(groups.view(n, h // p, w // p, p, p, c).permute(0, 1, 3, 2, 4, 5), shape)


def _channel_grid_groups(x: Tensor, p: int) -> Tensor:
    """(N, C, H, W) -> (N, p*p, H/p * W/p, C): group i*p + j holds the pixels with (row, col) % p = (i, j)."""
    n, c, h, w = x.shape
    t = _pixels(x).reshape(n, h // p, p, w // p, p, c).permute(0, 2, 4, 1, 3, 5)
    return t.reshape(n, p * p, (h // p) * (w // p), c)


def _channel_grid_merge(groups: Tensor, shape: torch.Size, p: int) -> Tensor:
    """Inverse of ``_channel_grid_groups``."""
    n, c, h, w = shape
    return _to_map(groups.view(n, p, p, h // p, w // p, c).permute(0, 3, 1, 4, 2, 5), shape)


def _relative_position_index(w: int) -> Tensor:
    """(w*w, w*w) int64: entry [n, m] = (drow + w - 1) * (2w - 1) + (dcol + w - 1), d = pos(n) - pos(m)."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    delta = coords[:, :, None] - coords[:, None, :] + (w - 1)
    return delta[0] * (2 * w - 1) + delta[1]


# --------------------------------------------------------------------------- small layers


class _GatedConvFeedForward(nn.Module):
    """GFFN, bias-free: 1x1 c->2c, DW 3x3, GELU(first half) * second half, 1x1 c->c. Shape-preserving."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.project_in = nn.Conv2d(channels, 2 * channels, 1, bias=False)
        self.dwconv = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1, groups=2 * channels, bias=False)
        self.project_out = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = chunked_conv(self.project_in, x, 2, depthwise=self.dwconv)
        y: Tensor = self.project_out(F.gelu(gate) * value)
        return y


class _ChannelMean(nn.Module):
    """(N, C, H, W) -> (N, C): global average over the spatial axes."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3))


class _SqueezeExcitation(nn.Module):
    """x * sigmoid(Linear(SiLU(Linear(mean(x))))), hidden = channels/4, bias-free (``gate.1``, ``gate.3``)."""

    def __init__(self, channels: int, shrinkage_rate: float = 0.25) -> None:
        super().__init__()
        hidden = int(channels * shrinkage_rate)
        self.gate = nn.Sequential(
            _ChannelMean(),
            nn.Linear(channels, hidden, bias=False),
            nn.SiLU(),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
            nn.Unflatten(1, (channels, 1, 1)),
        )

    def forward(self, x: Tensor) -> Tensor:
        weights: Tensor = self.gate(x)
        return x * weights


class _MBConvResidual(nn.Module):
    """x + fn(x), fn = 1x1 -> GELU -> DW 3x3 -> GELU -> SE -> 1x1 (expansion 1, biases on the convs)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fn = nn.Sequential(
            nn.Conv2d(channels, channels, 1),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
            nn.GELU(),
            _SqueezeExcitation(channels),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.fn(x)
        return x + y


class _LocalBlock(nn.Module):
    """LB: the MBConv local module (kept as ``net`` for the official key names). Shape-preserving."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = _MBConvResidual(channels)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.net(x)
        return y


class _AttentionMap(nn.Module):
    """Softmax over the last axis: attention logits in, attention probabilities out (the hook point)."""

    def forward(self, logits: Tensor) -> Tensor:
        return logits.softmax(dim=-1)


# --------------------------------------------------------------------------- spatial attention


class _SpatialSelfAttention(nn.Module):
    """Single-head token attention that computes its map (group A).

    ``forward(tokens)``: tokens (B', T, c) with T = w*w -> (out (B', T, c), map (B', T, T)), the map being
    the post-softmax probabilities (relative-position bias included), shared with the later groups.
    """

    def __init__(self, channels: int, window_size: int) -> None:
        super().__init__()
        self.scale = channels**-0.5
        self.to_qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.attend = _AttentionMap()
        self.to_out = nn.Sequential(nn.Linear(channels, channels, bias=False))
        self.rel_pos_bias = nn.Embedding((2 * window_size - 1) ** 2, 1)
        self.register_buffer("rel_pos_indices", _relative_position_index(window_size), persistent=False)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        q, k, v = self.to_qkv(tokens).chunk(3, dim=-1)
        logits = (q * self.scale) @ k.transpose(-2, -1)
        logits = logits + self.rel_pos_bias(self.rel_pos_indices).squeeze(-1)
        attn_map = self.attend(logits)
        return self.to_out(attn_map @ v), attn_map


class _SharedMapAttention(nn.Module):
    """Attention that reuses a map from group A: ``forward(tokens, map) = to_out(map @ to_v(tokens))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.to_v = nn.Linear(channels, channels, bias=False)
        self.to_out = nn.Sequential(nn.Linear(channels, channels, bias=False))

    def forward(self, tokens: Tensor, attn_map: Tensor) -> Tensor:
        y: Tensor = self.to_out(attn_map @ self.to_v(tokens))
        return y


class _SpatialBlock(nn.Module):
    """SLA (layout "window") or SGA (layout "grid") transformer block on c channels.

    ``forward(x, shared_map)``: x (N, c, H, W) with H, W multiples of ``window_size`` -> (y, map), y of the
    same shape. With ``computes_attention`` the map is computed here and ``shared_map`` must be None;
    otherwise ``shared_map`` (from the same-position block of group A) is used and returned unchanged.
    """

    def __init__(self, channels: int, window_size: int, layout: str, computes_attention: bool) -> None:
        super().__init__()
        if layout not in ("window", "grid"):
            raise ValueError(f"layout must be 'window' or 'grid', got {layout!r}")
        self.window_size = window_size
        self.layout = layout
        self.computes_attention = computes_attention
        self.norm = nn.LayerNorm(channels)
        self.attn: nn.Module = (
            _SpatialSelfAttention(channels, window_size)
            if computes_attention
            else _SharedMapAttention(channels)
        )
        self.cnorm = LayerNorm2d(channels)
        self.gfn = _GatedConvFeedForward(channels)

    def _attend(self, tokens: Tensor, shared_map: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.computes_attention:
            attended: tuple[Tensor, Tensor] = self.attn(tokens)  # (output, attention map)
            return attended
        if shared_map is None:
            raise ValueError("this block reuses group A's attention map: pass shared_map")
        return self.attn(tokens, shared_map), shared_map

    def forward(self, x: Tensor, shared_map: Tensor | None = None) -> tuple[Tensor, Tensor]:
        split, merge = (
            (_window_tokens, _window_merge) if self.layout == "window" else (_grid_tokens, _grid_merge)
        )
        tokens = split(x, self.window_size)
        attended, attn_map = self._attend(self.norm(tokens), shared_map)
        x = merge(attended + tokens, x.shape, self.window_size)
        return x + self.gfn(self.cnorm(x)), attn_map


# --------------------------------------------------------------------------- channel attention


class _ChannelAttention(nn.Module):
    """Single-head channel (C x C) attention per token group; layout "window" (p x p windows) or "grid".

    ``forward(x)``: (N, C, H, W), H and W multiples of p -> same shape. The ``attend`` submodule receives the
    logits (N, G, C, C) (cosine similarities times ``temperature``) and returns their softmax; G is the number
    of windows (H/p * W/p) for "window" and p*p for "grid".
    """

    def __init__(self, channels: int, window_size: int, layout: str) -> None:
        super().__init__()
        if layout not in ("window", "grid"):
            raise ValueError(f"layout must be 'window' or 'grid', got {layout!r}")
        self.window_size = window_size
        self.layout = layout
        self.temperature = nn.Parameter(torch.ones(1, 1, 1))
        self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(3 * channels, 3 * channels, 3, padding=1, groups=3 * channels, bias=False)
        self.attend = _AttentionMap()
        self.project_out = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.layout == "window":
            group, merge = _channel_window_groups, _channel_window_merge
        else:
            group, merge = _channel_grid_groups, _channel_grid_merge
        parts = chunked_conv(self.qkv, x, 3, depthwise=self.qkv_dwconv)
        q, k, v = (group(t, self.window_size) for t in parts)  # (N, G, tokens, C)
        q = F.normalize(q, dim=-2)  # each channel over its group's tokens
        k = F.normalize(k, dim=-2)
        attn_map = self.attend((q.transpose(-2, -1) @ k) * self.temperature)
        y: Tensor = self.project_out(merge(v @ attn_map.transpose(-2, -1), x.shape, self.window_size))
        return y


class _ChannelBlock(nn.Module):
    """BlockC: window channel attention + GFFN, then grid channel attention + GFFN (pre-norm residuals)."""

    def __init__(self, channels: int, window_size: int) -> None:
        super().__init__()
        self.canorm1 = LayerNorm2d(channels)
        self.canorm2 = LayerNorm2d(channels)
        self.cttn1 = _ChannelAttention(channels, window_size, "window")
        self.cttn2 = _ChannelAttention(channels, window_size, "grid")
        self.cnorm1 = LayerNorm2d(channels)
        self.cnorm2 = LayerNorm2d(channels)
        self.gfn1 = _GatedConvFeedForward(channels)
        self.gfn2 = _GatedConvFeedForward(channels)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.cttn1(self.canorm1(x))
        x = x + self.gfn1(self.cnorm1(x))
        x = x + self.cttn2(self.canorm2(x))
        x = x + self.gfn2(self.cnorm2(x))
        return x


# --------------------------------------------------------------------------- distillation block and group


class _IDSABlock(nn.Module):
    """Information-distillation block with spatial (window + grid) and channel attention.

    ``forward(x, maps)``: x (N, C, H, W) -> (y, maps), y of the same shape, maps the six spatial attention
    maps (a1..a6). The first group's block computes them (``maps`` must be None); later blocks reuse them.
    """

    def __init__(self, channels: int, window_size: int, computes_attention: bool) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"num_feat must be a multiple of 4, got {channels}")
        d = channels // 4
        self.ch_split = d
        self.LB1 = _LocalBlock(4 * d)
        self.LB2 = _LocalBlock(3 * d)
        self.LB3 = _LocalBlock(2 * d)
        for level, width in ((1, 3 * d), (2, 2 * d), (3, d)):
            for prefix, layout in (("SLA", "window"), ("SGA", "grid")):
                block = _SpatialBlock(width, window_size, layout, computes_attention)
                self.add_module(f"{prefix}{level}", block)
        self.BlockC = _ChannelBlock(channels, window_size)
        self.pw1 = nn.Conv2d(4 * d, 4 * d, 1)
        self.pw2 = nn.Conv2d(3 * d, 3 * d, 1)
        self.pw3 = nn.Conv2d(4 * d, 4 * d, 1)

    def _spatial_pair(
        self, level: int, x: Tensor, maps: tuple[Tensor, ...] | None
    ) -> tuple[Tensor, list[Tensor]]:
        """SLA{level} then SGA{level}; returns the result and the two maps used."""
        first = 2 * (level - 1)
        shared = (None, None) if maps is None else (maps[first], maps[first + 1])
        x, window_map = getattr(self, f"SLA{level}")(x, shared[0])
        x, grid_map = getattr(self, f"SGA{level}")(x, shared[1])
        return x, [window_map, grid_map]

    def forward(self, x: Tensor, maps: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        d = self.ch_split
        x = self.LB1(x)
        attended, used1 = self._spatial_pair(1, x[:, d:], maps)
        distilled1, rest = chunked_conv(self.pw1, torch.cat((attended, x[:, :d]), dim=1), (d, 3 * d))
        x = self.LB2(rest)
        attended, used2 = self._spatial_pair(2, x[:, d:], maps)
        distilled2, rest = chunked_conv(self.pw2, torch.cat((attended, x[:, :d]), dim=1), (d, 2 * d))
        x = self.LB3(rest)
        attended, used3 = self._spatial_pair(3, x[:, d:], maps)
        x = self.pw3(torch.cat((distilled1, distilled2, attended, x[:, :d]), dim=1))
        return self.BlockC(x), tuple(used1 + used2 + used3)


class _ESA(nn.Module):
    """Enhanced spatial attention (Omni-SR's trimmed ESA): x * sigmoid(mask(x)). Needs H, W >= 15."""

    def __init__(self, esa_channels: int, channels: int) -> None:
        super().__init__()
        f = esa_channels
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.conv1(x)
        coarse = F.max_pool2d(self.conv2(reduced), kernel_size=7, stride=3)
        coarse = F.interpolate(self.conv3(coarse), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(coarse + self.conv_f(reduced)))


class _IDSG(nn.Module):
    """Information-distillation group: ESA(res_end(IDSA(x)) + x).

    ``forward(x, maps)`` -> (y, maps) as ``_IDSABlock``. The first group (``computes_attention``) keeps its
    block in a one-element ``residual_layer`` list, as the official ``IDSG_A`` does (``residual_layer.0``).
    """

    def __init__(self, channels: int, window_size: int, bias: bool, computes_attention: bool) -> None:
        super().__init__()
        block = _IDSABlock(channels, window_size, computes_attention)
        self.residual_layer: nn.ModuleList | _IDSABlock = (
            nn.ModuleList([block]) if computes_attention else block
        )
        self.res_end = nn.Conv2d(channels, channels, 1, bias=bias)
        self.esa = _ESA(max(channels // 4, 16), channels)

    def idsa(self) -> _IDSABlock:
        """The group's IDSA block."""
        layer = self.residual_layer
        return cast(_IDSABlock, layer[0]) if isinstance(layer, nn.ModuleList) else layer

    def forward(self, x: Tensor, maps: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, maps = self.idsa()(x, maps)
        return self.esa(self.res_end(out) + x), maps


# --------------------------------------------------------------------------- the network


def _padded_size(size: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= size and >= the ESA minimum."""
    return padded_side(size, multiple, ESA_MIN_SIDE)


class ASID(nn.Module):
    """ASID super-resolution network (see the module docstring).

    ``forward(x)``: (N, num_in_ch, H, W) in [0, 1], any H, W >= 1 -> (N, num_out_ch, H*s, W*s), nominally
    in [0, 1]. Internally the range is [-1, 1], as for the official weights.
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 48,
        res_num: int = 3,
        upsampling: int = 4,
        bias: bool = True,
        window_size: int = 8,
    ) -> None:
        super().__init__()
        if res_num < 1:
            raise ValueError(f"res_num must be >= 1, got {res_num}")
        self.res_num = res_num
        self.upsampling = upsampling
        self.window_size = window_size
        self.input = nn.Conv2d(num_in_ch, num_feat, 3, padding=1, bias=bias)
        for index in range(res_num):
            self.add_module(
                f"block{index}", _IDSG(num_feat, window_size, bias, computes_attention=index == 0)
            )
        self.output = nn.Conv2d(num_feat, num_feat, 3, padding=1, bias=bias)
        self.up = nn.Sequential(
            nn.Conv2d(num_feat, num_out_ch * upsampling**2, 3, padding=1, bias=bias),
            nn.PixelShuffle(upsampling),
        )

    def groups(self) -> list[_IDSG]:
        """The IDSG groups in order; the first computes the shared attention maps."""
        return [getattr(self, f"block{index}") for index in range(self.res_num)]

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        # to _padded_size; reflect where both pads are smaller than their sides, else replicate on both
        x = pad_to_multiple(x * 2.0 - 1.0, self.window_size, minimum=ESA_MIN_SIDE, fallback="both")
        features: Tensor = self.input(x)
        out: Tensor = features
        maps: tuple[Tensor, ...] | None = None
        for group in self.groups():
            out, maps = group(out, maps)
        out = self.up(self.output(out) + features)
        s = self.upsampling
        return (out[:, :, : h * s, : w * s] + 1.0) / 2.0


def build(config: ASIDConfig) -> ASID:
    """A freshly initialised ASID for ``config``."""
    return ASID(**dataclasses.asdict(config))


def tile_multiple(config: ASIDConfig) -> int:
    """Tile origins align to the window size (8).

    The grid attentions and ESA are global, so tiled output only approximates whole-image output whatever
    the alignment; the window alignment keeps the local (window) attention partition identical.
    """
    return config.window_size


def _group_block_prefix(index: int) -> str:
    return "block0.residual_layer.0." if index == 0 else f"block{index}.residual_layer."


def attention_modules(config: ASIDConfig) -> tuple[str, ...]:
    """Names of the ``_AttentionMap`` modules the map view hooks; each maps logits -> softmax probabilities.

    * ``block0.residual_layer.0.{SLA1,SGA1,SLA2,SGA2,SLA3,SGA3}.attn.attend``: the six shared spatial maps,
      computed once in the first group and reused by every later group. A hook sees input ``(logits,)`` and
      output probabilities, both (N * H'/8 * W'/8, 64, 64) for the padded size H' x W'; row = query token,
      column = key token, tokens in raster order inside an 8x8 window (SLA) or an 8x8 grid spanning the image
      (SGA; group (a, b), token (i, j) is pixel (i*H'/8 + a, j*W'/8 + b)).
    * ``block{g}.<block>.BlockC.cttn1.attend`` (window) and ``.cttn2.attend`` (grid), per group g: channel
      maps (N, G, C, C) with C = ``num_feat``, G = H'/8 * W'/8 windows (cttn1) or 64 stride-8 groups (cttn2).
    """
    spatial = tuple(f"{_group_block_prefix(0)}{name}.attn.attend" for name in _SPATIAL_BLOCK_NAMES)
    channel = tuple(
        f"{_group_block_prefix(index)}BlockC.{name}.attend"
        for index in range(config.res_num)
        for name in ("cttn1", "cttn2")
    )
    return spatial + channel


# --------------------------------------------------------------------------- official checkpoints


def config_from_state_dict(state_dict: Mapping[str, Tensor]) -> ASIDConfig:
    """Infer the config from an unwrapped, official-layout ASID state dict; ValueError if it is not ASID."""
    required = ("input.weight", "up.0.weight", "block0.residual_layer.0.SLA1.attn.rel_pos_bias.weight")
    missing = [key for key in required if key not in state_dict]
    if missing:
        raise ValueError(f"not an ASID state dict: missing {missing}")
    num_feat, num_in_ch = state_dict["input.weight"].shape[:2]
    res_num = 0
    while f"block{res_num}.res_end.weight" in state_dict:
        res_num += 1
    up_channels = state_dict["up.0.weight"].shape[0]
    scale = math.isqrt(up_channels // num_in_ch)
    if scale * scale * num_in_ch != up_channels:
        raise ValueError(f"cannot infer the scale from up.0.weight with {up_channels} output channels")
    rel_pos_entries = state_dict["block0.residual_layer.0.SLA1.attn.rel_pos_bias.weight"].shape[0]
    return ASIDConfig(
        num_in_ch=int(num_in_ch),
        num_out_ch=int(num_in_ch),
        num_feat=int(num_feat),
        res_num=res_num,
        upsampling=scale,
        bias="input.bias" in state_dict,
        window_size=(math.isqrt(rel_pos_entries) + 1) // 2,
    )


def from_official_state_dict(state_dict: Mapping[str, object]) -> dict[str, Tensor]:
    """Map an official ASID/ASIDd8 checkpoint to our state dict (same key names: unwrapping only).

    Accepts the raw ``state_dict`` the authors ship, optionally wrapped ({"params_ema"|"params"|"state_dict"|
    "model"|"net": ...}, nested or not) and/or with ``module.`` prefixes (``unwrap_checkpoint``). Keys our
    model does not have (e.g. a persisted ``rel_pos_indices``) are dropped, as the official loader does.
    Raises ``ValueError`` when the mapping is not an ASID checkpoint, a key is missing or a tensor has the
    wrong shape.
    """
    flat = unwrap_checkpoint(state_dict)
    tensors = {key: value for key, value in flat.items() if isinstance(value, Tensor)}
    config = config_from_state_dict(tensors)
    with torch.device("meta"):
        expected = build(config).state_dict()
    missing = sorted(key for key in expected if key not in tensors)
    if missing:
        raise ValueError(f"ASID checkpoint ({config}) is missing {len(missing)} keys, e.g. {missing[:5]}")
    wrong = [key for key, ref in expected.items() if tensors[key].shape != ref.shape]
    if wrong:
        key = wrong[0]
        raise ValueError(
            f"ASID checkpoint has {len(wrong)} tensors of the wrong shape, e.g. {key}: "
            f"{tuple(tensors[key].shape)} instead of {tuple(expected[key].shape)}"
        )
    return {key: tensors[key] for key in expected}


ARCH: ArchDescriptor[ASIDConfig] = ArchDescriptor(
    name="asid",
    config_type=ASIDConfig,
    presets=PRESETS,
    build=build,
    tile_multiple=tile_multiple,
    attention_modules=attention_modules,
    half_dtypes=HALF_DTYPES,
    from_official=from_official_state_dict,
)
"""ASID for the registry, the map view and the benchmark (see ``irstudio.models.descriptor``)."""
