"""TIFF through ``tifffile`` (with ``imagecodecs`` for LZW, JPEG and the other codecs).

Only the first page (directory) is read; a multi-page file says so in the log. ``tiff_header``
parses that page's tags into ``ImageInfo`` without decoding a pixel; ``decode_tiff`` decodes it into
stored-order samples, honouring:

- PlanarConfiguration: chunky (YXS) and planar (SYX) samples both come out as (H, W, S).
- SampleFormat: unsigned, signed (negative values are black) and float; integer samples are scaled
  by 2**BitsPerSample - 1 (a 12-bit file's white is 4095), signed ones by 2**(bits - 1) - 1.
- Photometric: grey (black or white is zero), RGB, palette, CMYK (plain inversion, no colour
  management) and JPEG-compressed YCbCr (decoded to RGB by the codec).
- ExtraSamples: the first associated (premultiplied) or unassociated alpha becomes alpha; associated
  colour is divided by alpha, so every caller sees straight alpha; unspecified extra samples are
  ignored, as the TIFF specification says.
- Orientation in any tag type (SHORT, LONG, ...): reported in ``ImageInfo`` and applied once, by
  the caller (tifffile never turns pixels itself).

Anything else (CIELab, LogLuv, colour filter arrays, complex samples, volumes, samples of mixed
sizes, uncompressed YCbCr) is refused with ``unsupported TIFF layout (...)``, never decoded wrongly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from numpy.typing import NDArray
from PIL import Image

from irstudio.core.image_io.info import ImageInfo, UnreadableImageError
from irstudio.core.image_io.metadata import _ORIENTATION, _exif_from_tiff_tags, _valid_orientation
from irstudio.core.image_io.samples import DecodedSamples

_log = logging.getLogger(__name__)

_ICC_TAG = 34675
_PHOTOMETRIC = tifffile.PHOTOMETRIC
_GREY = (_PHOTOMETRIC.MINISBLACK, _PHOTOMETRIC.MINISWHITE)
_TRICHROME = (_PHOTOMETRIC.RGB, _PHOTOMETRIC.YCBCR)  # JPEG-compressed YCbCr decodes to RGB
_JPEG_CODECS = frozenset({6, 7, 34892})  # old-style JPEG, JPEG, lossy JPEG (DNG)
_UNSIGNED, _SIGNED, _FLOAT = 1, 2, 3
_ALPHA_KINDS = (1, 2)  # ExtraSamples: 1 associated (premultiplied), 2 unassociated


def tiff_header(fp: BinaryIO, path: Path) -> ImageInfo:
    """Parse the first page's tags (no pixels): size after orientation, depth, mode, ICC, EXIF.

    Raises ``UnreadableImageError``: damaged (``not a readable TIFF image``) or a layout this reader
    refuses (``unsupported TIFF layout (...)``).
    """
    try:
        with tifffile.TiffFile(fp) as tif:
            page = tif.pages.first
            _check_layout(page, path)
            if len(tif.pages) > 1:
                _log.warning("%s has %d pages; reading the first one", path, len(tif.pages))
            orientation = _valid_orientation(_single(page.tags.valueof(_ORIENTATION, 1)))
            icc = page.tags.valueof(_ICC_TAG)
            width, height = int(page.imagewidth), int(page.imagelength)
            info = ImageInfo(
                path=path,
                format="TIFF",
                width=height if orientation >= 5 else width,
                height=width if orientation >= 5 else height,
                bit_depth=_bit_depth(page),
                mode=_mode(page),
                has_alpha=_alpha_index(page) is not None,
                icc_profile=bytes(icc) if isinstance(icc, bytes | bytearray) and icc else None,
                exif=_exif(fp, path),
                orientation=orientation,
            )
    except (UnreadableImageError, MemoryError):
        raise
    except Exception as exc:  # tifffile raises many types on a hostile header
        raise UnreadableImageError(
            f"{path}: not a readable TIFF image (damaged or truncated header: {exc})", path=path
        ) from exc
    if width < 1 or height < 1:
        raise UnreadableImageError(f"{path}: the TIFF image has no pixels ({width}x{height})", path=path)
    return info


def decode_tiff(path: Path) -> DecodedSamples:
    """Decode the first page into stored-order samples (see the module docstring for the rules).

    Raises ``UnreadableImageError`` when the data is damaged or truncated, or the layout unsupported.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            _check_layout(page, path)
            samples = _interleaved(page.asarray(maxworkers=1), page.axes)
            return _interpret(page, samples)
    except (UnreadableImageError, MemoryError):
        raise
    except Exception as exc:  # tifffile and each codec raise their own error types
        raise UnreadableImageError(
            f"{path}: the TIFF data is damaged or truncated ({exc})", path=path
        ) from exc


def _unsupported(path: Path, what: str) -> UnreadableImageError:
    return UnreadableImageError(f"{path}: unsupported TIFF layout ({what})", path=path)


def _check_layout(page: tifffile.TiffPage, path: Path) -> None:
    """Refuse what ``_interpret`` cannot turn into RGB faithfully."""
    photometric = page.photometric
    known = (*_GREY, _PHOTOMETRIC.RGB, _PHOTOMETRIC.PALETTE, _PHOTOMETRIC.SEPARATED, _PHOTOMETRIC.YCBCR)
    if photometric not in known:
        raise _unsupported(path, f"photometric {_name(photometric)}")
    if photometric == _PHOTOMETRIC.YCBCR and page.compression not in _JPEG_CODECS:
        raise _unsupported(path, "YCbCr samples without JPEG compression")
    if photometric == _PHOTOMETRIC.SEPARATED and (page.samplesperpixel - len(page.extrasamples) != 4):
        raise _unsupported(path, f"separated colour with {page.samplesperpixel} samples, not CMYK")
    if page.sampleformat not in (_UNSIGNED, _SIGNED, _FLOAT):
        raise _unsupported(path, f"sample format {_name(page.sampleformat)}")
    bits = page.tags.valueof(258, 1)
    if isinstance(bits, tuple) and len(set(bits)) > 1:
        raise _unsupported(path, f"samples of different sizes {bits}")
    if page.imagedepth > 1 or page.axes not in ("YX", "YXS", "SYX"):
        raise _unsupported(path, f"axes {page.axes}, depth {page.imagedepth}")
    colour = 1 if photometric in (*_GREY, _PHOTOMETRIC.PALETTE) else 4 if photometric == 5 else 3
    if page.samplesperpixel < colour:
        raise _unsupported(path, f"{page.samplesperpixel} samples for {_name(photometric)}")


def _name(value: object) -> str:
    return getattr(value, "name", None) or str(value)


def _single(value: object) -> object:
    """The first value of a tag stored with a count above one."""
    return value[0] if isinstance(value, tuple) and value else value


def _bit_depth(page: tifffile.TiffPage) -> int:
    bits = int(page.bitspersample)
    return 32 if bits > 16 else 16 if bits > 8 else 8


def _mode(page: tifffile.TiffPage) -> str:
    """A Pillow-style mode name for display and grey detection."""
    alpha = _alpha_index(page) is not None
    if page.photometric in _GREY:
        if alpha:
            return "LA"
        if page.sampleformat == _FLOAT:
            return "F"
        bits = page.bitspersample
        return "1" if bits == 1 else "L" if bits <= 8 else "I;16" if bits <= 16 else "I"
    if page.photometric == _PHOTOMETRIC.PALETTE:
        return "P"
    if page.photometric == _PHOTOMETRIC.SEPARATED:
        return "CMYK"
    return "RGBA" if alpha else "RGB"


def _alpha_index(page: tifffile.TiffPage) -> int | None:
    """Index (among the extra samples) of the first alpha sample, or None."""
    for index, kind in enumerate(page.extrasamples):
        if int(kind) in _ALPHA_KINDS:
            return index
    return None


def _exif(fp: BinaryIO, path: Path) -> bytes | None:
    """EXIF made of the first directory's descriptive tags and its EXIF/GPS sub-directories."""
    try:
        fp.seek(0)
        tags = Image.Exif()
        tags.load_from_fp(fp)
        exif = _exif_from_tiff_tags(tags)
        return exif.tobytes() if len(exif) else None
    except Exception:  # Pillow's tag parser rejects some valid files: the pixels still load
        _log.warning("ignoring unreadable EXIF tags in %s", path)
        return None


def _interleaved(data: np.ndarray, axes: str) -> np.ndarray:
    """Samples as (H, W, S) whatever the planar configuration."""
    if axes == "YX":
        return data[..., None]
    if axes == "SYX":
        return np.moveaxis(data, 0, -1)
    return data


def _interpret(page: tifffile.TiffPage, samples: np.ndarray) -> DecodedSamples:
    """Colour and straight alpha from (H, W, S) samples, by photometric and extra samples."""
    samples, scale = _scaled(samples, page)
    photometric = page.photometric
    colour_count = 4 if photometric == _PHOTOMETRIC.SEPARATED else 3 if photometric in _TRICHROME else 1
    colour = samples[..., :colour_count]
    alpha_index = _alpha_index(page)
    alpha = None if alpha_index is None else samples[..., colour_count + alpha_index]
    colour_scale = scale
    if photometric == _PHOTOMETRIC.MINISWHITE:
        colour = scale - colour
    elif photometric == _PHOTOMETRIC.PALETTE:
        colour, colour_scale = _palette(page, colour[..., 0])
    elif photometric == _PHOTOMETRIC.SEPARATED:
        colour, colour_scale = _cmyk_to_rgb(colour, scale), 1.0
    if alpha is not None and alpha_index is not None and int(page.extrasamples[alpha_index]) == 1:
        colour, colour_scale = _unpremultiplied(colour, colour_scale, alpha, scale), 1.0
    return DecodedSamples(colour, colour_scale, alpha, scale)


def _scaled(samples: np.ndarray, page: tifffile.TiffPage) -> tuple[np.ndarray, float]:
    """Samples and the value meaning 1.0: 2**bits - 1 for unsigned, 2**(bits-1) - 1 for signed
    (negative values clipped to 0), 1.0 for float; 1-bit samples come as uint8 0/1."""
    if samples.dtype == np.bool_:
        return samples.view(np.uint8), 1.0
    if page.sampleformat == _FLOAT:
        return samples, 1.0
    bits = int(page.bitspersample)
    if page.sampleformat == _SIGNED:
        return np.maximum(samples, 0), float(2 ** (bits - 1) - 1)
    return samples, float(2**bits - 1)


def _palette(page: tifffile.TiffPage, indices: np.ndarray) -> tuple[np.ndarray, float]:
    """RGB from palette indices; a colour map holding 8-bit values (a common writer bug) scales by 255."""
    colormap = page.colormap
    if colormap is None:
        raise ValueError("the palette image has no colour map")
    table = np.ascontiguousarray(np.asarray(colormap).T)  # (entries, 3)
    scale = 255.0 if table.max() < 256 else 65535.0
    return table[np.minimum(indices, len(table) - 1)], scale


def _cmyk_to_rgb(cmyk: np.ndarray, scale: float) -> np.ndarray:
    """RGB float32 in [0, 1] as (1 - C)(1 - K), (1 - M)(1 - K), (1 - Y)(1 - K)."""
    ink = cmyk.astype(np.float32) / np.float32(scale)
    paper = 1.0 - ink[..., 3:4]
    rgb: np.ndarray = (1.0 - ink[..., :3]) * paper
    return rgb


def _unpremultiplied(
    colour: np.ndarray, colour_scale: float, alpha: np.ndarray, alpha_scale: float
) -> np.ndarray:
    """Straight colour float32 in [0, 1] from premultiplied samples (0 where alpha is 0)."""
    straight: NDArray[np.float32] = colour.astype(np.float32) / np.float32(colour_scale)
    weight = alpha.astype(np.float32)[..., None] / np.float32(alpha_scale)
    transparent = np.broadcast_to(weight <= 0, straight.shape)
    np.divide(straight, weight, out=straight, where=~transparent)
    straight[transparent] = 0.0
    return np.clip(straight, 0.0, 1.0, out=straight)
