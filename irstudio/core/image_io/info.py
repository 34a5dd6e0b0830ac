"""What image I/O reports: the error types, ``ImageInfo`` (what a file held) and ``LoadedImage``.

Every error is an ``ImageError`` whose message is user-facing and names the file (``.path`` holds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irstudio.core.image_io import optional

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest width x height accepted by default (a 16k x 12k panorama fits; bombs do not)."""

HEIF_SUFFIXES: frozenset[str] = frozenset({".heic", ".heif", ".hif"})
AVIF_SUFFIXES: frozenset[str] = frozenset({".avif"})
RAW_SUFFIXES: frozenset[str] = frozenset(
    {
        ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
        ".rwl", ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".mos", ".mef", ".mrw", ".erf", ".kdc",
        ".dcr",
    }
)  # fmt: skip
"""Camera RAW files (LibRaw's formats): read through rawpy, never written."""

READ_SUFFIXES: frozenset[str] = (
    frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
    | HEIF_SUFFIXES
    | AVIF_SUFFIXES
    | RAW_SUFFIXES
)
"""Every suffix ``read_image`` may read (lower case, with the dot), optional formats included: a file
whose package is missing is refused with a message naming it (``MissingCodecError``)."""

WRITE_SUFFIXES: frozenset[str] = (
    frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"})
    | (frozenset({".heic", ".heif"}) if optional.heif_encoder_available() else frozenset())
    | (AVIF_SUFFIXES if optional.avif_encoder_available() else frozenset())
)
"""The suffixes ``write_image`` writes: HEIC/HEIF and AVIF only where their encoder was found at import."""


class ImageError(Exception):
    """Base of every image I/O error; the message is user-facing and names the file."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnreadableImageError(ImageError):
    """The file is missing, empty, truncated, damaged, not an image, or in an unsupported layout."""


class MissingCodecError(UnreadableImageError):
    """The file's format needs an optional package that is not installed; the message says which
    and how to install it, ``package`` names it."""

    def __init__(self, message: str, *, path: Path | None = None, package: str) -> None:
        super().__init__(message, path=path)
        self.package = package


class ImageTooLargeError(ImageError):
    """The header announces more pixels than the configured limit (a possible decompression bomb)."""


class OutputExistsError(ImageError):
    """The output file exists and ``overwrite`` was not asked for; the existing file is untouched."""


class ImageWriteError(ImageError):
    """The output could not be written (folder missing or read-only, disk full, unsupported suffix)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the file held.

    ``format`` is "PNG", "JPEG", "TIFF", "BMP", "WEBP", "HEIF", "AVIF", or "RAW (<camera>)" for a
    camera RAW file ("RAW" when the camera is not named). ``width``/``height`` are after orientation
    (as displayed). ``bit_depth`` is the precision of the samples: 16 for 16-bit files (and 10/12-bit
    HEIF, 9-16-bit TIFF, camera RAW, all read as 16-bit samples), 32 for 32-bit TIFF, 8 otherwise
    (1/2/4-bit and palette images have 8-bit values once expanded). ``mode`` is Pillow's mode for the
    file (Pillow reports "RGB" or "RGBA" for 16-bit colour files, whose ``bit_depth`` is 16).
    ``exif`` holds an EXIF block in APP1 form (``b"Exif\\0\\0"`` + TIFF structure), or None; for
    TIFF and TIFF-based RAW files it is rebuilt from the descriptive tags of the file's first
    directory. ``orientation`` is the turn ``read_image`` applies, as an EXIF value 1-8 (1 when absent
    or invalid; always 1 for HEIF and RAW, whose decoders turn the pixels themselves, and whose
    ``exif`` then says 1 too). ``colour_chunks`` holds a PNG's gAMA, cHRM and sRGB chunks as (type,
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


def _check_size(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    """Raise ``ImageTooLargeError`` when width x height exceeds ``max_pixels`` (None: no limit)."""
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} pixels ({width * height:,}) exceeds the limit of "
            f"{max_pixels:,} pixels",
            path=path,
        )
