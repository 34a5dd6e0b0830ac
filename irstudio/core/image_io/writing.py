"""Write RGB(A) pixels atomically, in the format named by the suffix: ``write_image``.

PNG and TIFF (8 or 16 bit, with alpha), JPEG (8 bit, alpha dropped), WebP, HEIC/HEIF and AVIF (8 bit,
with alpha). HEIC needs pillow-heif with an HEVC encoder, AVIF a Pillow built with an AV1 encoder:
without them the suffix is refused with a message naming what to install. Camera RAW suffixes are
always refused: a RAW file is never written (nor overwritten). The file goes through
``core.atomic.atomic_write``: a hidden temporary file in the destination folder, flushed to disk,
then published; without ``overwrite`` by a hard link that fails if the name exists (never clobbers a
file that appeared meanwhile), with ``overwrite`` by ``os.replace``. The temporary file is removed on
every failure. EXIF from ``source`` is carried with its orientation reset to 1 and its
pixel-dimension tags updated; an RGB ICC profile is carried, and a PNG source's gAMA/cHRM/sRGB chunks
are carried to a PNG output.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from irstudio.core.atomic import TargetExistsError, atomic_write
from irstudio.core.image_io import optional
from irstudio.core.image_io.encoders import _encode
from irstudio.core.image_io.info import (
    RAW_SUFFIXES,
    WRITE_SUFFIXES,
    ImageInfo,
    ImageWriteError,
    OutputExistsError,
    _reason,
)
from irstudio.core.image_io.metadata import _exif_for_output, _rgb_icc_profile
from irstudio.core.image_io.samples import to_depth

_log = logging.getLogger(__name__)

_FORMAT_FOR_SUFFIX = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".avif": "AVIF",
}
_SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
_ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP", "HEIF", "AVIF"})
_OPTIONAL_ENCODERS = {"HEIF": optional.heif_encoder_available, "AVIF": optional.avif_encoder_available}


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    source: ImageInfo | None = None,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
) -> Path:
    """Write RGB (H, W, 3) atomically, in the format named by the suffix; return the path written.

    ``rgb``: float32/float64 in [0, 1] (clipped, rounded half up), or uint8/uint16 taken as they are.
    ``alpha``: (H, W), same conventions; kept by PNG/TIFF/WebP/HEIC/AVIF, dropped by JPEG. Resize it with
    ``resize_alpha`` when the image changed size.
    ``source``: the ``ImageInfo`` of the input; its EXIF (orientation reset to 1) and RGB ICC profile
    are carried. ``bit_depth``: 8 or 16 (16 only for PNG/TIFF); None picks 16 for uint16 input or a
    source of 16 or more bits, when the format allows it, else 8. ``quality``: 1-100 for
    JPEG/WebP/HEIC/AVIF (4:4:4 chroma at 90 and above).
    Raises ``OutputExistsError`` (exists and not ``overwrite``; the file is untouched),
    ``ImageWriteError`` (I/O failure or unsupported suffix), ``ValueError`` (bad array or argument).
    """
    path = Path(path)
    rgb = np.asarray(rgb)
    fmt = _output_format(path)
    _refuse_existing(path, overwrite=overwrite)  # before any work; checked again when publishing
    depth = _output_bit_depth(fmt, rgb, bit_depth, source)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    pixels = _output_pixels(fmt, rgb, alpha, depth)
    icc = _rgb_icc_profile(source)
    exif = _exif_for_output(source, width=pixels.shape[1], height=pixels.shape[0])
    colour_chunks = _colour_chunks_for_output(fmt, source, icc)
    return _write_file(
        path,
        fmt,
        pixels,
        icc=icc,
        exif=exif,
        quality=quality,
        overwrite=overwrite,
        colour_chunks=colour_chunks,
    )


def _colour_chunks_for_output(
    fmt: str, source: ImageInfo | None, icc: bytes | None
) -> tuple[tuple[bytes, bytes], ...]:
    """The source PNG's gAMA/cHRM/sRGB for a PNG output; for other formats, which have no place for
    them, a warning when they said something an ICC profile does not (the samples are written as
    they are, so a viewer reads them with the format's default, sRGB)."""
    chunks = source.colour_chunks if source is not None else ()
    if fmt == "PNG" or not chunks:
        return chunks
    if source is not None and icc is None and not any(kind == b"sRGB" for kind, _ in chunks):
        _log.warning(
            "%s: the PNG's gamma/chromaticity chunks have no place in %s; samples written as they are",
            source.path,
            fmt,
        )
    return ()


def output_bit_depth(path: str | os.PathLike[str], source: ImageInfo | None = None) -> int:
    """8 or 16: the bit depth ``write_image(path, rgb, source=source)`` writes float ``rgb`` at
    (16 for PNG/TIFF from a source of 16 or more bits). Raises ``ImageWriteError`` for a suffix it
    cannot write."""
    return _output_bit_depth(_output_format(Path(path)), np.empty((0, 0, 3), np.float32), None, source)


def _output_format(path: Path) -> str:
    """The format a suffix names; refuses RAW suffixes, unknown ones, and HEIC/AVIF without their
    encoder (the message names what to install)."""
    suffix = path.suffix.lower()
    fmt = _FORMAT_FOR_SUFFIX.get(suffix)
    allowed = ", ".join(sorted(WRITE_SUFFIXES))
    if suffix in RAW_SUFFIXES:
        raise ImageWriteError(
            f"{path}: camera RAW files are never written; save as another format ({allowed})", path=path
        )
    if fmt is None:
        raise ImageWriteError(f"{path}: cannot write '{path.suffix}' files (use {allowed})", path=path)
    if fmt in _OPTIONAL_ENCODERS and not _OPTIONAL_ENCODERS[fmt]():
        raise ImageWriteError(
            f"{path}: cannot write '{path.suffix}' files here: {optional.MISSING[fmt]}", path=path
        )
    return fmt


def _output_bit_depth(fmt: str, rgb: np.ndarray, bit_depth: int | None, source: ImageInfo | None) -> int:
    if bit_depth is not None:
        if bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
        if bit_depth == 16 and fmt not in _SIXTEEN_BIT_FORMATS:
            raise ValueError(f"{fmt} supports 8-bit samples only")
        return bit_depth
    if fmt not in _SIXTEEN_BIT_FORMATS:
        return 8
    if rgb.dtype == np.uint16:
        return 16
    if rgb.dtype == np.uint8:
        return 8
    return 16 if source is not None and source.bit_depth >= 16 else 8


def _output_pixels(fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, depth: int) -> np.ndarray:
    """(H, W, 3) or (H, W, 4) uint8/uint16, C-contiguous, ready for an encoder.

    The channels are RGB(A), except for PNG, whose encoder (OpenCV) takes BGR(A): quantizing
    straight into that order saves a full-size copy.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    color = to_depth(rgb[..., ::-1] if fmt == "PNG" else rgb, depth)
    if alpha is None or fmt not in _ALPHA_FORMATS:
        return np.ascontiguousarray(color)
    if alpha.shape != rgb.shape[:2]:
        raise ValueError(
            f"alpha shape {alpha.shape} does not match the image {rgb.shape[:2]} (use resize_alpha)"
        )
    return np.dstack((color, to_depth(alpha, depth)))


def _refuse_existing(path: Path, *, overwrite: bool) -> None:
    if path.is_dir():
        raise ImageWriteError(f"{path}: is a folder", path=path)
    if not overwrite and os.path.lexists(path):
        raise _exists(path)


def _exists(path: Path) -> OutputExistsError:
    return OutputExistsError(f"{path}: already exists (not overwritten)", path=path)


def _write_file(
    path: Path,
    fmt: str,
    pixels: np.ndarray,
    *,
    icc: bytes | None,
    exif: bytes | None,
    quality: int,
    overwrite: bool,
    colour_chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> Path:
    """Encode ``pixels`` into ``path`` through an atomic write; I/O errors become ``ImageWriteError``."""
    try:
        with atomic_write(path, overwrite=overwrite) as temp, open(temp, "wb") as fp:
            _encode(fp, fmt, pixels, icc=icc, exif=exif, quality=quality, colour_chunks=colour_chunks)
    except TargetExistsError as exc:
        raise _exists(path) from exc
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write the file ({_reason(exc)})", path=path) from exc
    return path
