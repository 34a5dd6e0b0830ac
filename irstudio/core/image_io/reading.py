"""Decode a file into upright float32 RGB (H, W, 3) in [0, 1] plus alpha: ``probe_image``, ``read_image``.

TIFF is decoded by tifffile (``tiff.decode_tiff``), HEIF by pillow-heif (``heif.decode_heif``), camera
RAW by rawpy (``raw.develop_raw``). Pillow decodes the other formats (AVIF through its AVIF plugin)
except 16-bit PNGs with colour or alpha, which Pillow truncates to 8 bits: those are decoded by
OpenCV (IMREAD_UNCHANGED, BGR(A) turned into RGB(A)). Either way the pixels are decoded once, and the
decoder's memory is released before the float32 copy is made. The EXIF orientation is applied here,
once, as a view folded into that copy; libheif and LibRaw turn their pixels themselves, and report
orientation 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from irstudio.core.image_io.header import (
    _GREY16_MODES,
    _PILLOW_LIMIT,
    _TRUNCATED_ERRORS,
    _opened,
)
from irstudio.core.image_io.heif import decode_heif
from irstudio.core.image_io.info import (
    DEFAULT_MAX_PIXELS,
    ImageInfo,
    LoadedImage,
    UnreadableImageError,
    _reason,
)
from irstudio.core.image_io.png import png_has_end, png_pixel_bytes
from irstudio.core.image_io.raw import RAW_OUTPUTS, develop_raw
from irstudio.core.image_io.samples import SAMPLE_MAX, DecodedSamples
from irstudio.core.image_io.tiff import decode_tiff


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read the header and metadata only (no pixel is decoded).

    Raises ``UnreadableImageError`` (missing, empty, not a supported image, damaged header) or
    ``ImageTooLargeError`` (width x height > ``max_pixels``; None means no limit).
    """
    with _opened(Path(path), max_pixels) as (_, info):
        return info


def read_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    native: bool = False,
    raw_output: str = "srgb",
) -> LoadedImage:
    """Decode an image into upright float32 RGB (H, W, 3) in [0, 1] plus alpha and ``ImageInfo``.

    ``native``: keep 8- and 16-bit samples as uint8 / uint16 RGB (H, W, 3) instead (a quarter or
    half of the float32 size; value / 255 or / 65535 is exactly the float32 ``rgb`` the default
    gives). Other samples (32-bit integer, float) still come as float32. Alpha is float32 either way.
    ``raw_output``: how a camera RAW file is developed: ``"srgb"`` (the default: camera white
    balance, sRGB primaries and curve, exposure as shot, no auto-brightening) or ``"linear"`` (the
    same, scene-linear); other formats ignore it (see ``raw``). The pixel limit is checked from the
    header before decoding. Raises ``UnreadableImageError`` (``MissingCodecError`` when the format's
    optional package is not installed), ``ImageTooLargeError``, or ``ValueError`` (bad
    ``raw_output``).
    """
    if raw_output not in RAW_OUTPUTS:
        raise ValueError(f"raw_output must be one of {', '.join(RAW_OUTPUTS)}, got {raw_output!r}")
    with _opened(Path(path), max_pixels) as (handle, info):
        transparency = handle.info.get("transparency") if isinstance(handle, Image.Image) else None
        if info.format == "HEIF":
            decoded = decode_heif(handle, info)
        elif info.format.startswith("RAW"):
            decoded, info = develop_raw(handle, info, raw_output)
        elif handle is None or _decoded_by_opencv(info):
            decoded = None
        else:
            with _PILLOW_LIMIT.at_least(info.width * info.height):
                decoded = _decode_with_pillow(handle, info)
    # The decoder's image is closed here, so its memory is free before the float copy is made.
    if decoded is None:
        decoded = decode_tiff(info.path) if info.format == "TIFF" else _decode_with_opencv(info)
    if decoded.alpha is None and info.has_alpha and transparency is not None:
        decoded = _with_color_key_alpha(decoded, transparency)
    rgb, alpha = _upright_float(decoded, info.orientation, keep_integers=native)
    return LoadedImage(rgb=rgb, alpha=alpha, info=info)


def _decoded_by_opencv(info: ImageInfo) -> bool:
    """16-bit colour or grey+alpha files: Pillow would truncate them to 8 bits."""
    return info.bit_depth == 16 and info.mode not in _GREY16_MODES


def _decode_with_pillow(im: Image.Image, info: ImageInfo) -> DecodedSamples:
    """Decode with Pillow into integer (or float "F") samples; orientation is applied later."""
    try:
        im.load()
        if info.format == "PNG" and not png_has_end(info.path):
            raise OSError("the IEND chunk is missing")
        decoded = _pillow_samples(im, info)
    except _TRUNCATED_ERRORS as exc:
        raise UnreadableImageError(
            f"{info.path}: the {info.format} data is damaged or truncated ({exc})", path=info.path
        ) from exc
    return decoded


def _pillow_samples(im: Image.Image, info: ImageInfo) -> DecodedSamples:
    mode = im.mode
    if mode in _GREY16_MODES:
        scale = 65535.0 if info.bit_depth <= 16 else 4294967295.0
        return DecodedSamples(np.asarray(im)[..., None], scale, None, 1.0)
    if mode == "F":
        return DecodedSamples(np.asarray(im)[..., None], 1.0, None, 1.0)
    if mode in ("1", "L") and not info.has_alpha:
        grey = im if mode == "L" else im.convert("L")
        return DecodedSamples(np.asarray(grey)[..., None], 255.0, None, 1.0)
    if mode == "LA":
        samples = np.asarray(im)
        return DecodedSamples(samples[..., :1], 255.0, samples[..., 1], 255.0)
    target = "RGBA" if info.has_alpha else "RGB"
    samples = np.asarray(im if mode == target else im.convert(target))
    alpha = samples[..., 3] if target == "RGBA" else None
    return DecodedSamples(samples[..., :3], 255.0, alpha, 255.0)


def _decode_with_opencv(info: ImageInfo) -> DecodedSamples:
    """Decode a 16-bit colour PNG with OpenCV (full precision); BGR(A) becomes RGB(A)."""
    path = info.path
    try:
        encoded = png_pixel_bytes(path)  # no ancillary chunk for libpng to warn about
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot read the file ({_reason(exc)})", path=path) from exc
    except ValueError as exc:
        raise UnreadableImageError(
            f"{path}: the PNG data is damaged or truncated ({exc})", path=path
        ) from exc
    samples: np.ndarray | None = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    del encoded
    if samples is None:
        raise UnreadableImageError(f"{path}: the {info.format} data is damaged or truncated", path=path)
    stored = (info.height, info.width) if info.orientation >= 5 else (info.width, info.height)
    if samples.shape[:2] != (stored[1], stored[0]):
        raise UnreadableImageError(f"{path}: the decoders disagree on the image size", path=path)
    if samples.ndim == 2:
        samples = samples[..., None]
    scale = float(np.iinfo(samples.dtype).max) if samples.dtype.kind in "ui" else 1.0
    channels = samples.shape[2]
    if channels == 1:
        return DecodedSamples(samples, scale, None, scale)
    if channels == 2:
        return DecodedSamples(samples[..., :1], scale, samples[..., 1], scale)
    alpha = samples[..., 3] if channels == 4 else None
    return DecodedSamples(samples[..., 2::-1], scale, alpha, scale)


def _with_color_key_alpha(decoded: DecodedSamples, key: object) -> DecodedSamples:
    """Alpha from a tRNS colour key (16-bit grey/RGB PNG): 0 where the colour equals the key, else 1."""
    key_values = np.asarray(key if isinstance(key, tuple) else (key,), dtype=np.int64)
    if key_values.size != decoded.color.shape[2]:
        return decoded
    opaque = np.any(decoded.color != key_values, axis=2).astype(np.uint8)
    return DecodedSamples(decoded.color, decoded.color_scale, opaque, 1.0)


def _orient(samples: np.ndarray, orientation: int) -> np.ndarray:
    """A view of ``samples`` (H, W, ...) turned upright for an EXIF orientation 1-8."""
    if orientation == 2:
        return samples[:, ::-1]
    if orientation == 3:
        return samples[::-1, ::-1]
    if orientation == 4:
        return samples[::-1]
    if orientation == 5:
        return np.swapaxes(samples, 0, 1)
    if orientation == 6:
        return np.swapaxes(samples[::-1], 0, 1)
    if orientation == 7:
        return np.swapaxes(samples[::-1, ::-1], 0, 1)
    if orientation == 8:
        return np.swapaxes(samples[:, ::-1], 0, 1)
    return samples


def _upright_float(
    decoded: DecodedSamples, orientation: int, *, keep_integers: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 RGB (H, W, 3) and alpha (H, W) in [0, 1], upright and C-contiguous, in one pass each;
    with ``keep_integers``, uint8 / uint16 colour samples at full scale stay in their own type."""
    color = _orient(decoded.color, orientation)
    native = keep_integers and SAMPLE_MAX.get(color.dtype) == decoded.color_scale
    if native and color.shape[2] == 3 and color.flags.c_contiguous:
        rgb = color  # the decoder's own array: no copy
    elif native:
        rgb = np.empty((*color.shape[:2], 3), dtype=color.dtype)
        rgb[...] = color  # grey broadcasts to 3 channels
    else:
        rgb = np.empty((*color.shape[:2], 3), dtype=np.float32)
        np.divide(color, decoded.color_scale, out=rgb, dtype=np.float32)  # grey broadcasts too
    if decoded.color.dtype.kind == "f":
        np.nan_to_num(rgb, copy=False, nan=0.0)
        np.clip(rgb, 0.0, 1.0, out=rgb)
    if decoded.alpha is None:
        return rgb, None
    upright_alpha = _orient(decoded.alpha, orientation)
    alpha = np.empty(upright_alpha.shape, dtype=np.float32)
    np.divide(upright_alpha, decoded.alpha_scale, out=alpha, dtype=np.float32)
    return rgb, alpha
