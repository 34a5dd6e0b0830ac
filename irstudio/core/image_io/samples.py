"""Float samples to integers (exact round half up) and alpha resizing.

Float to integer: clip to [0, 1], multiply by 255 (or 65535) in the input's float precision, round
half up (``floor(v + 0.5)``, computed exactly). This is the papers' ``(x * 255).round()`` except on
exact .5 ties, where NumPy/PyTorch round half to even.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_QUANTIZE_CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class DecodedSamples:
    """What a decoder gives, before orientation: colour (H, W, 1 or 3) and alpha (H, W) as stored,
    each with its scale (the value that means 1.0); alpha is straight (never premultiplied)."""

    color: np.ndarray
    color_scale: float
    alpha: np.ndarray | None
    alpha_scale: float


SAMPLE_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
"""The integer sample types photos are read and written in, each with its full-scale value."""


def sample_type(bit_depth: int) -> np.dtype[np.unsignedinteger]:
    """The integer sample type of a bit depth: uint8 for 8, uint16 for 16."""
    return np.dtype(np.uint8 if bit_depth == 8 else np.uint16)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (any shape) to uint8: clip, x * 255 in the input's precision, round half up.

    Round half up means ``floor(v + 0.5)`` computed exactly (no float error at .5). It equals the
    papers' ``(x * 255).round()`` except on exact ties (e.g. 128.5 gives 129 here, 128 there). uint8
    input is returned unchanged. NaN raises ``ValueError``.
    """
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype.kind != "f":
        raise TypeError(f"to_uint8 expects a float array in [0, 1], got {rgb.dtype}")
    return _quantize_float(rgb, 255, np.uint8)


def _quantize_float(
    values: np.ndarray,
    max_value: int,
    dtype: type[np.unsignedinteger] | np.dtype[np.unsignedinteger],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Clip to [0, 1], scale by ``max_value``, round half up, into ``out`` (new when None);
    reused row-block buffers bound memory."""
    work_dtype = np.float64 if values.dtype == np.float64 else np.float32
    if out is None:
        out = np.empty(values.shape, dtype=dtype)
    if values.size == 0:
        return out
    rows = max(1, _QUANTIZE_CHUNK_ELEMENTS // max(1, values[:1].size))
    scaled = np.empty((min(rows, values.shape[0]), *values.shape[1:]), dtype=work_dtype)
    whole = np.empty_like(scaled)
    round_up = np.empty(scaled.shape, dtype=bool)
    for start in range(0, values.shape[0], rows):
        count = min(rows, values.shape[0] - start)
        block, block_whole, block_up = scaled[:count], whole[:count], round_up[:count]
        np.clip(values[start : start + count], 0.0, 1.0, out=block, casting="same_kind")
        if np.isnan(block.sum()):
            raise ValueError("the image contains NaN values")
        block *= max_value
        np.floor(block, out=block_whole)
        block -= block_whole  # the exact fractional part
        np.greater_equal(block, 0.5, out=block_up)
        block_whole += block_up
        out[start : start + count] = block_whole
    return out


def to_depth(values: np.ndarray, bit_depth: int, out: np.ndarray | None = None) -> np.ndarray:
    """Samples (any shape) as uint8 (8) or uint16 (16): floats clipped to [0, 1] and quantized as
    ``to_uint8`` does, integers rescaled exactly (half up); already that type: returned as is.
    ``out`` (floats only): an array of the target type and shape to quantize into."""
    target = sample_type(bit_depth)
    if values.dtype.kind == "f":
        return _quantize_float(values, 255 if bit_depth == 8 else 65535, target, out)
    if out is not None:
        raise ValueError("out is only for float values")
    if values.dtype == target:
        return values
    if values.dtype == np.uint8:
        widened: np.ndarray = values.astype(np.uint16) * np.uint16(257)
        return widened
    if values.dtype == np.uint16:
        return ((values.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)
    raise TypeError(f"pixel values must be float, uint8 or uint16, got {values.dtype}")


def resize_alpha(alpha: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize an alpha plane (H, W) in [0, 1] to (out_h, out_w), float32, clipped to [0, 1].

    Bicubic (OpenCV INTER_CUBIC) when enlarging, area averaging when shrinking (no aliasing).
    """
    plane = np.asarray(alpha, dtype=np.float32)
    if plane.ndim != 2:
        raise ValueError(f"alpha must be 2-D (H, W), got shape {plane.shape}")
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive, got {out_h}x{out_w}")
    if plane.shape == (out_h, out_w):
        copied: np.ndarray = np.ascontiguousarray(plane).copy()
        return copied
    enlarging = out_h >= plane.shape[0] and out_w >= plane.shape[1]
    interpolation = cv2.INTER_CUBIC if enlarging else cv2.INTER_AREA
    resized = cv2.resize(plane, (out_w, out_h), interpolation=interpolation)
    np.clip(resized, 0.0, 1.0, out=resized)
    return resized
