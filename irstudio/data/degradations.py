"""Synthetic degradations with known ground truth, shared by evaluation, training and the app.

Every function takes float32 HxWx3 RGB in [0, 1] and returns float32 HxWx3 (smaller for downscaling);
randomness comes only from the ``numpy.random.Generator`` passed in, so results are reproducible from
a seed. Noise is not clipped unless asked (the papers' protocol); every other operation returns [0, 1].

Operations: ``add_gaussian_noise`` (colour or gray AWGN), ``bicubic_downscale`` (MATLAB ``imresize``,
as the SR benchmarks), ``jpeg_compress`` (OpenCV's libjpeg encoder), ``gaussian_blur``, ``motion_blur``,
``add_rain`` (synthetic streaks, made as Rain100L was: sparse seeds, widened, motion-blurred along the
fall direction, added to the image).

Pipelines of these with parameter *ranges* (``Degradation``, ``Noise``, ``Downscale``, ``Jpeg``,
``Rain``, ``GaussianBlur``, ``MotionBlur``, ``degrade``) live in ``data/pipeline.py``; they can be
imported from here too (``from irstudio.data.degradations import Degradation``), looked up lazily.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from irstudio.core.resize import imresize


def add_gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, clip: bool = False, gray: bool = False
) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale.

    Colour AWGN (independent per channel) by default; ``gray`` adds one noise plane to all three
    channels (luminance-only noise, as gray AWGN on an RGB image). Not clipped by default, as the
    denoising papers' test protocol (KAIR/Restormer) adds it.
    """
    shape = (*image.shape[:2], 1) if gray and image.ndim == 3 else image.shape
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)
    noisy: np.ndarray = image + noise
    return np.clip(noisy, 0.0, 1.0) if clip else noisy.astype(np.float32)


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through OpenCV's JPEG encoder (libjpeg, 4:2:0) at ``quality`` (1-100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1-100, got {quality}")
    as_uint8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(as_uint8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("OpenCV could not encode the JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("OpenCV could not decode the JPEG it encoded")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def bicubic_downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB ``imresize(modcrop(img, s), 1/s, 'bicubic')`` of a [0,1] image, as the SR benchmarks,
    quantised to 8 bits like the LR files. Output is (H // s) x (W // s) x 3."""
    height, width = image.shape[:2]
    cropped = image[: height - height % scale, : width - width % scale]
    as_uint8 = np.clip(cropped * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return imresize(as_uint8, 1.0 / scale).astype(np.float32) / 255.0


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel side covering +-3 sigma (at least 3)."""
    return max(3, 2 * math.ceil(3.0 * sigma) + 1)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur of std ``sigma`` pixels (mirrored borders); ``sigma <= 0`` copies."""
    if sigma <= 0:
        return image.astype(np.float32, copy=True)
    side = gaussian_kernel_size(sigma)
    return cv2.GaussianBlur(
        image.astype(np.float32), (side, side), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )


def _direction(angle: float) -> tuple[float, float]:
    """Unit vector (dx, dy) in image coordinates (x right, y down) at ``angle`` degrees from vertical.

    0 is straight down; positive angles lean the lower end to the right (clockwise on screen).
    """
    radians = math.radians(angle)
    return math.sin(radians), math.cos(radians)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised (sum 1) float32 line kernel: a segment of ``length`` pixels through the centre,
    ``angle`` degrees from vertical (see ``_direction``), rasterised with bilinear weights.

    ``length <= 1`` gives the 1x1 identity kernel.
    """
    if length <= 1:
        return np.ones((1, 1), dtype=np.float32)
    side = 2 * math.ceil(length / 2.0) + 1
    kernel = np.zeros((side, side), dtype=np.float64)
    centre = side // 2
    dx, dy = _direction(angle)
    for t in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, num=math.ceil(length) * 4):
        x, y = centre + t * dx, centre + t * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, xx, weight in (
            (y0, x0, (1 - fx) * (1 - fy)),
            (y0, x0 + 1, fx * (1 - fy)),
            (y0 + 1, x0, (1 - fx) * fy),
            (y0 + 1, x0 + 1, fx * fy),
        ):
            if 0 <= yy < side and 0 <= xx < side:
                kernel[yy, xx] += weight
    normalised: np.ndarray = (kernel / kernel.sum()).astype(np.float32)
    return normalised


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Linear motion blur over ``length`` pixels at ``angle`` degrees from vertical (mirrored borders)."""
    kernel = motion_kernel(length, angle)
    return cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def rain_layer(
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    density: float,
    length: float,
    angle: float,
    width_px: float,
    brightness: float,
) -> np.ndarray:
    """A float32 HxW streak layer in [0, 1]: Rain100L's recipe, seeded.

    Seeds: each pixel starts a streak with probability ``density``, with an intensity drawn in
    [0.5, 1]. They are widened by a Gaussian whose FWHM is ``width_px`` (no widening at <= 1 px), then
    motion-blurred over ``length`` px at ``angle`` degrees from vertical, and scaled so that an isolated
    streak of intensity 1 peaks at ``brightness`` (overlaps are clipped to 1).
    """
    seeds = (rng.random((height, width), dtype=np.float32) < density).astype(np.float32)
    seeds *= rng.uniform(0.5, 1.0, size=(height, width)).astype(np.float32)
    spread_sigma = width_px / 2.3548 if width_px > 1 else 0.0
    layer = motion_blur(gaussian_blur(seeds, spread_sigma), length, angle)
    streaks: np.ndarray = np.clip(
        layer * np.float32(brightness / _streak_peak(length, angle, spread_sigma)), 0.0, 1.0
    )
    return streaks


def _streak_peak(length: float, angle: float, spread_sigma: float) -> float:
    """Peak of the widen-then-blur response to a unit impulse (what one isolated seed becomes)."""
    side = 2 * (math.ceil(length) + gaussian_kernel_size(max(spread_sigma, 0.1))) + 1
    impulse = np.zeros((side, side), dtype=np.float32)
    impulse[side // 2, side // 2] = 1.0
    return float(motion_blur(gaussian_blur(impulse, spread_sigma), length, angle).max())


def add_rain(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    density: float,
    length: float,
    angle: float,
    width: float,
    brightness: float,
) -> np.ndarray:
    """``image`` + a streak layer (the same on all channels: rain is achromatic), clipped to [0, 1].

    The additive model O = B + S is how Rain100L/Rain100H were synthesised.
    """
    layer = rain_layer(
        image.shape[0],
        image.shape[1],
        rng,
        density=density,
        length=length,
        angle=angle,
        width_px=width,
        brightness=brightness,
    )
    rainy: np.ndarray = np.clip(image + layer[:, :, None], 0.0, 1.0).astype(np.float32)
    return rainy


def __getattr__(name: str) -> object:
    """A public name of ``pipeline`` (its ``__all__``), looked up there on first use: ``pipeline``
    imports this module, so it cannot be imported at the top. Other names raise ``AttributeError``."""
    if not name.startswith("_"):
        from irstudio.data import pipeline

        if name in pipeline.__all__:
            return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "add_gaussian_noise",
    "add_rain",
    "bicubic_downscale",
    "gaussian_blur",
    "jpeg_compress",
    "motion_blur",
    "motion_kernel",
    "rain_layer",
]
