"""NumPy images to and from Qt, and the colour maps used for heat maps (GUI only: imports PySide6).

``to_qimage(image) -> QImage``
    ``image`` is HxWx3 (RGB), HxW or HxWx1 (grey), or HxWx4 (RGBA, an extension); dtype float (any
    precision, values in [0, 1]; out-of-range values are clipped, NaN shows as 0), uint8, or uint16
    (rescaled to 8 bits, half up). Floats are quantized exactly as ``irstudio.core.image_io.to_uint8``
    does for saving (clip, x 255, round half up), so what is shown equals what an 8-bit save writes.
    Returns a deep copy that owns its pixels (the array may be changed or freed afterwards), in
    ``Format_RGB888`` (3 channels), ``Format_Grayscale8`` (1 channel) or ``Format_RGBA8888`` (4).
    Rows may be padded in the QImage (``bytesPerLine`` is a multiple of 4); that is handled here.

``from_qimage(image: QImage) -> np.ndarray`` (extension)
    The pixels of any QImage as uint8: HxW for ``Format_Grayscale8``, HxWx4 for formats with alpha
    (converted to RGBA8888), HxWx3 otherwise (converted to RGB888). A copy; row padding removed.

``colormap(values, name="inferno", vmin=None, vmax=None) -> np.ndarray``
    Scalar ``values`` of any shape (float or int; typically HxW) to uint8 RGB colours of shape
    ``values.shape + (3,)``. Values are normalized by ``(v - vmin) / (vmax - vmin)`` and clipped to
    [0, 1]; ``vmin``/``vmax`` default to the finite minimum/maximum of ``values``. When the range is
    empty (``vmax <= vmin``) every value gets the lowest colour. NaN and infinite values are black.
    Names: ``"inferno"`` and ``"viridis"`` (perceptually uniform, luminance rises with the value; the
    matplotlib tables as shipped by OpenCV) and ``"coolwarm"`` (Moreland's diverging map, blue -
    grey - red, for signed data centred on a middle value).

``colormap_lut(name) -> np.ndarray`` (extension)
    The 256x3 uint8 RGB table behind ``colormap``: row 0 is the colour of ``vmin``, row 255 of
    ``vmax`` (used to draw colour-bar legends).

``COLORMAPS``: the accepted names.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from PySide6.QtGui import QImage

from irstudio.core.image_io import to_uint8

COLORMAPS: tuple[str, ...] = ("inferno", "viridis", "coolwarm")

_OPENCV_MAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS}

# Moreland, "Diverging Color Maps for Scientific Visualization" (2009): the 33-entry table, RGB 0-255.
_COOLWARM_ANCHORS = (
    (59, 76, 192), (68, 90, 204), (77, 104, 215), (87, 117, 225), (98, 130, 234), (108, 142, 241),
    (119, 154, 247), (130, 165, 251), (141, 176, 254), (152, 185, 255), (163, 194, 255), (174, 201, 253),
    (184, 208, 249), (194, 213, 244), (204, 217, 238), (213, 219, 230), (221, 221, 221), (229, 216, 209),
    (236, 211, 197), (241, 204, 184), (245, 196, 172), (247, 187, 160), (247, 177, 148), (247, 166, 135),
    (244, 154, 123), (241, 141, 111), (236, 127, 99), (229, 112, 88), (222, 96, 77), (213, 80, 66),
    (203, 62, 56), (192, 40, 47), (180, 4, 38),
)  # fmt: skip

_CHUNK = 1 << 20  # values per block when colouring

_FORMAT_BY_CHANNELS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}


def to_qimage(image: np.ndarray) -> QImage:
    """A deep-copied QImage of ``image`` (HxW[x1|3|4], float [0,1] / uint8 / uint16); see the module doc."""
    samples = _as_uint8(_with_channel_axis(np.asarray(image)))
    height, width, channels = samples.shape
    samples = np.ascontiguousarray(samples)
    wrapped = QImage(samples.data, width, height, width * channels, _FORMAT_BY_CHANNELS[channels])
    return wrapped.copy()  # the copy owns its pixels (4-byte aligned rows); ``samples`` can go


def from_qimage(image: QImage) -> np.ndarray:
    """The pixels of ``image`` as a uint8 array (HxW grey, HxWx3 RGB or HxWx4 RGBA); see the module doc."""
    if image.isNull():
        raise ValueError("the QImage is null")
    if image.format() == QImage.Format.Format_Grayscale8:
        converted, channels = image, 1
    elif image.hasAlphaChannel():
        converted, channels = image.convertToFormat(QImage.Format.Format_RGBA8888), 4
    else:
        converted, channels = image.convertToFormat(QImage.Format.Format_RGB888), 3
    height, width, stride = converted.height(), converted.width(), converted.bytesPerLine()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=stride * height)
    rows = buffer.reshape(height, stride)[:, : width * channels]
    pixels = rows.reshape(height, width, channels).copy()
    return pixels[:, :, 0] if channels == 1 else pixels


def colormap(
    values: np.ndarray,
    name: str = "inferno",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """uint8 RGB colours (``values.shape + (3,)``) of scalar ``values`` under map ``name`` (module doc)."""
    lut = colormap_lut(name)
    data = np.asarray(values)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"colormap expects numeric values, got {data.dtype}")
    low, high = _value_range(data, vmin, vmax)
    colours = np.empty((*data.shape, 3), dtype=np.uint8)
    flat_values, flat_colours = data.reshape(-1), colours.reshape(-1, 3)
    for start in range(0, flat_values.size, _CHUNK):  # bounded temporaries for very large maps
        block = flat_values[start : start + _CHUNK].astype(np.float64)
        flat_colours[start : start + _CHUNK] = _colours_of(block, lut, low, high)
    return colours


def _colours_of(block: np.ndarray, lut: np.ndarray, low: float, high: float) -> np.ndarray:
    """Colours (Nx3 uint8) of 1-D float64 ``block`` normalized by [low, high]; non-finite values black."""
    finite = np.isfinite(block)
    span = high - low
    scaled = np.zeros(block.shape, dtype=np.float64)
    if span > 0:
        np.subtract(block, low, out=scaled, where=finite)
        scaled /= span
    np.clip(scaled, 0.0, 1.0, out=scaled)
    colours = lut[np.floor(scaled * 255.0 + 0.5).astype(np.uint8)]
    colours[~finite] = 0
    return colours


def colormap_lut(name: str) -> np.ndarray:
    """The 256x3 uint8 RGB table of colour map ``name`` (row 0: lowest value); a read-only array."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}")
    return _cached_lut(name)


@cache
def _cached_lut(name: str) -> np.ndarray:
    if name in _OPENCV_MAPS:
        ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
        bgr = cv2.applyColorMap(ramp, _OPENCV_MAPS[name]).reshape(256, 3)
        lut = np.ascontiguousarray(bgr[:, ::-1])
    else:
        anchors = np.asarray(_COOLWARM_ANCHORS, dtype=np.float64)
        positions = np.linspace(0.0, 1.0, len(anchors))
        samples = np.linspace(0.0, 1.0, 256)
        channels = [np.interp(samples, positions, anchors[:, c]) for c in range(3)]
        lut = np.floor(np.stack(channels, axis=1) + 0.5).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def _value_range(data: np.ndarray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """(low, high) for normalization: the given bounds, else the finite min/max (0, 0 when none is finite)."""
    if vmin is not None and vmax is not None:
        return float(vmin), float(vmax)
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data.reshape(-1)
    any_finite = finite.size > 0
    low = float(vmin) if vmin is not None else (float(finite.min()) if any_finite else 0.0)
    high = float(vmax) if vmax is not None else (float(finite.max()) if any_finite else 0.0)
    return low, high


def _with_channel_axis(image: np.ndarray) -> np.ndarray:
    """``image`` as HxWxC with C in {1, 3, 4}; raises ValueError for any other shape or an empty image."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _FORMAT_BY_CHANNELS:
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"the image is empty (shape {image.shape})")
    return image


def _as_uint8(samples: np.ndarray) -> np.ndarray:
    """uint8 samples: uint8 as is, uint16 rescaled (half up), floats quantized like an 8-bit save."""
    if samples.dtype == np.uint8:
        return samples
    if samples.dtype == np.uint16:
        return ((samples.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)
    if samples.dtype == np.bool_:
        return samples.astype(np.uint8) * np.uint8(255)
    if samples.dtype.kind != "f":
        raise TypeError(f"pixel values must be float, uint8 or uint16, got {samples.dtype}")
    try:
        return to_uint8(samples)
    except ValueError:  # NaN somewhere (e.g. a failed half-precision run): show it as black
        return to_uint8(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=0.0))
