"""The encoders behind ``write_image``: each writes finished integer pixels to a binary stream.

PNG by OpenCV (BGR(A) input) with iCCP/eXIf chunks inserted after IHDR; TIFF made here (deflate
strips, horizontal predictor, IFD serialized by Pillow); JPEG, WebP and AVIF by Pillow; HEIC by
pillow-heif (libheif with x265). HEIC and AVIF use 4:4:4 chroma at quality 90 and above (4:2:0
below); the optional packages are looked up when called (``write_image`` checked them first).
``_encode`` looks the encoder up when called, so tests can replace one.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin

from irstudio.core.image_io import optional
from irstudio.core.image_io.metadata import _EXIF_PREFIX, _merge_exif_into_tiff

_log = logging.getLogger(__name__)

_PNG_COMPRESSION = 3  # zlib level: 6 took 2-4x longer for 3-5% smaller files
_TIFF_DEFLATE_LEVEL = 3
_TIFF_STRIP_BYTES = 1 << 20
_JPEG_MAX_EXIF = 65533
_FULL_CHROMA_QUALITY = 90  # JPEG, HEIC and AVIF keep full-resolution chroma from this quality up


def _encode(
    fp: BinaryIO,
    fmt: str,
    pixels: np.ndarray,
    *,
    icc: bytes | None,
    exif: bytes | None,
    quality: int,
    colour_chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Dispatch to the encoder of ``fmt`` (looked up at call time, so tests can replace one).
    ``colour_chunks``: PNG gAMA/cHRM/sRGB (type, payload), written by the PNG encoder only."""
    if fmt == "PNG":
        _write_png(fp, pixels, icc=icc, exif=exif, colour_chunks=colour_chunks)
    elif fmt == "TIFF":
        _write_tiff(fp, pixels, icc=icc, exif=exif)
    elif fmt == "HEIF":
        _write_heif(fp, pixels, icc=icc, exif=exif, quality=quality)
    else:
        _write_with_pillow(fp, fmt, pixels, icc=icc, exif=exif, quality=quality)


def _write_png(
    fp: BinaryIO,
    pixels: np.ndarray,
    *,
    icc: bytes | None,
    exif: bytes | None,
    colour_chunks: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """PNG from BGR(A) uint8/uint16 pixels by OpenCV, with the colour chunks (gAMA, cHRM, sRGB),
    iCCP and eXIf inserted after IHDR."""
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION])
    if not ok:
        raise OSError("the PNG encoder failed")
    data = encoded.reshape(-1)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    if bytes(data[12:16]) != b"IHDR":
        raise OSError("the PNG encoder produced an unexpected layout")
    fp.write(data[:ihdr_end].data)  # .data: the array's buffer (typeshed's Buffer needs 3.12 stubs)
    for kind, payload in colour_chunks:
        fp.write(_png_chunk(kind, payload))
    if icc:
        fp.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if exif:
        fp.write(_png_chunk(b"eXIf", exif.removeprefix(_EXIF_PREFIX)))
    fp.write(data[ihdr_end:].data)


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


def _write_with_pillow(
    fp: BinaryIO, fmt: str, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None, quality: int
) -> None:
    """JPEG (4:4:4 chroma at quality >= 90, else 4:2:0), WebP or AVIF (4:4:4 likewise), 8-bit,
    through Pillow."""
    options: dict[str, object] = {"quality": quality}
    if fmt == "JPEG":
        options["subsampling"] = 0 if quality >= _FULL_CHROMA_QUALITY else 2
        if exif and len(exif) > _JPEG_MAX_EXIF:
            _log.warning("EXIF block of %d bytes does not fit a JPEG segment; writing without it", len(exif))
            exif = None
    elif fmt == "AVIF":
        options["subsampling"] = "4:4:4" if quality >= _FULL_CHROMA_QUALITY else "4:2:0"
    else:
        options["method"] = 4
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    try:
        Image.fromarray(pixels).save(fp, format=fmt, **options)
    except (ValueError, RuntimeError) as exc:
        if fmt != "AVIF":
            raise
        raise OSError(f"the AVIF encoder failed ({exc})") from exc


def _write_heif(
    fp: BinaryIO, pixels: np.ndarray, *, icc: bytes | None, exif: bytes | None, quality: int
) -> None:
    """HEIC (HEVC through libheif), 8-bit RGB or RGBA, 4:4:4 chroma at quality >= 90, else 4:2:0."""
    pillow_heif = optional.pillow_heif()
    if pillow_heif is None:
        raise OSError(optional.MISSING["HEIF"])
    height, width, channels = pixels.shape
    options: dict[str, object] = {
        "quality": quality,
        "chroma": 444 if quality >= _FULL_CHROMA_QUALITY else 420,
    }
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    try:
        heif = pillow_heif.from_bytes("RGBA" if channels == 4 else "RGB", (width, height), pixels.data)
        heif.save(fp, format="HEIF", **options)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise OSError(f"the HEIC encoder failed ({exc})") from exc
