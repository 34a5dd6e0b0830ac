"""AST: Adaptive Sparse Transformer with Attentive Feature Refinement (Zhou et al., CVPR 2024).

Paper: "Adapt or Perish: Adaptive Sparse Transformer with Attentive Feature Refinement for Image
Restoration", S. Zhou, D. Chen, J. Pan, J. Shi, J. Yang, CVPR 2024, pp. 2952-2963. Official code:
``joshyZhou/AST`` (Apache-2.0, ``model.py``; presets in ``utils/model_utils.py::get_arch``). This file is
an independent re-implementation written from ``shared/docs/architectures.md`` §2 and a reading of that
code; it uses the official module and parameter names so that official checkpoints load by unwrapping.

Blocks (C = ``embed_dim``; every feature map is kept channels-last, ``(B, H, W, C)``):

* ``input_proj``: 3x3 conv 3 -> C (bias) + LeakyReLU(0.01).
* ``encoderlayer_i`` (i = 0..3, width C*2^i, resolution H/2^i): ``depths[i]`` FFN-only blocks,
  ``x = x + DropPath(FRFN(LN(x)))``; no attention in the encoder.
* ``dowsample_i`` (official spelling): 4x4 conv, stride 2, pad 1, C_i -> 2 C_i.
* ``conv`` (the bottleneck, width 16C, H/16) and ``decoderlayer_j`` (j = 0..3, widths 16C, 8C, 4C, 2C):
  full blocks ``x = x + DropPath(ASSA(LN(x))); x = x + DropPath(FRFN(LN(x)))``. Each decoder level
  is preceded by ``upsample_j`` (2x2 transposed conv, stride 2) and a concatenation
  ``[upsampled, encoder skip]`` along channels.
* ``output_proj``: 3x3 conv 2C -> 3 (bias); global residual ``out = x + output_proj(...)``.
* ASSA (``attn``, :class:`WindowAttentionSparse`): 8x8 window attention (Swin-style cyclic shift of
  ``win_size // 2`` on odd blocks, -100 mask across the roll seam, relative-position bias table of
  ``(2w-1)^2 x heads``). Logits ``S = (q * scale) k^T + B_rel (+ mask)``; dense branch
  ``softmax(S)``, sparse branch ``ReLU(S)^2`` (not renormalised, on purpose); fused
  ``A = a0 * softmax(S) + a1 * ReLU(S)^2`` with ``(a0, a1) = softmax(w)``, ``w`` a learned 2-vector
  initialised to ones. Output ``proj(A v)``.
* FRFN (``mlp``): PConv (3x3 conv, no bias, on the first ``dim // 4`` channels only) -> Linear
  d -> 2h + GELU -> split into (x1, x2) -> x1: depth-wise 3x3 + GELU -> ``x1 * x2`` -> Linear h -> d,
  with h = ``mlp_ratio * d``.

Official-code facts used: the ``w[0]`` fusion weight multiplies the *dense* branch and ``w[1]`` the sparse
one (the paper writes them the other way round); layer norms have eps 1e-5; Linear weights are
trunc-normal(0.02) with zero bias, the bias table trunc-normal(0.02), convs keep PyTorch's default init;
stochastic depth rises linearly 0 -> ``drop_path_rate`` over the encoder blocks, is constant in the
bottleneck, and the decoder uses the encoder's list reversed. A layer whose construction-time resolution
``img_size / 2^level`` is <= ``win_size`` never shifts: with the released ``img_size = 128`` the
bottleneck (resolution 8) does not shift while the decoder's odd blocks do.

Choices the paper/code leave open (ours):

* The official code reshapes tokens assuming square maps and pads test images (zeros, centred) to a
  square multiple of 128. We keep explicit ``(H, W)``, so any rectangle works: the input is padded at
  the bottom/right (``layers.pad_to_multiple``: reflect where the image is larger than the pad, else
  replicate, per axis) to a multiple of ``16 * win_size`` (= 128; four 2x downsamplings times the
  bottleneck's 8x8 windows) in each axis independently, and the output is cropped back. On inputs
  already at such a size the result equals the official network's on the same (square) input.
* ``img_size`` must be >= ``16 * win_size``: smaller values make the official code clamp the bottleneck
  window, which changes the parameter set; that variant is not built.
* Only the released token projection (``linear``) and FFN (``frfn``) are built; the official
  ``token_mlp`` option defaults to ``leff`` but every script overrides it with ``frfn``.
* The official ``forward(x, mask)`` input mask is not supported (every script passes none).
* The Swin shift mask is added only to the last window row/column (the only windows it is non-zero
  for) instead of materialising (nW, N, N) floats; numerically identical, much less memory at 720p.
* Verified against the official ``model.py`` (HEAD ``80dce68``, timm/einops stubbed) with identical
  weights: max |difference| <= 5e-7 for AST_T at 128/256 px (``img_size`` 128 and 256) and AST_B at 128.

Attention hooks (see :func:`attention_modules`): each ASSA owns a parameter-free submodule ``attend``
(:class:`AdaptiveSparseAttend`). A forward hook on ``<layer>.blocks.<i>.attn.attend`` receives the inputs
``(logits, alpha)``: logits ``(B * nW, heads, N, N)`` (bias and shift mask already added; N =
win_size^2) and the fusion weights ``alpha = softmax(w)`` (2 values summing to 1: ``alpha[0]`` weights
the dense branch, ``alpha[1]`` the sparse one); the learned fusion parameter itself is
``<layer>.blocks.<i>.attn.w`` (``model.get_parameter(name[: -len("attend")] + "w")``); and the output
:class:`AssaMaps` ``(fused, dense, sparse)``, each ``(B * nW, heads, N, N)``: ``dense`` rows sum to 1,
``sparse`` = ``ReLU(logits)^2`` (rows need not sum to 1), ``fused`` the map that multiplies V. Windows
are ordered batch-major, then window row, then window column, over the *padded* map of that level
(padded input size / ``attend.downscale``); in a shifted block (``attend.shift_size > 0``) the window
grid is taken after rolling the map by ``-shift_size`` in both axes. Tokens within a window are
row-major.

Official checkpoints (``torch.save({'epoch', 'state_dict', 'optimizer'})`` from a DataParallel model)
map by: taking ``['state_dict']`` and stripping the ``module.`` prefix (``models.checkpoint_keys``), and
dropping the persistent ``attn.relative_position_index`` buffers (ours are non-persistent). All other
keys are identical:
``input_proj.proj.0.*``, ``encoderlayer_{0..3}.blocks.{i}.{norm2,mlp.linear1.0,mlp.dwconv.0,
mlp.linear2.0,mlp.partial_conv3}.*``, ``dowsample_{0..3}.conv.0.*``, ``conv.blocks.{i}.*`` and
``decoderlayer_{0..3}.blocks.{i}.*`` (``norm1``, ``attn.relative_position_bias_table``, ``attn.w``,
``attn.qkv.to_q``, ``attn.qkv.to_kv``, ``attn.proj``, ``norm2``, ``mlp.*``), ``upsample_{0..3}.deconv.0.*``,
``output_proj.proj.0.*``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple, cast

import torch
from torch import Tensor, nn

from irstudio.models.checkpoint_keys import unwrap_checkpoint
from irstudio.models.descriptor import ArchDescriptor
from irstudio.models.layers import chunked_linear_on_map, linear_on_map, pad_to_multiple

NUM_LEVELS: Final = 4  # encoder levels = decoder levels = number of 2x downsamplings
HALF_DTYPES: tuple[str, ...] = ("bf16",)


@dataclass(frozen=True)
class ASTConfig:
    """AST hyper-parameters with the official names; defaults are the released AST_B configuration.

    ``depths`` and ``num_heads`` list encoder levels 0..3, the bottleneck, then decoder levels 0..3.
    ``img_size`` is the training patch size the official model is built with; here it only decides
    which attention layers shift their windows (those whose ``img_size / 2^level > win_size``).
    """

    embed_dim: int = 32
    depths: tuple[int, ...] = (1, 2, 8, 8, 2, 8, 8, 2, 1)
    num_heads: tuple[int, ...] = (1, 2, 4, 8, 16, 16, 8, 4, 2)
    win_size: int = 8
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    img_size: int = 128
    shift_flag: bool = True


PRESETS: dict[str, ASTConfig] = {
    "ast-t": ASTConfig(embed_dim=16, depths=(2, 2, 2, 2, 2, 2, 2, 2, 2)),
    "ast-b": ASTConfig(),
}


# --------------------------------------------------------------------------------------------------
# small helpers


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's residual branch with probability ``p``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _to_channels_first(x: Tensor) -> Tensor:
    """(B, H, W, C) -> (B, C, H, W)."""
    return x.permute(0, 3, 1, 2)


def _to_channels_last(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H, W, C), contiguous."""
    return x.permute(0, 2, 3, 1).contiguous()


def window_partition(x: Tensor, win: int) -> Tensor:
    """(B, H, W, C) with H, W multiples of ``win`` -> (B * nW, win * win, C), windows row-major."""
    b, h, w, c = x.shape
    x = x.view(b, h // win, win, w // win, win, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, win * win, c)


def window_reverse(windows: Tensor, win: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`window_partition`: (B * nW, win * win, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, h // win, w // win, win, win, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def relative_position_index(win: int) -> Tensor:
    """(win^2, win^2) int64 index into a ((2 win - 1)^2)-row bias table (Swin convention)."""
    coords = torch.stack(torch.meshgrid(torch.arange(win), torch.arange(win), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (win - 1)
    return rel[..., 0] * (2 * win - 1) + rel[..., 1]


def shift_border_masks(win: int, shift: int, device: torch.device | None = None) -> Tensor:
    """(2, 2, win^2, win^2) float32 Swin shift masks: 0 within a region, -100 across regions.

    After rolling a map by ``-shift``, only windows in the last window row and/or column mix tokens from
    opposite borders (Swin regions ``[0, -win)``, ``[-win, -shift)``, ``[-shift, end)`` per axis), so the
    full (nW, N, N) mask has just four distinct values: index ``[last row?, last column?]`` (``[0, 0]``
    is all zeros). Built from a (2 win, 2 win) map, which has exactly those four windows.
    """
    side = 2 * win
    labels = torch.zeros((1, side, side, 1), device=device)
    bounds = ((0, -win), (-win, -shift), (-shift, None))
    for region, ((h0, h1), (w0, w1)) in enumerate((hb, wb) for hb in bounds for wb in bounds):
        labels[:, h0:h1, w0:w1, :] = region
    windows = window_partition(labels, win).squeeze(-1)  # 4, N
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return diff.ne(0).float().mul(-100.0).view(2, 2, win * win, win * win)


def add_shift_masks(logits: Tensor, grid: tuple[int, int], masks: Tensor) -> Tensor:
    """Add :func:`shift_border_masks` in place to window logits (B * nWh * nWw, heads, N, N); returns them.

    Equivalent to adding the full Swin (nW, N, N) mask, but touches (and allocates) only the border
    windows. ``grid`` = (nWh, nWw); ``logits`` must not be a leaf that requires grad.
    """
    b_nw, heads, n, _ = logits.shape
    view = logits.view(b_nw // (grid[0] * grid[1]), grid[0], grid[1], heads, n, n)
    masks = masks.to(logits.dtype)
    if torch.jit.is_tracing():  # graph converters reject writes through views: the same sum, out of place
        return (view + _full_shift_mask(grid, masks, logits.device)).view(logits.shape)
    view[:, :-1, -1] += masks[0, 1]
    view[:, -1, :-1] += masks[1, 0]
    view[:, -1, -1] += masks[1, 1]
    return logits


def _full_shift_mask(grid: tuple[int, int], masks: Tensor, device: torch.device) -> Tensor:
    """(1, nWh, nWw, 1, N, N): ``masks`` placed on the last window row/column, zeros elsewhere."""
    last_row = (torch.arange(grid[0], device=device) == grid[0] - 1).to(masks.dtype)[:, None, None, None]
    last_col = (torch.arange(grid[1], device=device) == grid[1] - 1).to(masks.dtype)[None, :, None, None]
    mask = (1 - last_row) * last_col * masks[0, 1] + last_row * (1 - last_col) * masks[1, 0]
    return (mask + last_row * last_col * masks[1, 1])[None, :, :, None]


# --------------------------------------------------------------------------------------------------
# attention


class AssaMaps(NamedTuple):
    """The three attention maps of one ASSA call, each (B * nW, heads, N, N)."""

    fused: Tensor
    dense: Tensor
    sparse: Tensor


class AdaptiveSparseAttend(nn.Module):
    """Fuse the dense (softmax) and sparse (squared-ReLU) attention maps with learned weights.

    Parameter-free on purpose: the fusion parameter ``w`` lives on the parent ASSA (official name
    ``attn.w``), which passes in ``alpha = softmax(w)``, so a forward hook here sees the logits, the
    fusion weights and all three maps. (A derived tensor, not the Parameter itself, is passed so that
    module trackers such as ``FlopCounterMode`` work under ``inference_mode``.)
    ``forward(logits, alpha)``: logits (B * nW, heads, N, N), alpha (2,) -> :class:`AssaMaps`, same
    dtype and device as ``logits``. Attributes ``win_size``, ``shift_size`` and ``downscale`` (the
    level's resolution divisor) tell a viewer where the windows lie.
    """

    def __init__(self, win_size: int, shift_size: int, downscale: int) -> None:
        super().__init__()
        self.win_size = win_size
        self.shift_size = shift_size
        self.downscale = downscale

    def forward(self, logits: Tensor, alpha: Tensor) -> AssaMaps:
        dense = torch.softmax(logits, dim=-1)
        sparse = torch.relu(logits) ** 2
        alpha = alpha.to(logits.dtype)
        return AssaMaps(alpha[0] * dense + alpha[1] * sparse, dense, sparse)

    def extra_repr(self) -> str:
        return f"win_size={self.win_size}, shift_size={self.shift_size}, downscale={self.downscale}"


class LinearProjection(nn.Module):
    """Token projections ``to_q`` (d -> d) and ``to_kv`` (d -> 2d), split into heads.

    ``forward(x)``: x (B_, N, d) -> q, k, v each (B_, heads, N, d / heads).
    """

    def __init__(self, dim: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, n, c = x.shape
        head_dim = c // self.heads
        q = self.to_q(x).view(b, n, self.heads, head_dim).transpose(1, 2)
        kv = self.to_kv(x).view(b, n, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        return q, kv[0], kv[1]


class WindowAttentionSparse(nn.Module):
    """ASSA: adaptive sparse self-attention inside ``win_size`` x ``win_size`` windows.

    ``forward(x, grid)``: x (B * nW, N, d) window tokens of a map cut into ``grid`` = (nWh, nWw) windows
    (rolled by ``-shift_size`` beforehand when ``shift_size > 0``) -> (B * nW, N, d).
    Learned fusion weights: ``w`` (2,), ``softmax(w)[0]`` on the dense branch, ``[1]`` on the sparse one.
    """

    relative_position_index: Tensor  # buffers
    shift_masks: Tensor  # only when shift_size > 0

    def __init__(
        self,
        dim: int,
        win_size: int,
        num_heads: int,
        *,
        shift_size: int,
        downscale: int,
        qkv_bias: bool,
        qk_scale: float | None,
        attn_drop: float,
        proj_drop: float,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.win_size = win_size
        self.shift_size = shift_size
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * win_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(win_size), persistent=False)
        if shift_size > 0:
            self.register_buffer("shift_masks", shift_border_masks(win_size, shift_size), persistent=False)
        self.qkv = LinearProjection(dim, num_heads, qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.w = nn.Parameter(torch.ones(2))
        self.attend = AdaptiveSparseAttend(win_size, shift_size, downscale)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def _position_bias(self) -> Tensor:
        n = self.win_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1)  # heads, N, N

    def forward(self, x: Tensor, grid: tuple[int, int]) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x)
        logits = (q * self.scale) @ k.transpose(-2, -1) + self._position_bias().unsqueeze(0)
        if self.shift_size > 0:
            logits = add_shift_masks(logits, grid, self.shift_masks)
        attn = self.attn_drop(self.attend(logits, torch.softmax(self.w, dim=0)).fused)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        projected: Tensor = self.proj_drop(self.proj(out))
        return projected


# --------------------------------------------------------------------------------------------------
# feed-forward


class FRFN(nn.Module):
    """Feature refinement FFN: partial 3x3 conv, Linear + GELU, depth-wise gate, Linear.

    ``forward(x)``: x (B, H, W, dim) -> (B, H, W, dim).
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.dim_conv = dim // 4
        self.partial_conv3 = nn.Conv2d(self.dim_conv, self.dim_conv, 3, 1, 1, bias=False)
        self.linear1 = nn.Sequential(nn.Linear(dim, hidden_dim * 2), nn.GELU())
        self.dwconv = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, 3, 1, 1, groups=hidden_dim),
            nn.GELU(),
        )
        self.linear2 = nn.Sequential(nn.Linear(hidden_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        # On an NCHW map between two narrow transposes: the wide hidden map is never transposed
        # (compiled graphs ran a generic transpose of it after the depthwise conv; see models/layers.py).
        x = _to_channels_first(x)
        x = torch.cat((self.partial_conv3(x[:, : self.dim_conv]), x[:, self.dim_conv :]), dim=1)
        fc1, fc2 = cast(nn.Linear, self.linear1[0]), cast(nn.Linear, self.linear2[0])
        x1, x2 = (self.linear1[1](part) for part in chunked_linear_on_map(fc1, x, 2))
        return _to_channels_last(linear_on_map(fc2, self.dwconv(x1) * x2))


# --------------------------------------------------------------------------------------------------
# blocks and layers


class TransformerBlock(nn.Module):
    """Pre-norm block: optional (shifted-)window ASSA, then FRFN, each with a residual and DropPath.

    ``forward(x)``: x (B, H, W, dim), H and W multiples of ``win_size`` when ``att`` -> same shape.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        win_size: int,
        shift_size: int,
        downscale: int,
        mlp_ratio: float,
        qkv_bias: bool,
        qk_scale: float | None,
        drop: float,
        attn_drop: float,
        drop_path: float,
        att: bool,
    ) -> None:
        super().__init__()
        self.att = att
        self.win_size = win_size
        self.shift_size = shift_size
        if att:
            self.norm1 = nn.LayerNorm(dim)
            self.attn = WindowAttentionSparse(
                dim,
                win_size,
                num_heads,
                shift_size=shift_size,
                downscale=downscale,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                attn_drop=attn_drop,
                proj_drop=drop,
            )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FRFN(dim, int(dim * mlp_ratio))

    def _attention(self, x: Tensor) -> Tensor:
        h, w = x.shape[1:3]
        win, shift = self.win_size, self.shift_size
        if shift > 0:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        out = self.attn(window_partition(x, win), (h // win, w // win))
        out = window_reverse(out, win, h, w)
        return torch.roll(out, shifts=(shift, shift), dims=(1, 2)) if shift > 0 else out

    def forward(self, x: Tensor) -> Tensor:
        if self.att:
            x = x + self.drop_path(self._attention(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class BasicASTLayer(nn.Module):
    """``depth`` blocks at one resolution; with ``shift`` the odd blocks shift by ``win_size // 2``.

    ``forward(x)``: x (B, H, W, dim) -> same shape.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        *,
        win_size: int,
        shift: bool,
        downscale: int,
        drop_path: list[float],
        att: bool,
        cfg: ASTConfig,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(
                dim,
                num_heads,
                win_size=win_size,
                shift_size=win_size // 2 if shift and i % 2 == 1 else 0,
                downscale=downscale,
                mlp_ratio=cfg.mlp_ratio,
                qkv_bias=cfg.qkv_bias,
                qk_scale=cfg.qk_scale,
                drop=cfg.drop_rate,
                attn_drop=cfg.attn_drop_rate,
                drop_path=drop_path[i],
                att=att,
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class Downsample(nn.Module):
    """4x4 conv, stride 2: (B, H, W, C_in) -> (B, H/2, W/2, C_out)."""

    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channel, out_channel, kernel_size=4, stride=2, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return _to_channels_last(self.conv(_to_channels_first(x)))


class Upsample(nn.Module):
    """2x2 transposed conv, stride 2: (B, H, W, C_in) -> (B, 2H, 2W, C_out)."""

    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        self.deconv = nn.Sequential(nn.ConvTranspose2d(in_channel, out_channel, kernel_size=2, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        return _to_channels_last(self.deconv(_to_channels_first(x)))


class InputProj(nn.Module):
    """3x3 conv + LeakyReLU: (B, 3, H, W) -> (B, H, W, C)."""

    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, 1, 1), nn.LeakyReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return _to_channels_last(self.proj(x))


class OutputProj(nn.Module):
    """3x3 conv: (B, H, W, C) -> (B, 3, H, W)."""

    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.proj(_to_channels_first(x))
        return y


# --------------------------------------------------------------------------------------------------
# the network


def _drop_path_rates(cfg: ASTConfig) -> tuple[list[list[float]], list[float], list[list[float]]]:
    """Official stochastic-depth schedule: (per encoder level, bottleneck, per decoder level)."""
    enc_depths, dec_depths = cfg.depths[:NUM_LEVELS], cfg.depths[NUM_LEVELS + 1 :]
    if sum(dec_depths) > sum(enc_depths):
        raise ValueError("decoder depths may not exceed the encoder's (the drop-path list is reversed)")
    enc = torch.linspace(0, cfg.drop_path_rate, sum(enc_depths), device="cpu").tolist()
    dec = enc[::-1]

    def split(rates: list[float], depths: tuple[int, ...]) -> list[list[float]]:
        starts = [sum(depths[:i]) for i in range(len(depths))]
        return [rates[s : s + d] for s, d in zip(starts, depths, strict=True)]

    return split(enc, enc_depths), [cfg.drop_path_rate] * cfg.depths[NUM_LEVELS], split(dec, dec_depths)


def _validate(cfg: ASTConfig) -> None:
    """Raise ValueError for configurations this implementation does not build."""
    if len(cfg.depths) != 2 * NUM_LEVELS + 1 or len(cfg.num_heads) != 2 * NUM_LEVELS + 1:
        raise ValueError("depths and num_heads need 9 entries (4 encoder, bottleneck, 4 decoder)")
    if cfg.img_size < cfg.win_size * 2**NUM_LEVELS:
        raise ValueError(
            f"img_size {cfg.img_size} < {cfg.win_size * 2**NUM_LEVELS}: the official code would clamp "
            "the bottleneck window; that variant is not supported"
        )
    if cfg.embed_dim % 4:
        raise ValueError("embed_dim must be a multiple of 4 (FRFN convolves a quarter of the channels)")


class AST(nn.Module):
    """AST image restoration network (scale 1).

    ``forward(x)``: x (N, 3, H, W) float32 RGB in [0, 1], any H, W >= 1, on any device ->
    (N, 3, H, W), nominally in [0, 1] (input plus a learned residual; not clamped).
    """

    def __init__(
        self,
        *,
        embed_dim: int = 32,
        depths: tuple[int, ...] = (1, 2, 8, 8, 2, 8, 8, 2, 1),
        num_heads: tuple[int, ...] = (1, 2, 4, 8, 16, 16, 8, 4, 2),
        win_size: int = 8,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        img_size: int = 128,
        shift_flag: bool = True,
    ) -> None:
        super().__init__()
        cfg = ASTConfig(
            embed_dim=embed_dim,
            depths=tuple(depths),
            num_heads=tuple(num_heads),
            win_size=win_size,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            img_size=img_size,
            shift_flag=shift_flag,
        )
        _validate(cfg)
        self.config = cfg
        self.pad_multiple = tile_multiple(cfg)
        enc_dpr, conv_dpr, dec_dpr = _drop_path_rates(cfg)
        c = embed_dim

        def layer(dim: int, index: int, level: int, rates: list[float], att: bool) -> BasicASTLayer:
            return BasicASTLayer(
                dim,
                cfg.depths[index],
                cfg.num_heads[index],
                win_size=win_size,
                shift=shift_flag and img_size // 2**level > win_size,
                downscale=2**level,
                drop_path=rates,
                att=att,
                cfg=cfg,
            )

        self.input_proj = InputProj(3, c)
        self.pos_drop = nn.Dropout(drop_rate)
        for i in range(NUM_LEVELS):
            setattr(self, f"encoderlayer_{i}", layer(c * 2**i, i, i, enc_dpr[i], att=False))
            setattr(self, f"dowsample_{i}", Downsample(c * 2**i, c * 2 ** (i + 1)))
        self.conv = layer(c * 2**NUM_LEVELS, NUM_LEVELS, NUM_LEVELS, conv_dpr, att=True)
        for j in range(NUM_LEVELS):
            level = NUM_LEVELS - 1 - j
            in_ch = c * 2**NUM_LEVELS if j == 0 else c * 2 ** (level + 2)
            setattr(self, f"upsample_{j}", Upsample(in_ch, c * 2**level))
            index = NUM_LEVELS + 1 + j
            setattr(
                self, f"decoderlayer_{j}", layer(c * 2 ** (level + 1), index, level, dec_dpr[j], att=True)
            )
        self.output_proj = OutputProj(2 * c, 3)
        self.apply(_init_weights)

    def _body(self, x: Tensor) -> Tensor:
        """U-Net body on a padded input (N, 3, H, W), H and W multiples of ``pad_multiple``."""
        y = self.pos_drop(self.input_proj(x))
        skips = []
        for i in range(NUM_LEVELS):
            y = getattr(self, f"encoderlayer_{i}")(y)
            skips.append(y)
            y = getattr(self, f"dowsample_{i}")(y)
        y = self.conv(y)
        for j in range(NUM_LEVELS):
            y = torch.cat((getattr(self, f"upsample_{j}")(y), skips[NUM_LEVELS - 1 - j]), dim=-1)
            y = getattr(self, f"decoderlayer_{j}")(y)
        out: Tensor = self.output_proj(y)
        return x + out

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.pad_multiple)  # reflect, per-axis fallback to replicate
        return self._body(padded)[..., :h, :w]


def _init_weights(module: nn.Module) -> None:
    """Official init: Linear trunc-normal(0.02) / zero bias, LayerNorm 1 / 0; convs keep the default."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------------------------------
# the registry contract


def build(config: ASTConfig) -> AST:
    """A freshly initialised :class:`AST` for ``config``."""
    return AST(**dataclasses.asdict(config))


def tile_multiple(config: ASTConfig) -> int:
    """Tile origins must lie on multiples of ``win_size * 16`` (bottleneck windows after 4 downsamplings)."""
    return config.win_size * 2**NUM_LEVELS


def _attention_layers(config: ASTConfig) -> list[tuple[str, int]]:
    """(layer name, depth) of every layer with attention: the bottleneck, then decoder levels 0..3."""
    names = ["conv"] + [f"decoderlayer_{j}" for j in range(NUM_LEVELS)]
    return list(zip(names, config.depths[NUM_LEVELS:], strict=True))


def attention_modules(config: ASTConfig) -> tuple[str, ...]:
    """Dotted names of every ASSA's ``attend`` submodule, bottleneck first, then decoder levels 0..3.

    A forward hook on one sees inputs ``(logits, alpha = softmax(attn.w))`` and output :class:`AssaMaps`
    ``(fused, dense, sparse)``; see the module docstring for shapes and window order.
    """
    return tuple(
        f"{layer}.blocks.{i}.attn.attend" for layer, depth in _attention_layers(config) for i in range(depth)
    )


_OFFICIAL_KEY = re.compile(
    r"^(input_proj\.proj\.0|output_proj\.proj\.0|dowsample_[0-3]\.conv\.0|upsample_[0-3]\.deconv\.0)"
    r"\.(weight|bias)$"
    r"|^(encoderlayer_[0-3]|conv|decoderlayer_[0-3])\.blocks\.\d+\."
    r"(norm[12]\.(weight|bias)|mlp\.(linear1\.0|dwconv\.0|linear2\.0)\.(weight|bias)|mlp\.partial_conv3\.weight"
    r"|attn\.(relative_position_bias_table|relative_position_index|w)"
    r"|attn\.(qkv\.to_q|qkv\.to_kv|proj)\.(weight|bias))$"
)


def from_official_state_dict(state_dict: Mapping[str, object]) -> dict[str, Tensor]:
    """Map an official AST checkpoint to this module's state dict.

    Accepts the raw state dict or the training checkpoint ``{'epoch', 'state_dict', 'optimizer'}`` (or
    any wrapper ``unwrap_checkpoint`` peels), strips DataParallel's ``module.`` prefix and drops the
    ``relative_position_index`` buffers. Raises ValueError when the mapping does not look like an AST
    checkpoint (missing projections, foreign keys, non-tensor values).
    """
    out: dict[str, Tensor] = {}
    foreign: list[str] = []
    for name, value in unwrap_checkpoint(state_dict).items():
        if not isinstance(value, Tensor) or not _OFFICIAL_KEY.match(name):
            foreign.append(name)
        elif not name.endswith("relative_position_index"):
            out[name] = value
    if foreign:
        raise ValueError(f"not an AST checkpoint: {len(foreign)} unexpected entries, e.g. {foreign[:3]}")
    missing = [k for k in ("input_proj.proj.0.weight", "output_proj.proj.0.weight") if k not in out]
    if missing:
        raise ValueError(f"not an AST checkpoint: missing {missing}")
    return out


ARCH: ArchDescriptor[ASTConfig] = ArchDescriptor(
    name="ast",
    config_type=ASTConfig,
    presets=PRESETS,
    build=build,
    tile_multiple=tile_multiple,
    attention_modules=attention_modules,
    half_dtypes=HALF_DTYPES,
    from_official=from_official_state_dict,
)
"""AST for the registry, the map view and the benchmark (see ``irstudio.models.descriptor``)."""
