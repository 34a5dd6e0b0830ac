"""MATLAB-compatible bicubic ``imresize`` (antialiased on downscale) and ``modcrop``.

This reproduces MATLAB's ``imresize(img, scale, 'bicubic')`` bit for bit on uint8 images, which is how
every SR benchmark made its low-resolution inputs (``LR = imresize(modcrop(HR, s), 1/s)``). OpenCV,
Pillow and torch all differ from it (no antialiasing, other kernels, other borders), hence this module.

The algorithm, as MATLAB does it:

- Kernel: Keys' cubic convolution with ``a = -0.5``, support ``[-2, 2]``.
- Downscale (``scale < 1``): the kernel is stretched to ``h(x) = scale * cubic(scale * x)`` and its width
  widened to ``4 / scale`` (antialiasing).
- Output pixel ``x`` (1-based) maps to input coordinate ``u = x / scale + 0.5 * (1 - 1 / scale)``; it uses
  the ``ceil(width) + 2`` input pixels from ``floor(u - width / 2)`` on, with weights ``h(u - index)``
  normalised to sum to one. Indices outside the image are clamped to the first/last pixel (MATLAB's
  ``min(max(1, indices), in_length)``: edge replication). The mirrored variant ``[1..n, n..1]`` used by
  some Python ports differs from MATLAB at the borders; the benchmark LR files confirm clamping.
- Dimensions are resized one at a time, the one with the smaller scale first (rows first on a tie).
- Integer images are rounded (half away from zero) and clipped to their type after *each* dimension,
  as MATLAB's ``imresizemex`` stores each pass in the input class.

Contract: ``img`` is HxW or HxWxC, dtype uint8, uint16, float32 or float64; the result has the same
dtype and number of dimensions. Integer inputs are computed in float64 (needed for bit-exactness),
float64 in float64, float32 in float32 (saves half the memory on large photos; the result then differs
from a float64 computation by float32 rounding, about 1e-7 relative). Float outputs are not rounded or
clipped (bicubic overshoots slightly outside the input range).

Memory: channels are processed one at a time and each pass is computed in blocks of about 2**20 output
values, so the float temporaries stay near 8 MiB whatever the image size; integer images keep their
intermediate pass in their own dtype, float images in the compute dtype. Downscaling a 6000x4000 RGB
uint8 photo x1/4 allocates about 67 MiB beyond the input (tracemalloc peak; x1/2: 85 MiB).
Pure numpy, CPU only, no torch.

Output size from a scale is ``ceil(scale * size)`` as in MATLAB, so a scale that is not exactly
representable can round up by one pixel (``ceil(1.1 * 50) == 56``); pass ``output_shape`` to be sure.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["contributions", "cubic", "imresize", "modcrop"]

_KERNEL_WIDTH = 4.0  # support of the cubic kernel, [-2, 2]
_BLOCK_ELEMENTS = 1 << 20  # output values per block: bounds the float temporaries (8 MiB in float64)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right of ``img`` (HxW or HxWxC) so that H and W are multiples of ``scale``.

    Returns a view (no copy), as the SR benchmarks do before making LR images.
    """
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"modcrop scale must be a positive integer, got {scale}")
    if img.ndim not in (2, 3):
        raise ValueError(f"modcrop expects an HxW or HxWxC image, got shape {img.shape}")
    height, width = img.shape[:2]
    return img[: height - height % scale, : width - width % scale]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), evaluated elementwise, float64."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    kernel: np.ndarray = inner + outer
    return kernel


def contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based source indices of each output pixel along one dimension (MATLAB's algorithm).

    Returns ``(weights, indices)``, both of shape (out_length, taps): float64 weights summing to one per
    row, and int64 indices in ``[0, in_length)`` (clamped at the borders). All-zero tap columns are dropped.
    """
    if scale < 1:
        width = _KERNEL_WIDTH / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)

    else:
        width = _KERNEL_WIDTH
        kernel = cubic
    out_coords = np.arange(1, out_length + 1, dtype=np.float64)
    centres = out_coords / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(centres - width / 2.0)
    taps = math.ceil(width) + 2
    indices_1based = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(centres[:, None] - indices_1based)
    weights = weights / _sequential_row_sum(weights)[:, None]
    indices = np.clip(indices_1based.astype(np.int64) - 1, 0, in_length - 1)
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


def _sequential_row_sum(weights: np.ndarray) -> np.ndarray:
    """Row sums added left to right (as MATLAB's ``sum`` does), not numpy's pairwise summation."""
    total = np.zeros(weights.shape[0], dtype=weights.dtype)
    for column in range(weights.shape[1]):
        total = total + weights[:, column]
    return total


def _resize_axis(
    channel: np.ndarray,
    axis: int,
    weights: np.ndarray,
    indices: np.ndarray,
    compute_dtype: np.dtype,
) -> np.ndarray:
    """Resize a 2-D ``channel`` along ``axis`` (0 rows, 1 columns) with precomputed weights/indices.

    The output is built in blocks of rows (about ``_BLOCK_ELEMENTS`` values each) so that the float
    temporaries stay small whatever the image size. Within a block, taps are accumulated in order, each
    as one vectorised gather. Integer channels come back rounded and clipped to their own dtype (as
    MATLAB stores each pass); float channels come back in ``compute_dtype``.
    """
    weights = weights.astype(compute_dtype, copy=False)
    out_len = weights.shape[0]
    out_shape = (out_len, channel.shape[1]) if axis == 0 else (channel.shape[0], out_len)
    is_integer = np.issubdtype(channel.dtype, np.integer)
    out = np.empty(out_shape, dtype=channel.dtype if is_integer else compute_dtype)
    rows_per_block = max(1, _BLOCK_ELEMENTS // max(1, out_shape[1]))
    for start in range(0, out_shape[0], rows_per_block):
        stop = min(start + rows_per_block, out_shape[0])
        if axis == 0:
            block = _weighted_taps(channel, weights[start:stop], indices[start:stop], axis=0)
        else:
            block = _weighted_taps(channel[start:stop], weights, indices, axis=1)
        out[start:stop] = _to_integer(block, channel.dtype) if is_integer else block
    return out


def _weighted_taps(source: np.ndarray, weights: np.ndarray, indices: np.ndarray, axis: int) -> np.ndarray:
    """``sum_k weights[:, k] * source[indices[:, k]]`` along ``axis``, added tap by tap in order."""
    shape = (-1, 1) if axis == 0 else (1, -1)
    acc: np.ndarray | None = None
    for tap in range(weights.shape[1]):
        term = np.take(source, indices[:, tap], axis=axis) * weights[:, tap].reshape(shape)
        acc = term if acc is None else np.add(acc, term, out=acc)
    assert acc is not None
    return acc


def _to_integer(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round half away from zero and saturate to the integer ``dtype``, as MATLAB's class conversion."""
    info = np.iinfo(dtype)
    rounded = np.where(values >= 0, np.floor(values + 0.5), np.ceil(values - 0.5))
    return np.clip(rounded, info.min, info.max).astype(dtype)


def _output_plan(
    in_shape: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Per-dimension scales and output sizes, as MATLAB derives them from a scale or a size."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale or output_shape")
    if output_shape is not None:
        out_h, out_w = (int(v) for v in output_shape)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"output_shape must be positive, got {output_shape}")
        return (out_h / in_shape[0], out_w / in_shape[1]), (out_h, out_w)
    assert scale is not None
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive finite number, got {scale}")
    sizes = (math.ceil(scale * in_shape[0]), math.ceil(scale * in_shape[1]))
    return (float(scale), float(scale)), sizes


def imresize(
    img: np.ndarray, scale: float | None = None, *, output_shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Resize ``img`` (HxW or HxWxC) with MATLAB's antialiased bicubic; same dtype and ndim out.

    Give either ``scale`` (output size ``ceil(scale * size)``, e.g. ``1 / 4`` or ``2``) or
    ``output_shape`` ``(height, width)``. uint8/uint16 inputs are bit-exact with MATLAB; float inputs
    stay unrounded and unclipped (see the module docstring for precision and memory).
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an HxW or HxWxC image, got shape {img.shape}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"imresize got an empty image of shape {img.shape}")
    dtype = img.dtype
    is_integer = np.issubdtype(dtype, np.integer)
    if is_integer and dtype not in (np.uint8, np.uint16):
        raise TypeError(f"imresize supports uint8, uint16, float32 and float64 images, got {dtype}")
    if not is_integer and dtype not in (np.float32, np.float64):
        raise TypeError(f"imresize supports uint8, uint16, float32 and float64 images, got {dtype}")
    compute_dtype = np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)

    in_shape = (img.shape[0], img.shape[1])
    scales, out_shape = _output_plan(in_shape, scale, output_shape)
    order = sorted((0, 1), key=lambda axis: scales[axis])  # stable: rows first on a tie
    plans = [
        (axis, *contributions(in_shape[axis], out_shape[axis], scales[axis]))
        for axis in order
        if not (scales[axis] == 1.0 and out_shape[axis] == in_shape[axis])
    ]

    if img.ndim == 2:
        return _resize_channel(img, plans, compute_dtype)
    out = np.empty((*out_shape, img.shape[2]), dtype=dtype)
    for c in range(img.shape[2]):
        out[:, :, c] = _resize_channel(img[:, :, c], plans, compute_dtype)
    return out


def _resize_channel(
    channel: np.ndarray, plans: list[tuple[int, np.ndarray, np.ndarray]], compute_dtype: np.dtype
) -> np.ndarray:
    """Apply the per-dimension passes to one 2-D channel; the result has the channel's dtype.

    The channel is made contiguous first (one copy of a channel of an HxWxC image): row gathers on a
    strided channel are several times slower.
    """
    current = np.ascontiguousarray(channel)
    for axis, weights, indices in plans:
        current = _resize_axis(current, axis, weights, indices, compute_dtype)
    return current.astype(channel.dtype, copy=current is channel)
