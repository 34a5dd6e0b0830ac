"""LIR: "A Lightweight Baseline for Image Restoration" (Fan, Yue, Zhao, Xu, Chang; ACM MM 2024).

arXiv 2402.01368; its v1 ("LIR: Efficient Degradation Removal for Lightweight Image Restoration") calls
the block EAA, the final paper LAA.

One network for deraining, denoising, dehazing and deblurring: scale 1, RGB in, RGB out. Built from the
official code (``Dongqi-Fan/LIR``, HEAD ``9130cf2``, ``archs/LIR_arch.py`` + ``archs/filters.py``) as
described in ``shared/docs/architectures.md`` section 3; written here, not copied.

Top level (D = ``dim``; I the image; every conv bias-free; "PReLU" is one shared slope)::

    f0  = PReLU(conv3x3(I))                                      Conv_head
    x   = EAA1(f0)                                               full resolution
    lq  = PixelUnshuffle2(conv3x3_{D->D/4}(x))                   downsample1, H/2
    x   = EAA3(PixelUnshuffle2(conv3x3_{D->D/4}(EAA2(lq))))      downsample2, H/4
    hq  = EAA4(PReLU(conv3x3_{2D->D}(cat[PixelShuffle2(conv3x3_{D->4D}(x)), lq])))   upsample2, down
    x   = EAA5(PixelShuffle2(conv3x3_{D->4D}(hq))) + f0 - ConvT(lq - hq)             upsample1, transpose1
    out = PReLU(conv3x3_{D->3}(x)) + I - ConvT_{D->3}(lq - hq)                        Conv_tail, transpose2

The two ``lq - hq`` terms are the paper's "degradation" corrections: the difference between the features
before (``lq``) and after (``hq``) the bottom of the U, upsampled by a 4x4 stride-2 transposed conv and
subtracted. Each EAA block (the paper's LAA block; the code still says ``EAABlock``) is a small U of its
own with the same correction::

    lq  = conv3x3s2(AttentionBlock_p(x))                         stage1, R/2
    t   = conv3x3s2(AttentionBlock_{p/2}(Filters(lq)))           stage2, R/4
    t   = AttentionBlock_{p/2}(Filters(t))                       stage3
    hq  = ConvT(AttentionBlock_{p/2}(Filters(t)))                stage4, R/2
    out = ConvT_{2D->D}(AttentionBlock_p(Filters_2D(cat[hq, lq]))) + x - ConvT(lq - hq)   stage5, transpose

Blocks:

* ``Filters`` (the paper's adaptive filter): ``sum_k alpha_k (K_k * x) + alpha_9 (x - Gauss15(x)) + beta x``
  per channel. K_1..K_8 are fixed 3x3 kernels scaled by 1e-3 (zero padding): Sobel-x, Sobel-y,
  Laplacian, "Edge", Sobel-xy, Sobel-yx, Roberts-x, Roberts-y, in the order of the official *unfused*
  path (the one every official option file trains with). The Gaussian is torchvision's
  ``GaussianBlur(15, 5)``: a normalised 15-tap kernel, reflect padding. alpha (9) starts at 1, beta at 0.
* ``AttentionBlock`` = ResBlock -> PatchAttention -> SimpleGate -> ResCABlock.
* ``ResBlock``: 1x1 (c->2c) -> depth-wise 3x3 -> LayerNorm2d -> GELU -> 1x1 (2c->c); ``x + alpha * y``.
  ``ResCABlock`` adds RCAN channel attention (squeeze 16) before the alpha scale. alpha starts at 0.
* ``PatchAttention`` (the paper's stand-in for self-attention): a 1x1 conv reduces c -> m = c // dim_scale;
  the map is split into (H/p)(W/p) *dilated* groups, group (a, b) holding the p x p pixels
  (a + i H/p, b + j W/p); each group's m p^2 values (flattened channel, i, j) go through
  Linear(m p^2 -> p^2) -> LayerNorm -> GELU -> Linear(p^2 -> 1), an unbounded scalar (no sigmoid) that
  multiplies all c p^2 values of x in the group. Output ``beta * x + gated``, beta starting at 0.
* ``SimpleGate``: LayerNorm2d -> 1x1 (c -> 2c, with bias) -> halves multiplied; ``x + gamma * prod``.
* ``LayerNorm2d``: per-pixel normalisation over channels (biased variance, eps 1e-6), affine.

Choices the official code leaves open, and how they are settled here:

* Input size. The official network needs H, W multiples of 32 (two top-level and two in-block halvings,
  then a patch of 2 at the deepest map) and >= 128 (the deepest map, H/16, must be >= 8 for the
  reflect-padded 15-tap Gaussian). ``forward`` pads bottom/right to ``max(multiple of tile_multiple, 128)``
  (``layers.pad_to_multiple``: reflect where the pad is smaller than the side, else replicate, per axis)
  and crops the output back. The official test sets crop instead, so outputs on non-aligned images
  differ from the paper's protocol only there.
* Tiling. PatchAttention's groups span the whole map and channel attention pools globally, so no tile
  size reproduces the whole-image output exactly; ``tile_multiple`` gives only the alignment the
  network needs (32 for the defaults).
* The official ``Filters`` has a second, pre-fused path (``training=False``) that permutes alpha_5..alpha_8;
  it is not reproduced and there is no ``training`` option. Here the 8 weighted kernels are summed into
  one depth-wise 3x3 kernel at run time with the unfused path's mapping: the same linear map, one conv
  instead of eight, gradients still reach alpha. The Gaussian is applied as two 1-D passes over the
  reflect-padded map (its 2-D kernel is an outer product, so the result is the same up to rounding).
* Fixed kernels are non-persistent buffers. In the official code they leak into ``parameters()`` and the
  state dict when the model is built on CPU (see ``from_official_state_dict``).
* Per-level patch sizes and channel-reduction scales are hard-coded in the official ``LIR``; they are
  config fields here (``patch_sizes``, ``dim_scales``, EAA1..EAA5 order) with the official values.

Parameters: 7,310,915 trainable for the default (and only) preset ``lir``; its state dict has the 2,540
entries of a GPU-trained official checkpoint. Checked against the official classes (run outside this
repository, torchvision's blur reproduced from its source): with the same perturbed weights the outputs
agree to 1.7e-14 in float64 and about 1e-5 relative in float32 (default and reduced configurations).

Official checkpoint keys are our keys (``Conv_head.conv.weight``, ``EAA1.0.stage2.0.alpha``,
``EAA3.2.stage5.1.pa.mlp.0.weight``, ``EAA5.3.transpose.weight``, ``transpose2.weight``, ...): the module tree
uses the official attribute names and ``nn.Sequential`` indices, so loading is only unwrapping (BasicSR
``params_ema`` / ``params``, ``state_dict``, ``module.``: ``models.checkpoint_keys``) and dropping stray
fixed-kernel entries.
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
from irstudio.models.layers import LayerNorm2d, pad_to_multiple, padded_side

__all__ = [
    "ARCH",
    "HALF_DTYPES",
    "LIR",
    "PRESETS",
    "AttentionBlock",
    "EAABlock",
    "Filters",
    "LIRConfig",
    "MapTap",
    "PatchAttention",
    "attention_modules",
    "build",
    "from_official_state_dict",
    "min_side",
    "tile_multiple",
]

HALF_DTYPES: tuple[str, ...] = ("bf16",)
"""bf16 only. bf16 keeps float32's exponent range, so nothing below over- or underflows in it. fp16 is
not declared safe: (1) the fixed edge kernels are scaled by 1e-3, so their responses to small features
(|x| < 0.06) fall into fp16's subnormal range (< 6.1e-5) and lose precision; (2) PatchAttention's gates
are unbounded (no sigmoid) and the top-level residual stream is never normalised, so magnitudes are not
bounded by the design; (3) LayerNorm2d squares deviations from the channel mean, which overflows fp16
once a deviation exceeds 256. No official weights were at hand to show that trained activations stay
inside fp16's range."""

_LEVELS = ("EAA1", "EAA2", "EAA3", "EAA4", "EAA5")
_LEVEL_DOWNSAMPLING = (1, 2, 4, 2, 1)  # resolution divisor of each EAA level (top-level halvings)
_GAUSS_SIZE = 15  # torchvision GaussianBlur(kernel_size=15, sigma=5) in the official HighPass
_GAUSS_SIGMA = 5.0
_EDGE_SCALE = 1e-3  # the official fixed kernels are multiplied by 1e-3
_CA_SQUEEZE = 16  # RCAN channel-attention reduction in ResCABlock

# The 8 fixed kernels in the order the official *unfused* Filters path weights them with alpha[0..7]
# (cross-correlation orientation, before the 1e-3 scale).
_EDGE_KERNELS: tuple[tuple[str, tuple[tuple[int, int, int], ...]], ...] = (
    ("Sobel_x", ((1, 0, -1), (2, 0, -2), (1, 0, -1))),
    ("Sobel_y", ((1, 2, 1), (0, 0, 0), (-1, -2, -1))),
    ("Laplation", ((0, 1, 0), (1, -4, 1), (0, 1, 0))),
    ("Edge", ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1))),
    ("Sobel_xy", ((0, 1, 2), (-1, 0, 1), (-2, -1, 0))),
    ("Sobel_yx", ((-2, -1, 0), (-1, 0, 1), (0, 1, 2))),
    ("Roberts_x", ((1, 0, 0), (0, -1, 0), (0, 0, 0))),
    ("Roberts_y", ((0, 1, 0), (-1, 0, 0), (0, 0, 0))),
)
_OFFICIAL_KERNEL_KEYS = frozenset(name for name, _ in _EDGE_KERNELS)
_TOP_LEVEL_NAMES = frozenset(
    {
        "Conv_head",
        *_LEVELS,
        "downsample1",
        "downsample2",
        "upsample2",
        "down",
        "upsample1",
        "transpose1",
        "transpose2",
        "Conv_tail",
    }
)


@dataclass(frozen=True)
class LIRConfig:
    """Hyper-parameters of LIR, named as in the official ``LIR.__init__``; defaults = the official default.

    ``left_blk_num`` = (EAA1, EAA2) block counts, ``bottom_blk_num`` = EAA3, ``right_blk_num`` = (EAA5, EAA4)
    (the official order: ``right_blk_num[0]`` is the full-resolution level). ``patch_sizes`` and
    ``dim_scales`` are the official hard-coded ``EAABlock(patch_size, dim_scale)`` values of EAA1..EAA5.
    """

    img_channel: int = 3
    dim: int = 48
    left_blk_num: tuple[int, int] = (3, 3)
    bottom_blk_num: int = 3
    right_blk_num: tuple[int, int] = (4, 3)
    patch_sizes: tuple[int, int, int, int, int] = (8, 8, 4, 8, 8)
    dim_scales: tuple[int, int, int, int, int] = (16, 8, 8, 8, 16)


PRESETS: dict[str, LIRConfig] = {"lir": LIRConfig()}


def _level_block_counts(config: LIRConfig) -> tuple[int, int, int, int, int]:
    """Number of EAA blocks at EAA1..EAA5."""
    return (
        config.left_blk_num[0],
        config.left_blk_num[1],
        config.bottom_blk_num,
        config.right_blk_num[1],
        config.right_blk_num[0],
    )


def tile_multiple(config: LIRConfig) -> int:
    """Spatial period the padded input must be a multiple of (32 for the defaults).

    An EAA block at a map of side R halves twice and runs patches of p (at R, R/2) and p/2 (at R/2, R/4), so
    R must be a multiple of lcm(2p, 4); the level's map is the input divided by 1, 2 or 4. LIR's output is
    not tile-invariant (global PatchAttention groups, global channel pooling): this is alignment only.
    """
    period = 1
    for divisor, patch in zip(_LEVEL_DOWNSAMPLING, config.patch_sizes, strict=True):
        period = math.lcm(period, divisor * math.lcm(2 * patch, 4))
    return period


def min_side(config: LIRConfig) -> int:
    """Smallest padded side: the deepest Filters map (input / 16) must hold the Gaussian's reflect pad.

    Torch's reflect padding needs the pad (7) smaller than the side, so that map must be >= 8 px:
    128 for the defaults, rounded up to a multiple of ``tile_multiple``.
    """
    deepest_divisor = 4 * max(_LEVEL_DOWNSAMPLING)
    smallest = deepest_divisor * (_GAUSS_SIZE // 2 + 1)
    period = tile_multiple(config)
    return -(-smallest // period) * period


def attention_modules(config: LIRConfig) -> tuple[str, ...]:
    """Dotted names of the ``MapTap`` modules the map view hooks, in forward order.

    Two kinds, both identity modules whose forward hook receives ``(map,)`` and returns ``map``:

    * ``EAAk.j.stageS.0.response`` (S = 2..5): the adaptive filter's learned response,
      ``sum_k alpha_k (K_k * x) + alpha_9 (x - Gauss(x))`` without the identity term ``beta x``; shape
      (N, C, h, w), same dtype as the features (C = dim, or 2 * dim at stage 5). Its magnitude shows where
      the learned edge / high-pass mix fires.
    * ``EAAk.j.stageS.{0|1}.pa.gate`` (S = 1..5): PatchAttention's gate, one unbounded scalar per dilated
      group, shape (N, 1, h/p, w/p). Entry (a, b) scales the pixels (a + i h/p, b + j w/p), i, j < p, so
      the full-resolution gate map is this map tiled p x p times (``Tensor.repeat``), not upsampled.

    h, w are the padded feature sizes at that stage (see ``min_side`` and ``tile_multiple``).
    """
    names: list[str] = []
    for level, count in zip(_LEVELS, _level_block_counts(config), strict=True):
        for block in range(count):
            prefix = f"{level}.{block}"
            names.append(f"{prefix}.stage1.0.pa.gate")
            for stage in (2, 3, 4, 5):
                names.append(f"{prefix}.stage{stage}.0.response")
                names.append(f"{prefix}.stage{stage}.1.pa.gate")
    return tuple(names)


class MapTap(nn.Module):
    """Identity: a named place where a forward hook sees an attention-like map. Changes nothing."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class ConvBlock(nn.Module):
    """Bias-free 3x3 conv followed by a single-slope PReLU (official ``ConvBlock`` with its defaults)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.act = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.act(self.conv(x))
        return y


class ChannelAttention(nn.Module):
    """RCAN channel attention: x * sigmoid(conv1x1(relu(conv1x1(GAP(x))))), reduction ``squeeze``."""

    def __init__(self, channels: int, squeeze: int = _CA_SQUEEZE) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // squeeze, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // squeeze, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        weights: Tensor = self.attention(x)
        return x * weights


class ResBlock(nn.Module):
    """x + alpha * (1x1 c->2c, dw3x3, LayerNorm2d, GELU, 1x1 2c->c)(x); alpha (1, c, 1, 1) starts at 0."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(dim, dim * 2, 1, bias=False)
        self.conv_2 = nn.Conv2d(dim * 2, dim * 2, 3, padding=1, groups=dim * 2, bias=False)
        self.layernorm = LayerNorm2d(dim * 2)
        self.act = nn.GELU()
        self.conv_3 = nn.Conv2d(dim * 2, dim, 1, bias=False)
        self.alpha = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def branch(self, x: Tensor) -> Tensor:
        """The inverted-bottleneck path, before the residual scale."""
        y: Tensor = self.conv_3(self.act(self.layernorm(self.conv_2(self.conv_1(x)))))
        return y

    def forward(self, x: Tensor) -> Tensor:
        return x + self.branch(x) * self.alpha


class ResCABlock(ResBlock):
    """ResBlock whose branch output passes RCAN channel attention before the alpha scale."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.ca = ChannelAttention(dim)

    def forward(self, x: Tensor) -> Tensor:
        attended: Tensor = self.ca(self.branch(x))
        return x + attended * self.alpha


class PatchAttention(nn.Module):
    """One learned, unbounded gate per dilated group of p x p pixels (see the module docstring).

    Input and output (N, dim, H, W) with H, W multiples of ``patch_size``. ``gate`` (a ``MapTap``) sees the
    gates as (N, 1, H/p, W/p).
    """

    def __init__(self, patch_size: int, dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        cells = patch_size * patch_size
        self.down = nn.Conv2d(dim, mlp_dim, 1, bias=False)
        self.mlp = nn.Sequential(
            nn.Linear(cells * mlp_dim, cells),
            nn.LayerNorm(cells),
            nn.GELU(),
            nn.Linear(cells, 1),
        )
        self.beta = nn.Parameter(torch.zeros(1, dim, 1, 1))
        self.gate = MapTap()

    def group_gates(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, 1, H/p, W/p): entry (a, b) is the gate of the group at offset (a, b)."""
        n, _, h, w = x.shape
        p = self.patch_size
        rows, cols = h // p, w // p
        y = self.down(x)
        # pixel (i * rows + a, j * cols + b) belongs to group (a, b); MLP input order is (channel, i, j)
        groups = y.view(n, -1, p, rows, p, cols).permute(0, 3, 5, 1, 2, 4).reshape(n, rows * cols, -1)
        gates: Tensor = self.mlp(groups)
        return gates.view(n, 1, rows, cols)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.patch_size
        gates: Tensor = self.gate(self.group_gates(x))
        rows, cols = h // p, w // p
        gated = x.view(n, c, p, rows, p, cols) * gates.view(n, 1, 1, rows, 1, cols)
        return self.beta * x + gated.view(n, c, h, w)


class SimpleGate(nn.Module):
    """x + gamma * (a * b), (a, b) = halves of conv1x1_{c->2c, bias}(LayerNorm2d(x)); gamma starts at 0."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim)
        self.conv = nn.Conv2d(dim, dim * 2, 1)
        self.gamma = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        halves: Tensor = self.conv(self.norm(x))
        first, second = halves.chunk(2, dim=1)
        return x + first * second * self.gamma


class AttentionBlock(nn.Module):
    """ResBlock -> PatchAttention -> SimpleGate -> ResCABlock; (N, dim, H, W) -> same."""

    def __init__(self, patch_size: int, dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.resblock = ResBlock(dim)
        self.pa = PatchAttention(patch_size, dim, mlp_dim)
        self.sg = SimpleGate(dim)
        self.rescablock = ResCABlock(dim)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.rescablock(self.sg(self.pa(self.resblock(x))))
        return y


def _gaussian_taps(size: int = _GAUSS_SIZE, sigma: float = _GAUSS_SIGMA) -> Tensor:
    """torchvision's normalised 1-D Gaussian: exp(-x^2 / 2 sigma^2) at x = -(size-1)/2 .. (size-1)/2."""
    half = (size - 1) * 0.5
    positions = torch.linspace(-half, half, steps=size)
    pdf = torch.exp(-0.5 * (positions / sigma).pow(2))
    return pdf / pdf.sum()


class Filters(nn.Module):
    """The adaptive filter: learned mix of 8 fixed edge kernels, a Gaussian high-pass and the identity.

    (N, dim, H, W) -> same; H, W >= 8 (reflect padding of the 15-tap Gaussian). ``alpha`` (9,) weights the
    8 kernels and the high-pass, ``beta`` (1,) the identity. ``response`` (a ``MapTap``) sees the filter
    response without the identity term.
    """

    edge_kernels: Tensor  # buffers
    gauss_taps: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(9))
        self.beta = nn.Parameter(torch.zeros(1))
        kernels = torch.tensor([kernel for _, kernel in _EDGE_KERNELS], dtype=torch.float32) * _EDGE_SCALE
        self.register_buffer("edge_kernels", kernels, persistent=False)
        self.register_buffer("gauss_taps", _gaussian_taps(), persistent=False)
        self.response = MapTap()

    def edges(self, x: Tensor) -> Tensor:
        """sum_k alpha_k (K_k * x), zero padding, as one depth-wise conv with the alpha-weighted kernel."""
        kernel = torch.einsum("k,kij->ij", self.alpha[:8], self.edge_kernels.to(x.dtype))
        return F.conv2d(x, kernel.expand(self.dim, 1, 3, 3), padding=1, groups=self.dim)

    def high_pass(self, x: Tensor) -> Tensor:
        """x - GaussianBlur_{15, sigma 5}(x), reflect padding, as a vertical then a horizontal 1-D pass."""
        taps = self.gauss_taps.to(x.dtype)
        pad = taps.numel() // 2
        blurred = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        blurred = F.conv2d(blurred, taps.view(1, 1, -1, 1).expand(self.dim, 1, -1, 1), groups=self.dim)
        blurred = F.conv2d(blurred, taps.view(1, 1, 1, -1).expand(self.dim, 1, 1, -1), groups=self.dim)
        return x - blurred

    def forward(self, x: Tensor) -> Tensor:
        response: Tensor = self.response(self.edges(x) + self.high_pass(x) * self.alpha[8])
        return response + x * self.beta[0]


def _down_conv(dim: int) -> nn.Conv2d:
    return nn.Conv2d(dim, dim, 3, stride=2, padding=1, bias=False)


def _up_conv(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)


class EAABlock(nn.Module):
    """The LAA block (official name ``EAABlock``): a two-level U with its own ``lq - hq`` correction.

    (N, dim, R, R') -> same; R, R' multiples of lcm(2 * patch_size, 4).
    """

    def __init__(self, dim: int, patch_size: int, dim_scale: int) -> None:
        super().__init__()
        inner = patch_size // 2
        mlp_dim = dim // dim_scale
        self.stage1 = nn.Sequential(AttentionBlock(patch_size, dim, mlp_dim), _down_conv(dim))
        self.stage2 = nn.Sequential(Filters(dim), AttentionBlock(inner, dim, mlp_dim), _down_conv(dim))
        self.stage3 = nn.Sequential(Filters(dim), AttentionBlock(inner, dim, mlp_dim))
        self.stage4 = nn.Sequential(Filters(dim), AttentionBlock(inner, dim, mlp_dim), _up_conv(dim, dim))
        self.stage5 = nn.Sequential(
            Filters(dim * 2),
            AttentionBlock(patch_size, dim * 2, dim * 2 // dim_scale),
            _up_conv(dim * 2, dim),
        )
        self.transpose = _up_conv(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        lq = self.stage1(x)
        hq = self.stage4(self.stage3(self.stage2(lq)))
        y: Tensor = self.stage5(torch.cat([hq, lq], dim=1))
        correction: Tensor = self.transpose(lq - hq)
        return y + x - correction


def _validate(
    *,
    img_channel: int,
    dim: int,
    patch_sizes: tuple[int, ...],
    dim_scales: tuple[int, ...],
) -> None:
    """Raise ValueError for configurations the official network cannot build or run."""
    if img_channel < 1:
        raise ValueError(f"img_channel must be >= 1, got {img_channel}")
    if dim % 4 or dim < _CA_SQUEEZE:
        raise ValueError(f"dim must be a multiple of 4 and >= {_CA_SQUEEZE}, got {dim}")
    if len(patch_sizes) != len(_LEVELS) or len(dim_scales) != len(_LEVELS):
        raise ValueError("patch_sizes and dim_scales need one entry per level (EAA1..EAA5)")
    if any(p < 2 or p % 2 for p in patch_sizes):
        raise ValueError(f"patch sizes must be even and >= 2, got {patch_sizes}")
    if any(s < 1 or dim // s < 1 for s in dim_scales):
        raise ValueError(f"dim // dim_scale must be >= 1 at every level, got dim {dim}, scales {dim_scales}")


class LIR(nn.Module):
    """LIR, scale 1: (N, img_channel, H, W) float in [0, 1] -> same shape, nominally [0, 1]; any H, W >= 1.

    Pads internally (bottom/right) to ``max(multiple of tile_multiple, min_side)`` and crops back. Works on
    any device; float32, or bfloat16 (see ``HALF_DTYPES``).
    """

    def __init__(
        self,
        *,
        img_channel: int = 3,
        dim: int = 48,
        left_blk_num: tuple[int, int] = (3, 3),
        bottom_blk_num: int = 3,
        right_blk_num: tuple[int, int] = (4, 3),
        patch_sizes: tuple[int, int, int, int, int] = (8, 8, 4, 8, 8),
        dim_scales: tuple[int, int, int, int, int] = (16, 8, 8, 8, 16),
    ) -> None:
        super().__init__()
        _validate(img_channel=img_channel, dim=dim, patch_sizes=patch_sizes, dim_scales=dim_scales)
        self.config = LIRConfig(
            img_channel=img_channel,
            dim=dim,
            # tuple(): callers may pass lists (configs read from JSON); the lengths are the annotated ones
            left_blk_num=cast("tuple[int, int]", tuple(left_blk_num)),
            bottom_blk_num=bottom_blk_num,
            right_blk_num=cast("tuple[int, int]", tuple(right_blk_num)),
            patch_sizes=cast("tuple[int, int, int, int, int]", tuple(patch_sizes)),
            dim_scales=cast("tuple[int, int, int, int, int]", tuple(dim_scales)),
        )
        self.period = tile_multiple(self.config)
        self.min_side = min_side(self.config)
        levels = [
            nn.Sequential(*(EAABlock(dim, patch, scale) for _ in range(count)))
            for count, patch, scale in zip(
                _level_block_counts(self.config), patch_sizes, dim_scales, strict=True
            )
        ]
        self.Conv_head = ConvBlock(img_channel, dim)
        self.EAA1 = levels[0]
        self.downsample1 = nn.Sequential(
            nn.Conv2d(dim, dim // 4, 3, padding=1, bias=False), nn.PixelUnshuffle(2)
        )
        self.EAA2 = levels[1]
        self.downsample2 = nn.Sequential(
            nn.Conv2d(dim, dim // 4, 3, padding=1, bias=False), nn.PixelUnshuffle(2)
        )
        self.EAA3 = levels[2]
        self.upsample2 = nn.Sequential(nn.Conv2d(dim, dim * 4, 3, padding=1, bias=False), nn.PixelShuffle(2))
        self.down = ConvBlock(dim * 2, dim)
        self.EAA4 = levels[3]
        self.upsample1 = nn.Sequential(nn.Conv2d(dim, dim * 4, 3, padding=1, bias=False), nn.PixelShuffle(2))
        self.EAA5 = levels[4]
        self.transpose1 = _up_conv(dim, dim)
        self.transpose2 = _up_conv(dim, img_channel)
        self.Conv_tail = ConvBlock(dim, img_channel)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) the network actually runs at for an input of (height, width)."""

        return (
            padded_side(height, self.period, self.min_side),
            padded_side(width, self.period, self.min_side),
        )

    def restore_aligned(self, img: Tensor) -> Tensor:
        """The official forward: H, W already multiples of ``period`` and >= ``min_side``."""
        head = self.Conv_head(img)
        lq = self.downsample1(self.EAA1(head))
        x = self.EAA3(self.downsample2(self.EAA2(lq)))
        hq = self.EAA4(self.down(torch.cat([self.upsample2(x), lq], dim=1)))
        degradation = lq - hq
        x = self.EAA5(self.upsample1(hq)) + head - self.transpose1(degradation)
        tail: Tensor = self.Conv_tail(x)
        correction: Tensor = self.transpose2(degradation)
        return tail + img - correction

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        padded = pad_to_multiple(x, self.period, minimum=self.min_side)  # to padded_size; reflect, per axis
        return self.restore_aligned(padded)[..., :height, :width]


def build(config: LIRConfig) -> LIR:
    """A freshly initialised LIR for ``config`` (official initialisation: PyTorch defaults + zero scales)."""
    return LIR(**dataclasses.asdict(config))


def _is_stray_kernel(key: str) -> bool:
    """Fixed-kernel entries of the official ``Filters`` (present when it was built on CPU), e.g.
    ``EAA1.0.stage2.0.Sobel_x``; they are constants here (non-persistent buffers)."""
    parts = key.split(".")
    return len(parts) >= 2 and parts[-1] in _OFFICIAL_KERNEL_KEYS and parts[-2] == "0"


def from_official_state_dict(state_dict: Mapping[str, object]) -> dict[str, Tensor]:
    """Map an official LIR checkpoint (``Dongqi-Fan/LIR``) to this module's state dict.

    Accepts the raw state dict or BasicSR's ``{"params": ..., "params_ema": ...}`` (``params_ema`` wins, as
    in the official test script), other trainer wrappers and ``module.`` prefixes (``unwrap_checkpoint``).
    Drops the
    fixed-kernel entries (``...stageN.0.Sobel_x`` etc.) that CPU-built official models save. Keys are
    otherwise unchanged (our module tree uses the official names). Raises ValueError when the mapping is
    not an LIR checkpoint. Tensors are returned as they are (no copy, no dtype change).
    """
    mapped: dict[str, Tensor] = {}
    for name, value in unwrap_checkpoint(state_dict).items():
        if not isinstance(value, Tensor):
            raise ValueError(f"not an LIR state dict: entry {name!r} is {type(value).__name__}, not a tensor")
        if not _is_stray_kernel(name):
            mapped[name] = value
    unknown = sorted({k.split(".", 1)[0] for k in mapped} - _TOP_LEVEL_NAMES)
    if unknown or "Conv_head.conv.weight" not in mapped:
        raise ValueError(
            "not an LIR checkpoint: expected keys such as 'Conv_head.conv.weight' and 'EAA1.0.stage1...'"
            + (
                f"; unexpected top-level names {unknown[:5]}"
                if unknown
                else "; 'Conv_head.conv.weight' missing"
            )
        )
    return mapped


ARCH: ArchDescriptor[LIRConfig] = ArchDescriptor(
    name="lir",
    config_type=LIRConfig,
    presets=PRESETS,
    build=build,
    tile_multiple=tile_multiple,
    attention_modules=attention_modules,
    half_dtypes=HALF_DTYPES,
    from_official=from_official_state_dict,
)
"""LIR for the registry, the map view and the benchmark (see ``irstudio.models.descriptor``)."""
