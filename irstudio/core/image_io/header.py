"""Open a file and parse its header only: format by content, ``ImageInfo``, the pixel limit.

The format is sniffed from the magic bytes (not the suffix): PNG, JPEG, TIFF, BMP, WebP; ISO-BMFF
files by the brands of their ``ftyp`` box (``avif``/``avis``: AVIF; ``heic``, ``heix``, ``hevc``,
``hevx``, ``heim``, ``heis``, ``hevm``, ``hevs``, ``mif1``, ``msf1``: HEIF; ``crx ``: Canon CR3); camera
RAW files by their signature, or, for the TIFF-based ones, by their RAW directories or a RAW suffix
(``raw``). TIFF headers are parsed by ``tiff.tiff_header`` (tifffile), HEIF by ``heif`` (pillow-heif),
RAW by ``raw`` (rawpy), the others (AVIF included, through Pillow's AVIF plugin) by that format's
Pillow plugin, which skips Pillow's own decompression-bomb check. The pixel count is checked here
against ``max_pixels`` before any pixel is decoded (``ImageTooLargeError``). WebP's parser allocates
the canvas, so its size is read from the first bytes and checked first. Where Pillow checks again
(WebP parsing, decoding), ``_PILLOW_LIMIT`` raises Pillow's global limit, only when needed, to the
size already approved here, under a lock, and puts it back right after. A format whose optional
package is missing raises ``MissingCodecError``, naming the package.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from PIL import (
    BmpImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from irstudio.core.image_io import optional
from irstudio.core.image_io.heif import opened_heif
from irstudio.core.image_io.info import (
    ImageInfo,
    ImageTooLargeError,
    MissingCodecError,
    UnreadableImageError,
    _check_size,
    _reason,
)
from irstudio.core.image_io.metadata import _read_exif
from irstudio.core.image_io.png import colour_chunks_from_pillow
from irstudio.core.image_io.raw import has_raw_signature, is_raw_suffix, opened_raw, tiff_is_raw
from irstudio.core.image_io.tiff import tiff_header

_PILLOW_CLASSES: dict[str, type[ImageFile.ImageFile]] = {
    "PNG": PngImagePlugin.PngImageFile,
    # JpegImageFile, not Pillow's jpeg_factory: an MPO file is read as its primary JPEG image.
    "JPEG": JpegImagePlugin.JpegImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}
_SNIFF_BYTES = 256  # enough for an ftyp box listing its compatible brands
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_CR3_BRAND = b"crx "
_UNKNOWN_FORMAT = "not a PNG, JPEG, TIFF, BMP or WebP image, nor a HEIF/AVIF photo or a camera RAW file"
_GREY16_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# RuntimeError: how Pillow's AVIF plugin (libavif) reports a damaged file.
_TRUNCATED_ERRORS = (OSError, SyntaxError, ValueError, RuntimeError, EOFError, struct.error, zlib.error)


# --------------------------------------------------------------------------------------------------
# Pillow's global decompression-bomb limit, raised only while we decode an image we already approved.


class _RaisedLimit:
    """Raises a Pillow module's size limit (``owner.name``) to at least N for a block, thread-safely.

    Nested and concurrent uses keep the largest need; the original value is put back when the last
    block exits. Nothing changes when the limit already admits N (the common case). None means no
    limit, both for N and for the attribute.
    """

    def __init__(self, owner: object, name: str) -> None:
        self._owner, self._name = owner, name
        self._lock = threading.Lock()
        self._active = 0
        self._saved: int | None = None

    @contextlib.contextmanager
    def at_least(self, value: int | None) -> Iterator[None]:
        raised = self._raise(value)
        try:
            yield
        finally:
            if raised:
                self._lower()

    def _raise(self, value: int | None) -> bool:
        with self._lock:
            current = getattr(self._owner, self._name)
            base = self._saved if self._active else current
            if base is None or (value is not None and value <= base):
                return False
            if not self._active:
                self._saved = current
            self._active += 1
            setattr(
                self._owner, self._name, None if value is None or current is None else max(current, value)
            )
            return True

    def _lower(self) -> None:
        with self._lock:
            self._active -= 1
            if not self._active:
                setattr(self._owner, self._name, self._saved)
                self._saved = None


_PILLOW_LIMIT = _RaisedLimit(Image, "MAX_IMAGE_PIXELS")
# Pillow refuses a compressed PNG chunk (text or ICC profile) that inflates past 1 MiB; printer and
# camera ICC profiles with large tables are valid beyond that. Profiles up to this size are read.
_PNG_CHUNK_LIMIT = _RaisedLimit(PngImagePlugin, "MAX_TEXT_CHUNK")
_MAX_ICC_BYTES = 64 << 20


@contextlib.contextmanager
def _opened(path: Path, max_pixels: int | None) -> Iterator[tuple[Any, ImageInfo]]:
    """Open ``path``, parse its header, check the pixel limit; yield (handle, info). The handle is
    the Pillow image, the primary ``HeifImage`` for HEIF, the opened ``RawPy`` for RAW, or None for
    TIFF, which ``tiff.decode_tiff`` decodes."""
    _require_nonempty_file(path)
    try:
        fp = open(path, "rb")  # noqa: SIM115 (closed by the with below, also on error)
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot open the file ({_reason(exc)})", path=path) from exc
    with fp:
        kind = _container_format(fp.read(_SNIFF_BYTES), fp, path)
        fp.seek(0)
        if kind == "TIFF":
            info = tiff_header(fp, path)
            _check_pixel_limit(info, max_pixels)
            yield None, info
            return
        if kind == "RAW":
            with opened_raw(fp, path, max_pixels) as (raw, info):
                yield raw, info
            return
        if kind == "HEIF":
            with opened_heif(fp, path) as (image, info):
                _check_pixel_limit(info, max_pixels)
                yield image, info
            return
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
    """The format named by the file's magic bytes, or None when it is none of ours. TIFF-based
    camera RAW files say "TIFF" here (``_container_format`` looks further)."""
    if prefix.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if prefix.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if prefix[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if has_raw_signature(prefix):
        return "RAW"
    if prefix.startswith(b"BM"):
        return "BMP"
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "WEBP"
    if prefix[4:8] == b"ftyp":
        return _iso_bmff_format(_ftyp_brands(prefix))
    return None


def _ftyp_brands(prefix: bytes) -> set[bytes]:
    """The major and compatible brands of the ``ftyp`` box that starts the file (those that fit)."""
    size = int.from_bytes(prefix[:4], "big")
    end = min(len(prefix), size if size >= 16 else len(prefix))
    brands = {prefix[8:12]}
    brands.update(prefix[offset : offset + 4] for offset in range(16, end - 3, 4))
    return brands


def _iso_bmff_format(brands: set[bytes]) -> str | None:
    if _CR3_BRAND in brands:
        return "RAW"
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return None


def _container_format(prefix: bytes, fp: BinaryIO, path: Path) -> str | None:
    """``_sniff_format``, with TIFF-based camera RAW files told apart from TIFF (by their RAW
    directories, or a RAW suffix) and a file of no known format with a RAW suffix left to LibRaw."""
    fmt = _sniff_format(prefix)
    if fmt == "TIFF" and (is_raw_suffix(path) or tiff_is_raw(fp)):
        return "RAW"
    if fmt is None and is_raw_suffix(path):
        return "RAW"
    return fmt


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
    head = fp.read(_SNIFF_BYTES)
    fmt = _sniff_format(head)
    if fmt not in _PILLOW_CLASSES and fmt != "AVIF":
        raise UnreadableImageError(f"{path}: {_UNKNOWN_FORMAT}", path=path)
    image_class = _avif_class(path) if fmt == "AVIF" else _PILLOW_CLASSES[fmt]
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
        with _PILLOW_LIMIT.at_least(pillow_needs), _PNG_CHUNK_LIMIT.at_least(_MAX_ICC_BYTES):
            return fmt, image_class(fp, str(path))
    except Image.DecompressionBombError as exc:  # a Pillow that checks in more places than this one
        raise ImageTooLargeError(f"{path}: image is larger than Pillow's limit ({exc})", path=path) from exc
    except _TRUNCATED_ERRORS as exc:
        raise UnreadableImageError(
            f"{path}: not a readable {fmt} image (damaged or truncated header: {exc})", path=path
        ) from exc


def _describe(im: Image.Image, fp: BinaryIO, fmt: str, path: Path) -> ImageInfo:
    """Build ``ImageInfo`` from the parsed header (the file stays open for TIFF directories)."""
    width, height = im.size
    exif, orientation = _read_exif(im)
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
        colour_chunks=colour_chunks_from_pillow(im.info) if fmt == "PNG" else (),
    )


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
    return 16 if im.mode in _GREY16_MODES else 8


def _check_pixel_limit(info: ImageInfo, max_pixels: int | None) -> None:
    _check_size(info.path, (info.width, info.height), max_pixels)


def _avif_class(path: Path) -> type[ImageFile.ImageFile]:
    plugin = optional.avif_plugin()
    if plugin is None:
        raise MissingCodecError(f"{path}: {optional.MISSING['AVIF']}", path=path, package="Pillow")
    avif_class: type[ImageFile.ImageFile] = plugin.AvifImageFile  # the module is looked up at run time
    return avif_class
