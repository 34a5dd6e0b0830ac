"""The display-ready image of the canvases (``CanvasImage``) and the scene item that shows one.

``CanvasImage(image: np.ndarray | QImage)``
    Converts once (``irstudio.gui.qimage.to_qimage``; a QImage is shared, not copied) and keeps a
    pyramid of halved copies (``halved``), built lazily, so zoomed-out views are area-averaged (no
    aliasing) and cheap. ``width``, ``height``, ``qimage``, ``level_for(device_scale)``,
    ``level_scale(level)``, ``pixmap(level)`` (main thread only: a QPixmap), ``build_pyramid()``.
    Threads: construction and ``build_pyramid`` touch only QImages, so a worker thread may build a
    ``CanvasImage`` (e.g. for a newly opened photo) and hand it to the main thread; ``pixmap`` must
    then be called on the main thread only.

``CanvasLayer``: one ``QGraphicsPixmapItem`` showing a ``CanvasImage`` at a display scale (scene units
per image pixel), re-levelled and re-sampled for each zoom (internal to the canvases).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QSizeF, Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem

from irstudio.gui.qimage import to_qimage

__all__ = ["CanvasImage", "CanvasLayer", "as_picture", "display_scale", "halved"]

_SMALLEST_LEVEL_SIDE = 16  # the pyramid stops before a level gets smaller than this
_PREMULTIPLIED = QImage.Format.Format_RGBA8888_Premultiplied
_OPENCV_FORMATS = {QImage.Format.Format_RGB888: 3, QImage.Format.Format_Grayscale8: 1, _PREMULTIPLIED: 4}


class CanvasImage:
    """An image converted once for display, with a lazily built pyramid of halved copies."""

    def __init__(self, image: np.ndarray | QImage) -> None:
        qimage = QImage(image) if isinstance(image, QImage) else to_qimage(image)
        if qimage.isNull() or qimage.width() == 0 or qimage.height() == 0:
            raise ValueError("cannot show an empty image")
        self._levels: list[QImage] = [qimage]
        self._pixmaps: dict[int, QPixmap] = {}

    @property
    def width(self) -> int:
        return self._levels[0].width()

    @property
    def height(self) -> int:
        return self._levels[0].height()

    @property
    def qimage(self) -> QImage:
        """The full-resolution QImage (8 bits per channel)."""
        return self._levels[0]

    def level_for(self, device_scale: float) -> int:
        """The pyramid level to draw when one image pixel covers ``device_scale`` device pixels.

        Level k is the image halved k times; the chosen level is drawn at a scale in (0.5, 1], or at
        ``device_scale`` itself for level 0 (then >= 1, or the pyramid is exhausted).
        """
        level = 0
        while device_scale * 2.0 ** (level + 1) <= 1.0 and self._can_halve(level):
            level += 1
        return level

    def build_pyramid(self) -> int:
        """Make every level now (QImages only: safe on a worker thread); returns the number of levels."""
        level = 0
        while self._can_halve(level):
            level += 1
        return level + 1

    def pixmap(self, level: int) -> QPixmap:
        """The QPixmap of pyramid ``level`` (made on first use; main thread only)."""
        if level not in self._pixmaps:
            self._pixmaps[level] = QPixmap.fromImage(self._level_image(level))
        return self._pixmaps[level]

    def level_scale(self, level: int) -> tuple[float, float]:
        """Image pixels per pixel of pyramid ``level``, along x and y."""
        image = self._level_image(level)
        return self.width / image.width(), self.height / image.height()

    def _can_halve(self, level: int) -> bool:
        image = self._level_image(level)
        return min(image.width(), image.height()) // 2 >= _SMALLEST_LEVEL_SIDE

    def _level_image(self, level: int) -> QImage:
        while len(self._levels) <= level:
            self._levels.append(halved(self._levels[-1]))
        return self._levels[level]


def halved(image: QImage) -> QImage:
    """``image`` at half its size ((w + 1) // 2 x (h + 1) // 2), area-averaged (OpenCV INTER_AREA).

    OpenCV releases the GIL (a worker building a pyramid does not stall the main thread), is about
    ten times faster than ``QImage.scaled`` and does not alias at odd sizes. RGB888 and Grayscale8
    (what ``to_qimage`` makes of RGB and grey) keep their format; other images are converted first,
    to premultiplied RGBA8888 when they have alpha (so colours average correctly), else to RGB888.
    """
    if image.format() not in _OPENCV_FORMATS:
        with_alpha = image.hasAlphaChannel()
        image = image.convertToFormat(_PREMULTIPLIED if with_alpha else QImage.Format.Format_RGB888)
    channels = _OPENCV_FORMATS[image.format()]
    half_w, half_h = (image.width() + 1) // 2, (image.height() + 1) // 2
    stride = image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * image.height())
    pixels = buffer.reshape(image.height(), stride)[:, : image.width() * channels]
    pixels = pixels.reshape(image.height(), image.width(), channels)  # a view: no copy
    small = np.ascontiguousarray(cv2.resize(pixels, (half_w, half_h), interpolation=cv2.INTER_AREA))
    return QImage(small.data, half_w, half_h, half_w * channels, image.format()).copy()


class CanvasLayer:
    """One pixmap item showing a CanvasImage at a display scale, re-levelled for each zoom."""

    def __init__(self, item: QGraphicsPixmapItem) -> None:
        self.item = item
        self.picture: CanvasImage | None = None
        self.scale: tuple[float, float] = (1.0, 1.0)
        self._level = -1

    def set_picture(self, picture: CanvasImage | None, scale: tuple[float, float]) -> None:
        if picture is not self.picture:
            self._level = -1
        self.picture, self.scale = picture, scale
        if picture is None:
            self.item.setPixmap(QPixmap())
        self.item.setVisible(picture is not None)

    def scene_size(self) -> QSizeF:
        if self.picture is None:
            return QSizeF()
        return QSizeF(self.picture.width * self.scale[0], self.picture.height * self.scale[1])

    def update_for(self, zoom: float) -> None:
        """Pick the pyramid level and the sampling for ``zoom`` device px per scene unit."""
        if self.picture is None:
            return
        device_x, device_y = zoom * self.scale[0], zoom * self.scale[1]
        level = self.picture.level_for(min(device_x, device_y))
        if level != self._level:
            self.item.setPixmap(self.picture.pixmap(level))
            self._level = level
        level_x, level_y = self.picture.level_scale(level)
        self.item.setTransform(QTransform.fromScale(self.scale[0] * level_x, self.scale[1] * level_y))
        crisp = min(device_x * level_x, device_y * level_y) >= 1.0 - 1e-9
        self.item.setTransformationMode(
            Qt.TransformationMode.FastTransformation if crisp else Qt.TransformationMode.SmoothTransformation
        )

    def transformation_mode(self) -> Qt.TransformationMode:
        return self.item.transformationMode()


def display_scale(scale: float | tuple[float, float]) -> tuple[float, float]:
    """``scale`` (scene units per image pixel, one number or (sx, sy)) as a pair; ValueError unless > 0."""
    if isinstance(scale, tuple):
        sx, sy = float(scale[0]), float(scale[1])
    else:
        sx = sy = float(scale)
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        raise ValueError(f"the display scale must be positive, got {scale!r}")
    return sx, sy


def as_picture(image: np.ndarray | CanvasImage | None) -> CanvasImage | None:
    """``image`` as a ``CanvasImage`` (arrays are converted here; None and pictures pass)."""
    if image is None or isinstance(image, CanvasImage):
        return image
    return CanvasImage(image)
