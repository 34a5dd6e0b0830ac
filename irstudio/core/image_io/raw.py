"""Camera RAW files through ``rawpy`` (LibRaw): found by content, developed to 16-bit RGB, never written.

Identification (``header`` asks here): RAF (``FUJIFILMCCD-RAW``), RW2 (``IIU\\0``), ORF (``IIRO``,
``IIRS``, ``MMOR``), CRW (``HEAPCCDR`` at byte 6), X3F (``FOVb``) and MRW (``\\0MRM``) by their
signature, CR3 by its ISO-BMFF brand ``crx `` (``header``). A TIFF is a RAW when it is a CR2 (``CR\\2``
at byte 8), has a DNGVersion tag, or has a colour-filter-array or linear-raw directory (IFD0 or one
of its SubIFDs: NEF, ARW, PEF, ...); a file with a RAW suffix (``RAW_SUFFIXES``) whose content is a
TIFF or no format known here is also a RAW (LibRaw then decides). A RAW is never read by the TIFF
reader, which would show its embedded preview.

``opened_raw`` opens the file with LibRaw (``open_file`` parses the header; nothing is unpacked),
builds ``ImageInfo`` and checks the pixel limit on both the developed size and the sensor's raw
size; ``develop_raw`` then unpacks and develops it (``raw_output``):

- ``"srgb"`` (the default): the camera's as-shot white balance, LibRaw's AHD demosaicing, sRGB
  primaries (D65), the sRGB transfer curve (``gamma=(2.4, 12.92)``), 16-bit samples, and no automatic
  brightening: the sensor's white level (LibRaw's, lowered to the brightest recorded value when that
  is above 75% of it) is white and the exposure is as shot, so highlights clip only where the sensor
  clipped. Photos can look a little darker than the camera's own JPEG, which adds an exposure boost
  and a tone curve; LibRaw's auto-brightening (scaling until 1% of the pixels clip) is not used
  because it clips highlights and brightens by an amount that depends on the picture.
- ``"linear"``: the same with a linear curve (``gamma=(1, 1)``): scene-linear values in sRGB
  primaries, darker in the mid-tones, for processing. A file written from them has no profile that
  says so (viewers show it as sRGB, i.e. too dark).

LibRaw applies the file's orientation while developing, so ``ImageInfo`` reports the displayed size
and orientation 1. For TIFF-structured RAWs (DNG, CR2, NEF, ARW, RW2, ORF, ...) the EXIF block is
made of IFD0's descriptive tags and its EXIF/GPS directories (orientation set to 1), and the camera's
make and model name the format: ``"RAW (Canon EOS R5)"``; a RAF file gives the model in its header;
otherwise the format is ``"RAW"``. There is no ICC profile (the samples are sRGB by construction).
A monochrome sensor gives grey samples (mode "I;16").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from irstudio.core.image_io import optional
from irstudio.core.image_io.info import (
    RAW_SUFFIXES,
    ImageInfo,
    ImageTooLargeError,
    MissingCodecError,
    UnreadableImageError,
    _check_size,
)
from irstudio.core.image_io.metadata import _ORIENTATION, _exif_from_tiff_tags
from irstudio.core.image_io.samples import DecodedSamples

_log = logging.getLogger(__name__)

RAW_OUTPUTS = ("srgb", "linear")
"""The ways ``read_image(raw_output=...)`` develops a RAW file (see the module docstring)."""

_GAMMA = {"srgb": (2.4, 12.92), "linear": (1.0, 1.0)}
_SIGNATURES = (b"FUJIFILMCCD-RAW", b"IIU\x00", b"IIRO", b"IIRS", b"MMOR", b"FOVb", b"\x00MRM")
_TIFF_MAGIC = {b"II*\x00": "<", b"MM\x00*": ">"}
# RW2 and ORF are TIFF structures under their own magic number: read as the TIFF they are.
_TIFF_LIKE = {b"IIU\x00": b"II*\x00", b"IIRO": b"II*\x00", b"IIRS": b"II*\x00", b"MMOR": b"MM\x00*"}
_PHOTOMETRIC, _SUB_IFDS, _DNG_VERSION, _UNIQUE_CAMERA_MODEL = 262, 330, 50706, 50708
_RAW_PHOTOMETRIC = frozenset({32803, 34892})  # colour filter array, linear raw
_MAX_ENTRIES, _MAX_SUB_IFDS = 4096, 16


# --------------------------------------------------------------------------------------------------
# Identification


def has_raw_signature(prefix: bytes) -> bool:
    """True for the RAW formats that announce themselves in their first bytes (not TIFF, not CR3)."""
    return prefix.startswith(_SIGNATURES) or prefix[6:14] == b"HEAPCCDR"


def is_raw_suffix(path: Path) -> bool:
    return path.suffix.lower() in RAW_SUFFIXES


def tiff_is_raw(fp: BinaryIO) -> bool:
    """True for a TIFF that is a camera RAW: a CR2, a DNG, or a colour-filter-array or linear-raw
    directory in IFD0 or its SubIFDs. Unreadable structures count as not RAW (the TIFF reader then
    reports them)."""
    try:
        fp.seek(0)
        head = fp.read(16)
        order = _TIFF_MAGIC.get(head[:4])
        if order is None:
            return False
        if head[8:11] == b"CR\x02":
            return True
        entries = _ifd_entries(fp, order, struct.unpack(order + "I", head[4:8])[0])
        if _DNG_VERSION in entries or _value(order, entries.get(_PHOTOMETRIC)) in _RAW_PHOTOMETRIC:
            return True
        for offset in _sub_ifd_offsets(fp, order, entries.get(_SUB_IFDS)):
            if _value(order, _ifd_entries(fp, order, offset).get(_PHOTOMETRIC)) in _RAW_PHOTOMETRIC:
                return True
    except (OSError, struct.error, ValueError):
        return False
    return False


def _ifd_entries(fp: BinaryIO, order: str, offset: int) -> dict[int, tuple[int, int, bytes]]:
    """A classic TIFF directory's entries: tag -> (type, count, the 4-byte value or offset field)."""
    fp.seek(offset)
    (count,) = struct.unpack(order + "H", fp.read(2))
    if count > _MAX_ENTRIES:
        raise ValueError("implausible directory")
    data = fp.read(12 * count)
    if len(data) < 12 * count:
        raise ValueError("truncated directory")
    entries = {}
    for index in range(count):
        tag, kind, number = struct.unpack_from(order + "HHI", data, 12 * index)
        entries[tag] = (kind, number, data[12 * index + 8 : 12 * index + 12])
    return entries


def _value(order: str, entry: tuple[int, int, bytes] | None) -> int | None:
    """The single SHORT or LONG value of an entry, or None."""
    if entry is None or entry[1] != 1:
        return None
    kind, _, field = entry
    if kind == 3:
        short: int = struct.unpack(order + "H", field[:2])[0]
        return short
    if kind in (4, 13):
        long: int = struct.unpack(order + "I", field)[0]
        return long
    return None


def _sub_ifd_offsets(fp: BinaryIO, order: str, entry: tuple[int, int, bytes] | None) -> list[int]:
    if entry is None or entry[0] not in (4, 13) or not 1 <= entry[1] <= _MAX_SUB_IFDS:
        return []
    _, number, field = entry
    if number == 1:
        return [struct.unpack(order + "I", field)[0]]
    fp.seek(struct.unpack(order + "I", field)[0])
    return list(struct.unpack(f"{order}{number}I", fp.read(4 * number)))


# --------------------------------------------------------------------------------------------------
# Metadata


class _Remagicked:
    """A binary file whose first four bytes read as ``magic``: RW2 and ORF as the TIFF they are."""

    def __init__(self, fp: BinaryIO, magic: bytes) -> None:
        self._fp, self._magic = fp, magic

    def read(self, size: int = -1) -> bytes:
        start = self._fp.tell()
        data = self._fp.read(size)
        if start < 4 and data:
            count = min(4 - start, len(data))
            data = self._magic[start : start + count] + data[count:]
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fp.seek(offset, whence)

    def tell(self) -> int:
        return self._fp.tell()


def _metadata(fp: BinaryIO, path: Path) -> tuple[bytes | None, str | None]:
    """(EXIF block with orientation 1, camera name) from a TIFF-structured RAW or a RAF header."""
    fp.seek(0)
    head = fp.read(60)
    if head.startswith(b"FUJIFILMCCD-RAW"):
        model = _text(head[28:60])
        return None, f"FUJIFILM {model}" if model else None
    magic = head[:4] if head[:4] in _TIFF_MAGIC else _TIFF_LIKE.get(head[:4])
    if magic is None:
        return None, None
    try:
        fp.seek(0)
        tags = Image.Exif()
        tags.load_from_fp(_Remagicked(fp, magic))  # type: ignore[arg-type]  # Pillow's stub wants IO[bytes]; it calls only read, seek, tell
        camera = _camera_name(tags)
        exif = _exif_from_tiff_tags(tags)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return (exif.tobytes() if len(exif) else None), camera
    except Exception:  # Pillow's tag parser rejects some maker layouts: the pixels still load
        _log.warning("ignoring unreadable EXIF tags in %s", path)
        return None, None


def _text(value: object) -> str:
    """A tag's text up to its first NUL, printable characters only, at most 64 of them."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value or "").split("\x00", 1)[0]
    return "".join(char for char in text if char.isprintable())[:64].strip()


def _camera_name(tags: Image.Exif) -> str | None:
    """ "Canon EOS R5" from make "Canon" and model "Canon EOS R5"; DNG's UniqueCameraModel otherwise."""
    make, model = _text(tags.get(271)), _text(tags.get(272))
    if make and model and model.lower().startswith(make.split()[0].lower()):
        name = model
    else:
        name = " ".join(part for part in (make, model) if part)
    return name or _text(tags.get(_UNIQUE_CAMERA_MODEL)) or None


# --------------------------------------------------------------------------------------------------
# Opening and developing


def _require_rawpy(path: Path) -> Any:
    module = optional.rawpy()
    if module is None:
        raise MissingCodecError(f"{path}: {optional.MISSING['RAW']}", path=path, package=optional.RAW_PACKAGE)
    return module


@contextlib.contextmanager
def opened_raw(fp: BinaryIO, path: Path, max_pixels: int | None) -> Iterator[tuple[Any, ImageInfo]]:
    """Open a RAW file with LibRaw (header only), check the pixel limit; yield (``RawPy``, info).

    Raises ``MissingCodecError`` (rawpy is not installed), ``UnreadableImageError`` (LibRaw cannot
    read it) or ``ImageTooLargeError``. LibRaw's memory is released when the block exits.
    """
    rawpy = _require_rawpy(path)
    raw = rawpy.RawPy()
    try:
        _open(raw, fp, path, rawpy)
        sizes = raw.sizes
        width, height = _developed_size(sizes)
        _check_size(path, (width, height), max_pixels)
        _check_size(path, (int(sizes.raw_width), int(sizes.raw_height)), max_pixels)
        exif, camera = _metadata(fp, path)
        info = ImageInfo(
            path=path,
            format=f"RAW ({camera})" if camera else "RAW",
            width=width,
            height=height,
            bit_depth=16,
            mode="RGB",
            has_alpha=False,
            icc_profile=None,
            exif=exif,
            orientation=1,
        )
        yield raw, info
    finally:
        raw.close()


def _open(raw: Any, fp: BinaryIO, path: Path, rawpy: Any) -> None:
    try:
        try:
            raw.open_file(str(path))
        except UnicodeError:  # a file name that is not valid UTF-8: hand LibRaw the bytes instead
            fp.seek(0)
            raw.open_buffer(fp)
    except (rawpy.LibRawError, OSError, RuntimeError, ValueError) as exc:
        raise _libraw_error(exc, path, rawpy, f"{path}: not a camera RAW file LibRaw can read") from exc
    if raw.sizes.width < 1 or raw.sizes.height < 1:
        raise UnreadableImageError(f"{path}: the RAW file has no image", path=path)


def _developed_size(sizes: Any) -> tuple[int, int]:
    """Width and height LibRaw develops to: the visible area, stretched to square pixels, turned."""
    width, height = int(sizes.width), int(sizes.height)
    aspect = float(sizes.pixel_aspect or 1.0)
    if aspect < 1.0:
        height = int(height / aspect + 0.5)
    elif aspect > 1.0:
        width = int(width * aspect + 0.5)
    return (height, width) if int(sizes.flip) & 4 else (width, height)


def _libraw_error(exc: BaseException, path: Path, rawpy: Any, what: str) -> Exception:
    if isinstance(exc, getattr(rawpy, "LibRawUnsufficientMemoryError", ())):
        return MemoryError(f"{path}: not enough memory to develop the RAW file")
    if isinstance(exc, getattr(rawpy, "LibRawTooBigError", ())):
        return ImageTooLargeError(f"{path}: the RAW image is larger than LibRaw's limit ({exc})", path=path)
    return UnreadableImageError(f"{what} ({exc or type(exc).__name__})", path=path)


def develop_raw(raw: Any, info: ImageInfo, raw_output: str) -> tuple[DecodedSamples, ImageInfo]:
    """Unpack and develop an opened RAW file as ``raw_output`` says (see the module docstring) into
    upright 16-bit RGB; ``info`` comes back with the size LibRaw produced.

    Raises ``UnreadableImageError`` (damaged or truncated data) or ``MemoryError``.
    """
    rawpy = _require_rawpy(info.path)
    try:
        raw.unpack()
        rgb = raw.postprocess(
            use_camera_wb=True,
            output_color=rawpy.ColorSpace.sRGB,
            output_bps=16,
            no_auto_bright=True,
            gamma=_GAMMA[raw_output],
        )
    except (rawpy.LibRawError, OSError, RuntimeError, ValueError) as exc:
        what = f"{info.path}: the RAW data is damaged or truncated"
        raise _libraw_error(exc, info.path, rawpy, what) from exc
    samples = np.asarray(rgb)
    if samples.ndim != 3 or samples.shape[2] not in (1, 3) or samples.dtype != np.uint16:
        raise UnreadableImageError(f"{info.path}: LibRaw gave an unexpected image layout", path=info.path)
    height, width, channels = samples.shape
    mode = "RGB" if channels == 3 else "I;16"  # a monochrome sensor gives grey
    if (width, height, mode) != (info.width, info.height, info.mode):
        info = dataclasses.replace(info, width=width, height=height, mode=mode)
    return DecodedSamples(samples, 65535.0, None, 1.0), info
