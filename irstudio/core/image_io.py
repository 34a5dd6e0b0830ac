"""Read and write photos faithfully: float32 RGB in [0, 1] plus a record of what the file held.

Reading (``read_image``)
    PNG, JPEG, TIFF, BMP and WebP, identified by their content (not the suffix). The result is
    ``LoadedImage(rgb, alpha, info)``: ``rgb`` is float32, shape (H, W, 3), C-contiguous, values in
    [0, 1], already turned upright by the EXIF orientation (all eight values); ``alpha`` is float32
    (H, W) in [0, 1] or None; ``info`` (``ImageInfo``) records format, size after orientation, bit
    depth, Pillow mode, ICC profile, EXIF bytes and orientation. Grey, grey+alpha, palette (with its
    transparency), CMYK (plain inversion, no colour management) and 16-bit files all become RGB;
    16-bit samples keep full precision (value / 65535). Multi-frame files give their first frame.

    Pillow parses the header and the metadata; it decodes the pixels except for 16-bit files with
    colour or alpha, which Pillow truncates to 8 bits: those are decoded by OpenCV
    (IMREAD_UNCHANGED, BGR(A) turned into RGB(A)). Either way the pixels are decoded once, and the
    decoder's memory is released before the float32 copy is made. The orientation is applied here,
    as a view folded into that copy; two decoders apply a TIFF's orientation tag themselves, so
    Pillow's doing so is detected (it drops the tag) and OpenCV gets the bytes with the tag set to 1.

Safety
    Empty, truncated, damaged and non-image files raise ``UnreadableImageError``. The pixel count is
    checked from the header, before any pixel is decoded, against ``max_pixels`` (``ImageTooLargeError``).
    Pillow's own decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is not the one that applies:
    the files are parsed with the format plugins directly (which skip Pillow's check), and where Pillow
    checks again while decoding (TIFF) or while parsing (WebP) the global limit is raised, only when
    needed, to the size already approved here, under a lock, and put back right after. (A caller
    that sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` makes Pillow accept truncated
    JPEG/TIFF/BMP/WebP data; truncated PNGs are still refused by the IEND check.)

Writing (``write_image``)
    PNG and TIFF (8 or 16 bit, with alpha), JPEG (8 bit, alpha dropped) and WebP (8 bit, with alpha).
    The file is written to a hidden temporary file in the destination folder, flushed to disk, then
    published: without ``overwrite`` by a hard link that fails if the name exists (never clobbers a
    file that appeared meanwhile), with ``overwrite`` by ``os.replace``. The temporary file is removed
    on every failure. EXIF from ``source`` is carried with its orientation reset to 1 (the pixels are
    already upright) and its pixel-dimension tags updated; the ICC profile is carried when it
    describes RGB data (a grey or CMYK profile would not match the RGB pixels written).

Rounding
    Float to integer: clip to [0, 1], multiply by 255 (or 65535) in the input's float precision, round
    half up (``floor(v + 0.5)``, computed exactly). This is the papers' ``(x * 255).round()`` except on
    exact .5 ties, where NumPy/PyTorch round half to even.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import (
    BmpImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "ImageError",
    "ImageInfo",
    "ImageTooLargeError",
    "ImageWriteError",
    "LoadedImage",
    "OutputExistsError",
    "UnreadableImageError",
    "probe_image",
    "read_image",
    "resize_alpha",
    "to_uint8",
    "write_image",
]

_log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest width x height accepted by default (a 16k x 12k panorama fits; bombs do not)."""

READ_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
WRITE_SUFFIXES: frozenset[str] = frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"})

_FORMAT_FOR_SUFFIX = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
}
_SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
_ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP"})
_PILLOW_CLASSES: dict[str, type[Image.Image]] = {
    "PNG": PngImagePlugin.PngImageFile,
    # JpegImageFile, not Pillow's jpeg_factory: an MPO file is read as its primary JPEG image.
    "JPEG": JpegImagePlugin.JpegImageFile,
    "TIFF": TiffImagePlugin.TiffImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}
_GREY16_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_EXIF_PREFIX = b"Exif\x00\x00"
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_PIXEL_X_DIMENSION, _PIXEL_Y_DIMENSION = 0xA002, 0xA003
_ORIENTATION = 0x0112
# Descriptive IFD0 tags moved between a TIFF's own directory and EXIF (structural tags never are).
_TIFF_EXIF_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)
_PNG_COMPRESSION = 3  # zlib level: 6 took 2-4x longer for 3-5% smaller files
_PNG_IEND = b"IEND\xaeB`\x82"  # chunk type + its fixed CRC
_PNG_END_SEARCH = 1 << 16  # tolerate trailing bytes after IEND, up to this many
_TIFF_DEFLATE_LEVEL = 3
_TIFF_STRIP_BYTES = 1 << 20
_QUANTIZE_CHUNK_ELEMENTS = 1 << 22
_JPEG_MAX_EXIF = 65533
_TRUNCATED_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


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
    absent or invalid).
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


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels: ``rgb`` float32 (H, W, 3) C-contiguous in [0, 1]; ``alpha`` float32 (H, W) or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    info: ImageInfo


@dataclass(frozen=True)
class _Decoded:
    """Raw decoded samples before orientation: color (H, W, 1 or 3) and alpha (H, W), each with its scale."""

    color: np.ndarray
    color_scale: float
    alpha: np.ndarray | None
    alpha_scale: float
    upright: bool = False  # the decoder already applied the EXIF orientation


# --------------------------------------------------------------------------------------------------
# Pillow's global decompression-bomb limit, raised only while we decode an image we already approved.


class _PillowLimit:
    """Raises ``Image.MAX_IMAGE_PIXELS`` to at least N pixels for a block, thread-safely.

    Nested and concurrent uses keep the largest need; the original value is put back when the last
    block exits. Nothing changes when Pillow's limit already admits N (the common case).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: int | None = None

    @contextlib.contextmanager
    def at_least(self, pixels: int | None) -> Iterator[None]:
        raised = self._raise(pixels)
        try:
            yield
        finally:
            if raised:
                self._lower()

    def _raise(self, pixels: int | None) -> bool:
        with self._lock:
            base = self._saved if self._active else Image.MAX_IMAGE_PIXELS
            if base is None or (pixels is not None and pixels <= base):
                return False
            if not self._active:
                self._saved = Image.MAX_IMAGE_PIXELS
            self._active += 1
            current = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None if pixels is None or current is None else max(current, pixels)
            return True

    def _lower(self) -> None:
        with self._lock:
            self._active -= 1
            if not self._active:
                Image.MAX_IMAGE_PIXELS = self._saved
                self._saved = None


_PILLOW_LIMIT = _PillowLimit()


# --------------------------------------------------------------------------------------------------
# Reading


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read the header and metadata only (no pixel is decoded).

    Raises ``UnreadableImageError`` (missing, empty, not a supported image, damaged header) or
    ``ImageTooLargeError`` (width x height > ``max_pixels``; None means no limit).
    """
    with _opened(Path(path), max_pixels) as (_, info):
        return info


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image into upright float32 RGB (H, W, 3) in [0, 1] plus alpha and ``ImageInfo``.

    The pixel limit is checked from the header before decoding. Raises ``UnreadableImageError`` or
    ``ImageTooLargeError``.
    """
    with _opened(Path(path), max_pixels) as (im, info):
        transparency = im.info.get("transparency")
        if _decoded_by_opencv(info):
            decoded = None
        else:
            with _PILLOW_LIMIT.at_least(info.width * info.height):
                decoded = _decode_with_pillow(im, info)
    # The Pillow image is closed here, so its memory is free before the float copy is made.
    if decoded is None:
        decoded = _decode_with_opencv(info)
    if decoded.alpha is None and info.has_alpha and transparency is not None:
        decoded = _with_color_key_alpha(decoded, transparency)
    rgb, alpha = _upright_float(decoded, 1 if decoded.upright else info.orientation)
    return LoadedImage(rgb=rgb, alpha=alpha, info=info)


@contextlib.contextmanager
def _opened(path: Path, max_pixels: int | None) -> Iterator[tuple[Image.Image, ImageInfo]]:
    """Open ``path``, parse its header with Pillow, check the pixel limit; yield (image, info)."""
    _require_nonempty_file(path)
    try:
        fp = open(path, "rb")  # noqa: SIM115 (closed by the with below, also on error)
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot open the file ({_reason(exc)})", path=path) from exc
    with fp:
        fmt, im = _parse_header(fp, path, max_pixels)
        try:
            info = _describe(im, fp, fmt, path)
            _check_pixel_limit(info, max_pixels)
            yield im, info
        finally:
            im.close()


def _require_nonempty_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise UnreadableImageError(f"{path}: no such file", path=path) from exc
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot open the file ({_reason(exc)})", path=path) from exc
    if path.is_dir():
        raise UnreadableImageError(f"{path}: is a folder, not an image file", path=path)
    if size == 0:
        raise UnreadableImageError(f"{path}: the file is empty (0 bytes)", path=path)


def _sniff_format(prefix: bytes) -> str | None:
    """The format named by the file's magic bytes, or None when it is none of ours."""
    if prefix.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if prefix.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if prefix[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if prefix.startswith(b"BM"):
        return "BMP"
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "WEBP"
    return None


def _webp_canvas_size(header: bytes) -> tuple[int, int] | None:
    """Width and height from the first 30 bytes of a WebP file (VP8, VP8L or VP8X), or None."""
    chunk = header[12:16]
    if chunk == b"VP8 " and len(header) >= 30 and header[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", header[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(header) >= 25 and header[20] == 0x2F:
        bits = struct.unpack("<I", header[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(header) >= 30:
        width = int.from_bytes(header[24:27], "little") + 1
        height = int.from_bytes(header[27:30], "little") + 1
        return width, height
    return None


def _parse_header(fp: BinaryIO, path: Path, max_pixels: int | None) -> tuple[str, Image.Image]:
    """Identify the format and let its Pillow plugin parse the header (no pixels are decoded)."""
    head = fp.read(32)
    fmt = _sniff_format(head)
    if fmt is None:
        raise UnreadableImageError(f"{path}: not a PNG, JPEG, TIFF, BMP or WebP image", path=path)
    # The plugins' parsers skip Pillow's bomb check, except WebP's, which also allocates the whole
    # canvas: its size is read from the first bytes and checked against our limit first.
    pillow_needs: int | None = 0
    if fmt == "WEBP":
        size = _webp_canvas_size(head)
        if size is None:
            raise UnreadableImageError(f"{path}: damaged WebP header", path=path)
        _check_size(path, size, max_pixels)
        pillow_needs = size[0] * size[1]
    fp.seek(0)
    try:
        with _PILLOW_LIMIT.at_least(pillow_needs):
            return fmt, _PILLOW_CLASSES[fmt](fp, str(path))
    except Image.DecompressionBombError as exc:  # a Pillow that checks in more places than this one
        raise ImageTooLargeError(f"{path}: image is larger than Pillow's limit ({exc})", path=path) from exc
    except _TRUNCATED_ERRORS as exc:
        raise UnreadableImageError(
            f"{path}: not a readable {fmt} image (damaged or truncated header: {exc})", path=path
        ) from exc


def _describe(im: Image.Image, fp: BinaryIO, fmt: str, path: Path) -> ImageInfo:
    """Build ``ImageInfo`` from the parsed header (the file stays open for TIFF directories)."""
    width, height = _stored_size(im, fmt)
    exif, orientation = _read_exif(im, fmt)
    if orientation >= 5:
        width, height = height, width
    icc = im.info.get("icc_profile") or None
    return ImageInfo(
        path=path,
        format=fmt,
        width=width,
        height=height,
        bit_depth=_bit_depth(im, fp, fmt),
        mode=im.mode,
        has_alpha=im.mode in _ALPHA_MODES or im.info.get("transparency") is not None,
        icc_profile=bytes(icc) if icc else None,
        exif=exif,
        orientation=orientation,
    )


def _stored_size(im: Image.Image, fmt: str) -> tuple[int, int]:
    """Width and height as stored, before orientation (Pillow's TIFF ``size`` is already oriented)."""
    if fmt == "TIFF":
        return int(im.tag_v2[256]), int(im.tag_v2[257])
    return im.size


def _bit_depth(im: Image.Image, fp: BinaryIO, fmt: str) -> int:
    """Sample precision: 16 or 32 when the file stores that many bits per sample, else 8."""
    if im.mode == "F":
        return 32
    if fmt == "PNG":
        position = fp.tell()
        fp.seek(24)  # IHDR is the first chunk; its bit-depth byte sits at offset 24
        depth = fp.read(1)
        fp.seek(position)
        return 16 if depth == b"\x10" else 8
    if fmt == "TIFF":
        bits = im.tag_v2.get(258, 8)
        deepest = max(bits) if isinstance(bits, tuple) else int(bits)
        return 32 if deepest > 16 else 16 if deepest > 8 else 8
    return 16 if im.mode in _GREY16_MODES else 8


def _read_exif(im: Image.Image, fmt: str) -> tuple[bytes | None, int]:
    """The EXIF block (APP1 form) and the orientation 1-8; header-time data only."""
    if fmt == "TIFF":
        exif = _exif_from_tiff_directory(im)
        raw = exif.tobytes() if len(exif) else None
    else:
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


def _exif_from_tiff_directory(im: Image.Image) -> Image.Exif:
    """EXIF made of a TIFF's descriptive tags and its EXIF/GPS sub-directories (no structural tags)."""
    clean = Image.Exif()
    try:
        tiff = im.getexif()
        for tag in _TIFF_EXIF_TAGS:
            if tag in tiff:
                clean[tag] = tiff[tag]
        for pointer in (_EXIF_IFD, _GPS_IFD):
            sub = {k: v for k, v in tiff.get_ifd(pointer).items() if k != _INTEROP_IFD}
            if sub:
                clean[pointer] = sub
    except Exception:
        _log.warning("ignoring unreadable EXIF tags in %s", getattr(im, "filename", "?"))
    return clean


def _valid_orientation(value: object) -> int:
    try:
        orientation = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _check_pixel_limit(info: ImageInfo, max_pixels: int | None) -> None:
    _check_size(info.path, (info.width, info.height), max_pixels)


def _check_size(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} pixels ({width * height:,}) exceeds the limit of "
            f"{max_pixels:,} pixels",
            path=path,
        )


def _decoded_by_opencv(info: ImageInfo) -> bool:
    """16-bit colour or grey+alpha files: Pillow would truncate them to 8 bits."""
    return info.bit_depth == 16 and info.mode not in _GREY16_MODES


def _decode_with_pillow(im: Image.Image, info: ImageInfo) -> _Decoded:
    """Decode with Pillow into integer (or float "F") samples; orientation is applied later."""
    tiff_orientation_tagged = info.format == "TIFF" and _ORIENTATION in im.tag_v2
    try:
        im.load()
        if info.format == "PNG" and not _png_has_end(info.path):
            raise OSError("the IEND chunk is missing")
        decoded = _pillow_samples(im, info)
    except _TRUNCATED_ERRORS as exc:
        raise UnreadableImageError(
            f"{info.path}: the {info.format} data is damaged or truncated ({exc})", path=info.path
        ) from exc
    # Pillow's TIFF decoder turns the image upright itself and then drops the orientation tag.
    if tiff_orientation_tagged and _ORIENTATION not in im.tag_v2:
        decoded = _Decoded(decoded.color, decoded.color_scale, decoded.alpha, decoded.alpha_scale, True)
    return decoded


def _png_has_end(path: Path) -> bool:
    """Whether the PNG's closing IEND chunk is present near the end (Pillow tolerates its loss)."""
    with open(path, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - _PNG_END_SEARCH))
        return _PNG_IEND in stream.read()


def _pillow_samples(im: Image.Image, info: ImageInfo) -> _Decoded:
    mode = im.mode
    if mode in _GREY16_MODES:
        scale = 65535.0 if info.bit_depth <= 16 else 4294967295.0
        return _Decoded(np.asarray(im)[..., None], scale, None, 1.0)
    if mode == "F":
        return _Decoded(np.asarray(im)[..., None], 1.0, None, 1.0)
    if mode in ("1", "L") and not info.has_alpha:
        grey = im if mode == "L" else im.convert("L")
        return _Decoded(np.asarray(grey)[..., None], 255.0, None, 1.0)
    if mode == "LA":
        samples = np.asarray(im)
        return _Decoded(samples[..., :1], 255.0, samples[..., 1], 255.0)
    target = "RGBA" if info.has_alpha else "RGB"
    samples = np.asarray(im if mode == target else im.convert(target))
    alpha = samples[..., 3] if target == "RGBA" else None
    return _Decoded(samples[..., :3], 255.0, alpha, 255.0)


def _decode_with_opencv(info: ImageInfo) -> _Decoded:
    """Decode a 16-bit colour file with OpenCV (full precision); BGR(A) becomes RGB(A)."""
    path = info.path
    try:
        encoded = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot read the file ({_reason(exc)})", path=path) from exc
    if info.format == "TIFF":
        _reset_tiff_orientation(encoded)
    samples = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
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
        return _Decoded(samples, scale, None, scale)
    if channels == 2:
        return _Decoded(samples[..., :1], scale, samples[..., 1], scale)
    alpha = samples[..., 3] if channels == 4 else None
    return _Decoded(samples[..., 2::-1], scale, alpha, scale)


def _reset_tiff_orientation(data: np.ndarray) -> None:
    """Set the first directory's Orientation to 1 in TIFF bytes held in memory (uint8, writable).

    OpenCV's TIFF decoder applies the orientation tag even with IMREAD_UNCHANGED, while its PNG
    decoder does not; resetting the tag makes every path return stored pixels, turned upright here.
    """
    buffer = memoryview(data).cast("B")
    order = "<" if bytes(buffer[:2]) == b"II" else ">"
    try:
        if struct.unpack_from(order + "H", buffer, 2)[0] == 43:  # BigTIFF
            (directory,) = struct.unpack_from(order + "Q", buffer, 8)
            (count,) = struct.unpack_from(order + "Q", buffer, directory)
            first, entry_size, value_offset = directory + 8, 20, 12
        else:
            (directory,) = struct.unpack_from(order + "I", buffer, 4)
            (count,) = struct.unpack_from(order + "H", buffer, directory)
            first, entry_size, value_offset = directory + 2, 12, 8
        for index in range(count):
            entry = first + index * entry_size
            tag, kind = struct.unpack_from(order + "HH", buffer, entry)
            if tag == _ORIENTATION and kind == 3:  # SHORT
                struct.pack_into(order + "H", buffer, entry + value_offset, 1)
                return
    except struct.error:  # a damaged directory: the decoder will report it
        return


def _with_color_key_alpha(decoded: _Decoded, key: object) -> _Decoded:
    """Alpha from a tRNS colour key (16-bit grey/RGB PNG): 0 where the colour equals the key, else 1."""
    key_values = np.asarray(key if isinstance(key, tuple) else (key,), dtype=np.int64)
    if key_values.size != decoded.color.shape[2]:
        return decoded
    opaque = np.any(decoded.color != key_values, axis=2).astype(np.uint8)
    return _Decoded(decoded.color, decoded.color_scale, opaque, 1.0)


def _orient(samples: np.ndarray, orientation: int) -> np.ndarray:
    """A view of ``samples`` (H, W, ...) turned upright for an EXIF orientation 1-8."""
    if orientation == 2:
        return samples[:, ::-1]
    if orientation == 3:
        return samples[::-1, ::-1]
    if orientation == 4:
        return samples[::-1]
    if orientation == 5:
        return samples.swapaxes(0, 1)
    if orientation == 6:
        return samples[::-1].swapaxes(0, 1)
    if orientation == 7:
        return samples[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return samples[:, ::-1].swapaxes(0, 1)
    return samples


def _upright_float(decoded: _Decoded, orientation: int) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 RGB (H, W, 3) and alpha (H, W) in [0, 1], upright and C-contiguous, in one pass each."""
    color = _orient(decoded.color, orientation)
    rgb = np.empty((*color.shape[:2], 3), dtype=np.float32)
    np.divide(color, decoded.color_scale, out=rgb, dtype=np.float32)  # grey broadcasts to 3 channels
    if decoded.color.dtype.kind == "f":
        np.nan_to_num(rgb, copy=False, nan=0.0)
        np.clip(rgb, 0.0, 1.0, out=rgb)
    if decoded.alpha is None:
        return rgb, None
    upright_alpha = _orient(decoded.alpha, orientation)
    alpha = np.empty(upright_alpha.shape, dtype=np.float32)
    np.divide(upright_alpha, decoded.alpha_scale, out=alpha, dtype=np.float32)
    return rgb, alpha


# --------------------------------------------------------------------------------------------------
# Quantization and alpha


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


def _quantize_float(values: np.ndarray, max_value: int, dtype: type[np.integer]) -> np.ndarray:
    """Clip to [0, 1], scale by ``max_value``, round half up; reused row-block buffers bound memory."""
    work_dtype = np.float64 if values.dtype == np.float64 else np.float32
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


def _to_depth(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Samples as uint8 (8) or uint16 (16): floats quantized, integers rescaled exactly (half up)."""
    target = np.uint8 if bit_depth == 8 else np.uint16
    if values.dtype == target:
        return values
    if values.dtype.kind == "f":
        return _quantize_float(values, 255 if bit_depth == 8 else 65535, target)
    if values.dtype == np.uint8:
        return values.astype(np.uint16) * np.uint16(257)
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
        return np.ascontiguousarray(plane).copy()
    enlarging = out_h >= plane.shape[0] and out_w >= plane.shape[1]
    interpolation = cv2.INTER_CUBIC if enlarging else cv2.INTER_AREA
    resized = cv2.resize(plane, (out_w, out_h), interpolation=interpolation)
    np.clip(resized, 0.0, 1.0, out=resized)
    return resized


# --------------------------------------------------------------------------------------------------
# Writing


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
    ``alpha``: (H, W), same conventions; kept by PNG/TIFF/WebP, dropped by JPEG. Resize it with
    ``resize_alpha`` when the image changed size.
    ``source``: the ``ImageInfo`` of the input; its EXIF (orientation reset to 1) and RGB ICC profile
    are carried. ``bit_depth``: 8 or 16 (16 only for PNG/TIFF); None picks 16 for uint16 input or a
    source of 16 or more bits, when the format allows it, else 8. ``quality``: 1-100 for JPEG/WebP.
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

    def write_body(fp: BinaryIO) -> None:
        _encode(fp, fmt, pixels, icc=icc, exif=exif, quality=quality)

    return _atomic_write(path, write_body, overwrite=overwrite)


def _output_format(path: Path) -> str:
    fmt = _FORMAT_FOR_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(WRITE_SUFFIXES))
        raise ImageWriteError(f"{path}: cannot write '{path.suffix}' files (use {allowed})", path=path)
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
    color = _to_depth(rgb[..., ::-1] if fmt == "PNG" else rgb, depth)
    if alpha is None or fmt not in _ALPHA_FORMATS:
        return np.ascontiguousarray(color)
    if alpha.shape != rgb.shape[:2]:
        raise ValueError(
            f"alpha shape {alpha.shape} does not match the image {rgb.shape[:2]} (use resize_alpha)"
        )
    return np.dstack((color, _to_depth(alpha, depth)))


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


def _encode(
    fp: BinaryIO, fmt: str, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None, quality: int
) -> None:
    """Dispatch to the encoder of ``fmt`` (looked up at call time, so tests can replace one)."""
    if fmt == "PNG":
        _write_png(fp, pixels, icc=icc, exif=exif)
    elif fmt == "TIFF":
        _write_tiff(fp, pixels, icc=icc, exif=exif)
    else:
        _write_with_pillow(fp, fmt, pixels, icc=icc, exif=exif, quality=quality)


def _write_png(fp: BinaryIO, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None) -> None:
    """PNG from BGR(A) uint8/uint16 pixels by OpenCV, with iCCP and eXIf chunks inserted after IHDR."""
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION])
    if not ok:
        raise OSError("the PNG encoder failed")
    data = encoded.reshape(-1)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    if bytes(data[12:16]) != b"IHDR":
        raise OSError("the PNG encoder produced an unexpected layout")
    fp.write(data[:ihdr_end])
    if icc:
        fp.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if exif:
        fp.write(_png_chunk(b"eXIf", exif.removeprefix(_EXIF_PREFIX)))
    fp.write(data[ihdr_end:])


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _write_tiff(fp: BinaryIO, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None) -> None:
    """Little-endian TIFF: deflate strips with horizontal predictor, IFD serialized by Pillow.

    Layout: header, IFD (with its out-of-line values), then the strips. ``StripOffsets`` are given
    relative to the end of the IFD; Pillow's ``tobytes`` adds that offset.
    """
    height, width, channels = pixels.shape
    rows_per_strip = max(1, min(height, _TIFF_STRIP_BYTES // (width * channels * pixels.itemsize)))
    strips = list(_tiff_strips(pixels, rows_per_strip))
    offsets, position = [], 0
    for strip in strips:
        offsets.append(position)
        position += len(strip)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    ifd[256] = width
    ifd[257] = height
    ifd[258] = (pixels.itemsize * 8,) * channels
    ifd[259] = 8  # Adobe deflate
    ifd[262] = 2  # RGB
    ifd[273] = tuple(offsets)
    ifd[277] = channels
    ifd[278] = rows_per_strip
    ifd[279] = tuple(len(strip) for strip in strips)
    ifd[284] = 1  # interleaved samples
    ifd[317] = 2  # horizontal differencing
    if channels == 4:
        ifd[338] = (2,)  # unassociated alpha
    ifd[339] = (1,) * channels  # unsigned integers
    if icc:
        ifd[34675] = icc
    if exif:
        _merge_exif_into_tiff(ifd, exif)
    fp.write(b"II*\x00" + struct.pack("<I", 8))
    fp.write(ifd.tobytes(8))
    for strip in strips:
        fp.write(strip)


def _tiff_strips(pixels: np.ndarray, rows_per_strip: int) -> Iterator[bytes]:
    little_endian = pixels.dtype.newbyteorder("<")
    for start in range(0, pixels.shape[0], rows_per_strip):
        block = pixels[start : start + rows_per_strip]
        residual = block.astype(little_endian, copy=True)
        residual[:, 1:] -= block[:, :-1]  # wraps modulo 2**bits, as TIFF predictor 2 expects
        yield zlib.compress(residual.tobytes(), _TIFF_DEFLATE_LEVEL)


def _merge_exif_into_tiff(ifd: TiffImagePlugin.ImageFileDirectory_v2, exif_bytes: bytes) -> None:
    """Put EXIF's descriptive IFD0 tags and its EXIF/GPS sub-directories into a TIFF directory."""
    exif = Image.Exif()
    exif.load(exif_bytes)
    for tag in _TIFF_EXIF_TAGS:
        if tag in exif:
            ifd[tag] = exif[tag]
    for pointer in (_EXIF_IFD, _GPS_IFD):
        sub = {k: v for k, v in exif.get_ifd(pointer).items() if k != _INTEROP_IFD}
        if sub:
            ifd[pointer] = sub


def _write_with_pillow(
    fp: BinaryIO, fmt: str, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None, quality: int
) -> None:
    """JPEG (4:4:4 chroma at quality >= 90, else 4:2:0) or WebP, 8-bit, through Pillow."""
    options: dict[str, object] = {"quality": quality}
    if fmt == "JPEG":
        options["subsampling"] = 0 if quality >= 90 else 2
        if exif and len(exif) > _JPEG_MAX_EXIF:
            _log.warning("EXIF block of %d bytes does not fit a JPEG segment; writing without it", len(exif))
            exif = None
    else:
        options["method"] = 4
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    Image.fromarray(pixels).save(fp, format=fmt, **options)


def _atomic_write(path: Path, write_body: Callable[[BinaryIO], None], *, overwrite: bool) -> Path:
    """Write through a temporary file beside ``path``, then publish it; the temp never survives."""
    _refuse_existing(path, overwrite=overwrite)
    temp: Path | None = None
    try:
        descriptor, temp = _create_temp_beside(path)
        with os.fdopen(descriptor, "wb") as fp:
            write_body(fp)
            fp.flush()
            os.fsync(fp.fileno())
        _publish(temp, path, overwrite=overwrite)
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write the file ({_reason(exc)})", path=path) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    _sync_folder(path.parent)
    return path


def _refuse_existing(path: Path, *, overwrite: bool) -> None:
    if path.is_dir():
        raise ImageWriteError(f"{path}: is a folder", path=path)
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(f"{path}: already exists (not overwritten)", path=path)


def _create_temp_beside(path: Path) -> tuple[int, Path]:
    """A new hidden file in the destination folder (same file system, so publishing is atomic)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = path.with_name(f".{path.stem[:48]}.{secrets.token_hex(6)}.tmp{path.suffix}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def _publish(temp: Path, path: Path, *, overwrite: bool) -> None:
    """Give the finished temp file its final name; without ``overwrite`` never replace a file."""
    if overwrite:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # atomic, and fails if the name exists
    except FileExistsError as exc:
        raise OutputExistsError(f"{path}: already exists (not overwritten)", path=path) from exc
    except (OSError, NotImplementedError):  # file system without hard links
        if os.path.lexists(path):
            raise OutputExistsError(f"{path}: already exists (not overwritten)", path=path) from None
        os.replace(temp, path)


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry to disk where the platform allows it (best effort)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
