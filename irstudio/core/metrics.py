"""PSNR and SSIM exactly as the restoration papers compute them (the MATLAB scripts, and BasicSR's
``calculate_psnr`` / ``calculate_ssim`` with ``test_y_channel``).

Protocol (see ../shared/data/README.md):

1. Both images are 8-bit: uint8 arrays are used as they are; float arrays are taken as [0, 1] and
   quantised as the papers save their outputs (clip, ``round(255 x)`` half away from zero).
2. ``space="y"``: an RGB image becomes the Y of BT.601 studio range, as MATLAB's ``rgb2ycbcr`` on a
   double image: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], so Y lies in
   [16, 235] on the 0-255 scale. Y is *not* rounded. ``space="rgb"``: the three channels as they are.
   A gray image (HxW or HxWx1) is used as it is in both spaces.
3. ``crop`` pixels are removed at each of the four borders (``crop = scale`` for super-resolution).
4. Everything is computed in float64 on the 0-255 scale.
5. PSNR = ``10 log10(255^2 / MSE)`` with the MSE over all pixels (and channels); identical images give
   ``inf``.
6. SSIM (Wang et al. 2004, as ``ssim_index.m``): Gaussian window 11x11 with sigma 1.5 (normalised),
   ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2``, local statistics on the *valid* region only (5 pixels
   lost at each border after the crop), the mean of the SSIM map. In RGB, the mean over channels of the
   per-channel SSIM.

Benchmark figures are the mean over images of the per-image values. numpy and OpenCV (the SSIM
window), CPU only, no torch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["psnr", "rgb_to_y", "ssim"]

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)  # on [0, 1] RGB, gives Y - 16
_Y_OFFSET = 16.0
_SSIM_RADIUS = 5  # window 11x11
_SSIM_SIGMA = 1.5
_SSIM_C1 = (0.01 * 255.0) ** 2
_SSIM_C2 = (0.03 * 255.0) ** 2
_SPACES = ("y", "rgb")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Y of BT.601 studio range (MATLAB ``rgb2ycbcr`` on a double image), float64 HxW in [16, 235].

    ``img`` is HxWx3 RGB, uint8 (0-255) or float ([0, 1], used without quantising). Not rounded.
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects an HxWx3 RGB image, got shape {img.shape}")
    unit = img.astype(np.float64) / 255.0 if np.issubdtype(img.dtype, np.integer) else img.astype(np.float64)
    return unit @ _Y_WEIGHTS + _Y_OFFSET


def psnr(img: np.ndarray, ref: np.ndarray, *, crop: int = 0, space: str = "y") -> float:
    """Peak signal-to-noise ratio in dB between ``img`` and ``ref`` (see the module protocol).

    Both are HxWx3 RGB or HxW gray, uint8 or float in [0, 1], with the same shape. ``inf`` when equal.
    """
    a, b = _prepare_pair(img, ref, crop=crop, space=space)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def ssim(img: np.ndarray, ref: np.ndarray, *, crop: int = 0, space: str = "y") -> float:
    """Structural similarity (Gaussian 11x11, sigma 1.5, valid region) between ``img`` and ``ref``.

    Same inputs as :func:`psnr`; the images after the crop must be at least 11x11. Returns a float in
    [-1, 1], 1 for identical images; RGB is the mean of the per-channel values.
    """
    a, b = _prepare_pair(img, ref, crop=crop, space=space)
    if min(a.shape[0], a.shape[1]) < 2 * _SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs at least 11x11 pixels after the crop, got {a.shape[:2]}")
    if a.ndim == 2:
        return _ssim_channel(a, b)
    return float(np.mean([_ssim_channel(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))


def _prepare_pair(
    img: np.ndarray, ref: np.ndarray, *, crop: int, space: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate, quantise, convert to the metric space and crop both images; float64 0-255 out."""
    if img.shape != ref.shape:
        raise ValueError(f"images differ in shape: img {img.shape} vs ref {ref.shape}")
    if space not in _SPACES:
        raise ValueError(f"space must be one of {_SPACES}, got {space!r}")
    if crop < 0:
        raise ValueError(f"crop must be >= 0, got {crop}")
    height, width = img.shape[:2]
    if 2 * crop >= min(height, width):
        raise ValueError(f"crop {crop} leaves nothing of a {height}x{width} image")
    return (_to_metric_space(img, space, crop), _to_metric_space(ref, space, crop))


def _to_metric_space(img: np.ndarray, space: str, crop: int) -> np.ndarray:
    """One image as float64 on the 0-255 scale in the metric space, borders cropped (HxW or HxWx3)."""
    quantised = _as_uint8(img)
    if quantised.ndim == 3 and quantised.shape[2] == 1:
        quantised = quantised[:, :, 0]
    if quantised.ndim == 3 and quantised.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB or HxW gray image, got shape {img.shape}")
    is_rgb = quantised.ndim == 3
    values = rgb_to_y(quantised) if is_rgb and space == "y" else quantised.astype(np.float64)
    if crop:
        values = values[crop:-crop, crop:-crop]
    return values


def _as_uint8(img: np.ndarray) -> np.ndarray:
    """uint8 as is; float taken as [0, 1], clipped and rounded half away from zero to 0-255 uint8."""
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an HxWx3 RGB or HxW gray image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    if np.issubdtype(img.dtype, np.floating):
        scaled = np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0
        return np.floor(scaled + 0.5).astype(np.uint8)
    raise TypeError(f"metrics take uint8 or float [0, 1] images, got {img.dtype}")


def gaussian_window_1d(radius: int = _SSIM_RADIUS, sigma: float = _SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian of length ``2 radius + 1`` (its outer product is MATLAB's fspecial)."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-(offsets**2) / (2.0 * sigma**2))
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def _filter_valid(channel: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Correlation of a 2-D float64 array with ``outer(window, window)``, valid region only.

    OpenCV's separable filter in float64 (10x faster than numpy taps); the border it pads is cropped
    away, so only fully covered positions remain: ``(H - 10) x (W - 10)`` for the 11x11 window.
    """
    radius = window.shape[0] // 2
    full = cv2.sepFilter2D(channel, cv2.CV_64F, window, window, borderType=cv2.BORDER_REFLECT)
    return full[radius:-radius, radius:-radius]


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM map of two float64 HxW channels on the 0-255 scale (valid Gaussian filtering)."""
    window = gaussian_window_1d()
    mu_a = _filter_valid(a, window)
    mu_b = _filter_valid(b, window)
    mu_a_sq, mu_b_sq, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a = _filter_valid(a * a, window) - mu_a_sq
    var_b = _filter_valid(b * b, window) - mu_b_sq
    cov_ab = _filter_valid(a * b, window) - mu_ab
    numerator = (2.0 * mu_ab + _SSIM_C1) * (2.0 * cov_ab + _SSIM_C2)
    denominator = (mu_a_sq + mu_b_sq + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return float(np.mean(numerator / denominator))
