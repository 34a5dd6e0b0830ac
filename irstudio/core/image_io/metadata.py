"""EXIF and ICC metadata, both ways: read from a parsed header, carried to a written file.

EXIF is held in APP1 form (``b"Exif\\0\\0"`` + TIFF structure). For TIFF files it is made of the
descriptive tags of the first directory and its EXIF/GPS sub-directories (never the structural tags),
and put back the same way. Written EXIF has orientation 1 (the pixels are already upright) and the
written pixel size; an ICC profile is carried only when it describes RGB data.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import MutableMapping

from PIL import Image, TiffImagePlugin

from irstudio.core.image_io.info import ImageInfo

_log = logging.getLogger(__name__)

_EXIF_PREFIX = b"Exif\x00\x00"
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_PIXEL_X_DIMENSION, _PIXEL_Y_DIMENSION = 0xA002, 0xA003
_ORIENTATION = 0x0112
# Descriptive IFD0 tags moved between a TIFF's own directory and EXIF (structural tags never are).
_TIFF_EXIF_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)


def _read_exif(im: Image.Image) -> tuple[bytes | None, int]:
    """The EXIF block (APP1 form) and the orientation 1-8; header-time data only (not for TIFF,
    whose tags ``tiff.tiff_header`` reads)."""
    raw = _normalized_exif(im.info.get("exif"))
    exif = Image.Exif()
    if raw is not None:
        try:
            exif.load(raw)
        except Exception:  # damaged EXIF: keep the bytes, ignore the orientation
            _log.warning("ignoring unreadable EXIF data in %s", getattr(im, "filename", "?"))
            return raw, 1
    return raw, _valid_orientation(exif.get(_ORIENTATION, 1))


def _normalized_exif(raw: bytes | None) -> bytes | None:
    """EXIF bytes as ``b"Exif\\0\\0"`` + TIFF structure (WebP and some PNG writers omit the prefix)."""
    if not raw:
        return None
    raw = bytes(raw)
    return raw if raw.startswith(_EXIF_PREFIX) else _EXIF_PREFIX + raw


def _exif_from_tiff_tags(tiff: Image.Exif) -> Image.Exif:
    """EXIF made of a TIFF directory's descriptive tags and its EXIF/GPS sub-directories (no
    structural tags). Raises what Pillow's tag parser raises on a damaged directory."""
    clean = Image.Exif()
    _copy_descriptive_tags(tiff, clean)
    return clean


def _copy_descriptive_tags(source: Image.Exif, target: MutableMapping[int, object]) -> None:
    """Copy ``source``'s descriptive IFD0 tags and its EXIF/GPS sub-directories (not the interop
    pointer) into ``target`` (an ``Image.Exif`` or a TIFF directory)."""
    for tag in _TIFF_EXIF_TAGS:
        if tag in source:
            target[tag] = source[tag]
    for pointer in (_EXIF_IFD, _GPS_IFD):
        sub = {k: v for k, v in source.get_ifd(pointer).items() if k != _INTEROP_IFD}
        if sub:
            target[pointer] = sub


def _upright_exif(raw: bytes | None) -> bytes | None:
    """EXIF (APP1 form) whose IFD0 orientation says 1, for a decoder that turned the pixels itself.

    The orientation value is patched in place, so nothing else in the block changes; EXIF without an
    orientation, or that cannot be parsed, is returned as it is.
    """
    if not raw:
        return raw
    base = len(_EXIF_PREFIX) if raw.startswith(_EXIF_PREFIX) else 0
    order = {b"II": "<", b"MM": ">"}.get(raw[base : base + 2])
    if order is None:
        return raw
    try:
        (ifd,) = struct.unpack_from(order + "I", raw, base + 4)
        (count,) = struct.unpack_from(order + "H", raw, base + ifd)
        for index in range(count):
            entry = base + ifd + 2 + 12 * index
            tag, kind, number = struct.unpack_from(order + "HHI", raw, entry)
            if tag == _ORIENTATION and number == 1 and kind in (3, 4):  # SHORT or LONG
                patched = bytearray(raw)
                struct.pack_into(order + ("H" if kind == 3 else "I"), patched, entry + 8, 1)
                return bytes(patched)
    except struct.error:  # a directory running past the block: leave it alone
        return raw
    return raw


def _valid_orientation(value: object) -> int:
    try:
        orientation = int(value)  # type: ignore[call-overload]  # any tag value: int() raises, caught below
    except (TypeError, ValueError):
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _rgb_icc_profile(source: ImageInfo | None) -> bytes | None:
    """The source's ICC profile when it describes RGB data (colour space signature 'RGB ')."""
    icc = source.icc_profile if source is not None else None
    if icc and len(icc) >= 20 and icc[16:20] == b"RGB ":
        return icc
    return None


def _exif_for_output(source: ImageInfo | None, *, width: int, height: int) -> bytes | None:
    """The source's EXIF with orientation 1 and the written pixel size; None if absent or unreadable."""
    if source is None or not source.exif:
        return None
    exif = Image.Exif()
    try:
        exif.load(source.exif)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        sub = exif.get_ifd(_EXIF_IFD)
        if _PIXEL_X_DIMENSION in sub:
            sub[_PIXEL_X_DIMENSION] = width
        if _PIXEL_Y_DIMENSION in sub:
            sub[_PIXEL_Y_DIMENSION] = height
        return exif.tobytes()
    except Exception:
        _log.warning("EXIF of %s could not be re-encoded; writing without it", source.path)
        return None


def _merge_exif_into_tiff(ifd: TiffImagePlugin.ImageFileDirectory_v2, exif_bytes: bytes) -> None:
    """Put EXIF's descriptive IFD0 tags and its EXIF/GPS sub-directories into a TIFF directory."""
    exif = Image.Exif()
    exif.load(exif_bytes)
    _copy_descriptive_tags(exif, ifd)
