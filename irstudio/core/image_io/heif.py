"""HEIC/HEIF through ``pillow_heif`` (libheif): the primary image, 8 bits, or 10/12 bits kept as 16.

``opened_heif`` parses the container (no pixel is decoded) into ``ImageInfo`` and checks the pixel
limit; ``decode_heif`` then decodes the primary image of the file (a burst or a collection gives its
primary image; thumbnails, depth and auxiliary images are ignored).

- Samples: 8-bit files give uint8; 10- and 12-bit files (``convert_hdr_to_8bit=False``) give their
  stored values widened to 16 bits by bit replication (``v << 6 | v >> 4`` for 10 bits), exact at
  black and white, so ``value / 65535`` is the stored ``value / 1023`` within half a 16-bit step. HDR
  transfer curves (PQ, HLG) are not tone-mapped: the samples are kept as stored.
- Orientation: libheif applies the container's ``irot``/``imir`` transforms while decoding (the HEIF
  standard's orientation; an EXIF orientation in a HEIF file is informative only, and is ignored by
  libheif, pillow-heif and browsers alike). The pixels therefore come upright, ``ImageInfo`` reports
  the displayed size and orientation 1, and the EXIF kept has its orientation set to 1.
- Alpha is kept (a premultiplied alpha plane is turned straight); grey files give grey samples.
- The ICC profile (``prof``/``rICC``) is recorded; an nclx colour description is not (the samples
  are used as they are, as for a file without a profile).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from irstudio.core.image_io import optional
from irstudio.core.image_io.info import ImageInfo, MissingCodecError, UnreadableImageError
from irstudio.core.image_io.metadata import _normalized_exif, _upright_exif
from irstudio.core.image_io.samples import DecodedSamples
from irstudio.core.image_io.tiff import _unpremultiplied

_ICC_KINDS = frozenset({"prof", "rICC"})


def _require_pillow_heif(path: Path) -> Any:
    module = optional.pillow_heif()
    if module is None:
        raise MissingCodecError(
            f"{path}: {optional.MISSING['HEIF']}", path=path, package=optional.HEIF_PACKAGE
        )
    return module


@contextlib.contextmanager
def opened_heif(fp: BinaryIO, path: Path) -> Iterator[tuple[Any, ImageInfo]]:
    """Parse a HEIF container (no pixel is decoded); yield (primary ``HeifImage``, info).

    The caller checks the pixel limit from ``info`` before calling ``decode_heif``. Raises
    ``MissingCodecError`` (pillow-heif is not installed) or ``UnreadableImageError`` (damaged).
    """
    pillow_heif = _require_pillow_heif(path)
    try:
        heif_file = pillow_heif.open_heif(fp, convert_hdr_to_8bit=False, hdr_to_16bit=False)
        image = heif_file[heif_file.primary_index]
        info = _describe(image, path)
    except MemoryError:
        raise
    except Exception as exc:  # libheif reports a damaged header as ValueError, RuntimeError, ...
        raise UnreadableImageError(
            f"{path}: not a readable HEIF image (damaged or truncated header: {exc})", path=path
        ) from exc
    yield image, info


def _layout(image: Any) -> tuple[int, int, bool]:
    """(channels, bits per sample, premultiplied alpha) from pillow-heif's mode, e.g. "RGBA;10"."""
    base, _, bits = image.mode.partition(";")
    channels = {"L": 1, "I": 1, "LA": 2, "La": 2, "RGB": 3, "RGBA": 4, "RGBa": 4}.get(base)
    if channels is None:
        raise ValueError(f"unexpected pixel layout {image.mode}")
    depth = int(bits.rstrip("LB")) if bits else 8
    if not 8 <= depth <= 16:
        raise ValueError(f"unexpected sample size of {depth} bits")
    return channels, depth, base.endswith("a")


def _describe(image: Any, path: Path) -> ImageInfo:
    channels, depth, _ = _layout(image)
    width, height = (int(side) for side in image.size)
    if width < 1 or height < 1:
        raise ValueError(f"the image has no pixels ({width}x{height})")
    sixteen = depth > 8
    icc = image.info.get("icc_profile") if image.info.get("icc_profile_type") in _ICC_KINDS else None
    return ImageInfo(
        path=path,
        format="HEIF",
        width=width,
        height=height,
        bit_depth=16 if sixteen else 8,
        mode={1: "I;16" if sixteen else "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels],
        has_alpha=channels in (2, 4),
        icc_profile=bytes(icc) if icc else None,
        exif=_upright_exif(_normalized_exif(image.info.get("exif"))),
        orientation=1,
    )


def decode_heif(image: Any, info: ImageInfo) -> DecodedSamples:
    """Decode the primary image into upright samples (see the module docstring).

    Raises ``UnreadableImageError`` when the coded data is damaged or truncated.
    """
    path = info.path
    try:
        channels, depth, premultiplied = _layout(image)
        samples = np.asarray(image)
    except MemoryError:
        raise
    except Exception as exc:  # libheif's decoding errors come as ValueError, RuntimeError, ...
        raise UnreadableImageError(
            f"{path}: the HEIF data is damaged or truncated ({exc})", path=path
        ) from exc
    if samples.ndim == 2:
        samples = samples[..., None]
    if samples.shape != (info.height, info.width, channels):
        raise UnreadableImageError(f"{path}: the HEIF decoder gave an unexpected image size", path=path)
    if 8 < depth < 16:
        samples = _widened(samples, depth)
    scale = 255.0 if depth == 8 else 65535.0
    colour_count = 1 if channels <= 2 else 3
    colour = samples[..., :colour_count]
    alpha = samples[..., colour_count] if channels in (2, 4) else None
    if alpha is not None and premultiplied:
        return DecodedSamples(_unpremultiplied(colour, scale, alpha, scale), 1.0, alpha, scale)
    return DecodedSamples(colour, scale, alpha, scale)


def _widened(samples: np.ndarray, depth: int) -> np.ndarray:
    """``depth``-bit values (9-15) as 16-bit ones by bit replication: 0 stays 0, the maximum becomes 65535."""
    values = np.minimum(samples, (1 << depth) - 1).astype(np.uint16, copy=False)  # a new array
    widened: np.ndarray = np.left_shift(values, 16 - depth)
    np.right_shift(values, 2 * depth - 16, out=values)
    widened |= values
    return widened
