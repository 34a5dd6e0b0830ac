"""What image I/O reports: the error types, ``ImageInfo`` (what a file held) and ``LoadedImage``.

Every error is an ``ImageError`` whose message is user-facing and names the file (``.path`` holds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest width x height accepted by default (a 16k x 12k panorama fits; bombs do not)."""

READ_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
WRITE_SUFFIXES: frozenset[str] = frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"})


class ImageError(Exception):
    """Base of every image I/O error; the message is user-facing and names the file."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnreadableImageError(ImageError):
    """The file is missing, empty, truncated, damaged, not an image, or in an unsupported layout."""


class ImageTooLargeError(ImageError):
    """The header announces more pixels than the configured limit (a possible decompression bomb)."""


class OutputExistsError(ImageError):
    """The output file exists and ``overwrite`` was not asked for; the existing file is untouched."""


class ImageWriteError(ImageError):
    """The output could not be written (folder missing or read-only, disk full, unsupported suffix)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the file held.

    ``width``/``height`` are after EXIF orientation (as displayed). ``bit_depth`` is the precision of
    the samples: 16 for 16-bit files, 32 for 32-bit TIFF, 8 otherwise (1/2/4-bit and palette images
    have 8-bit values once expanded). ``mode`` is Pillow's mode for the file (Pillow reports "RGB" or
    "RGBA" for 16-bit colour files, whose ``bit_depth`` is 16). ``exif`` holds an EXIF block in APP1
    form (``b"Exif\\0\\0"`` + TIFF structure), or None; for TIFF files it is rebuilt from the
    descriptive tags of the file's first directory. ``orientation`` is the EXIF value 1-8 (1 when
    absent or invalid). ``colour_chunks`` holds a PNG's gAMA, cHRM and sRGB chunks as (type,
    payload), carried to PNG outputs.
    """

    path: Path
    format: str
    width: int
    height: int
    bit_depth: int
    mode: str
    has_alpha: bool
    icc_profile: bytes | None
    exif: bytes | None
    orientation: int
    colour_chunks: tuple[tuple[bytes, bytes], ...] = ()

    def describe(self) -> str:
        """The size and layout in words, e.g. ``"360×360, 8-bit grey"``, ``"4000×3000, 16-bit RGB +
        alpha"`` (Pillow's mode letters translated; an unusual mode is shown as Pillow names it)."""
        base = self.mode.rstrip("A") if self.mode in ("LA", "RGBA", "PA") else self.mode
        words = _MODE_WORDS.get(base, base)
        alpha = " + alpha" if self.has_alpha else ""
        return f"{self.width}×{self.height}, {self.bit_depth}-bit {words}{alpha}"


_MODE_WORDS = {
    "L": "grey",
    "I;16": "grey",
    "I": "grey",
    "F": "grey",
    "1": "black and white",
    "P": "palette",
    "RGB": "RGB",
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "LAB": "Lab",
}


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels: ``rgb`` float32 (H, W, 3) C-contiguous in [0, 1] (uint8 / uint16 when read
    with ``native=True`` from 8- / 16-bit samples); ``alpha`` float32 (H, W) or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    info: ImageInfo


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
