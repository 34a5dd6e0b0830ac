"""The operations of the second-order "real photo" degradation (Real-ESRGAN, Wang et al. 2021, §3).

Real photos carry mixed, unknown degradations: optics and focus blur, resizing by cameras and web
sites, sensor noise (Gaussian read noise and Poisson shot noise, in colour or luminance only) and JPEG
at unknown qualities, often twice (a photo resized and re-saved by a messenger). The pipeline that
chains these twice with random parameters is ``pipeline.RealPhoto``; this module holds its pieces:

- ``blur_kernel``: isotropic/anisotropic Gaussian, generalised Gaussian and plateau kernels
  (``kernel_for``), sampled by ``random_blur_kernel``; ``sinc_kernel``: the 2-D ideal low-pass
  (ringing and overshoot artefacts), its ``J1`` computed by quadrature (no SciPy needed).
- ``apply_kernel`` (mirrored borders), ``resize_to`` (area, bilinear or bicubic), ``add_poisson_noise``;
  read noise is ``degradations.add_gaussian_noise`` with ``clip=True``.

Images are float32 HxWx3 RGB in [0, 1]; randomness comes only from the Generator passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

KERNEL_SHAPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_SHAPE_PROBABILITIES = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # Real-ESRGAN's mix
KERNEL_SIDES = tuple(range(7, 22, 2))  # odd sides 7..21
GENERALIZED_BETA = (0.5, 4.0)
PLATEAU_BETA = (1.0, 2.0)
RESIZE_MODES = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)


@dataclass(frozen=True)
class KernelShape:
    """A blur kernel's parameters: stds along its axes (pixels), rotation (radians), family, beta."""

    sigma_x: float
    sigma_y: float
    theta: float = 0.0
    family: str = "gaussian"  # gaussian, generalized or plateau
    beta: float = 1.0


def _mahalanobis_grid(side: int, shape: KernelShape) -> np.ndarray:
    """x^T Σ^-1 x on a ``side`` x ``side`` grid centred on the middle pixel."""
    cos, sin = math.cos(shape.theta), math.sin(shape.theta)
    rotation = np.array([[cos, -sin], [sin, cos]])
    covariance = rotation @ np.diag([shape.sigma_x**2, shape.sigma_y**2]) @ rotation.T
    inverse = np.linalg.inv(covariance)
    half = side // 2
    ys, xs = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    points = np.stack([xs, ys], axis=-1)
    distances: np.ndarray = np.einsum("...i,ij,...j->...", points, inverse, points)
    return distances


def kernel_for(side: int, shape: KernelShape) -> np.ndarray:
    """A normalised (sums to 1) float32 ``side`` x ``side`` blur kernel of ``shape``.

    gaussian: exp(-d/2); generalized: exp(-d^beta/2) (flatter top for beta > 1, heavier tails
    below); plateau: 1 / (1 + d^beta), where d = x^T Σ^-1 x.
    """
    if side % 2 == 0 or side < 3:
        raise ValueError(f"kernel side must be odd and >= 3, got {side}")
    distance = _mahalanobis_grid(side, shape)
    if shape.family == "gaussian":
        kernel = np.exp(-0.5 * distance)
    elif shape.family == "generalized":
        kernel = np.exp(-0.5 * np.power(distance, shape.beta))
    elif shape.family == "plateau":
        kernel = 1.0 / (1.0 + np.power(distance, shape.beta))
    else:
        raise ValueError(f"unknown kernel family {shape.family!r}")
    normalised: np.ndarray = (kernel / kernel.sum()).astype(np.float32)
    return normalised


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """The Bessel function J1 by Bessel's integral (1/π)∫₀^π cos(τ - x sin τ) dτ (error < 1e-9 for
    |x| < 100, the range a 21-pixel sinc kernel needs)."""
    tau = np.linspace(0.0, math.pi, 1025)
    values = np.cos(tau[None, :] - np.asarray(x, dtype=np.float64).reshape(-1, 1) * np.sin(tau[None, :]))
    step = tau[1] - tau[0]
    integral = step * (values.sum(axis=1) - 0.5 * (values[:, 0] + values[:, -1]))
    j1: np.ndarray = (integral / math.pi).reshape(np.shape(x))
    return j1


def sinc_kernel(side: int, cutoff: float) -> np.ndarray:
    """The 2-D ideal low-pass with angular cutoff ``cutoff`` (radians per pixel, in (0, π]), as a
    normalised float32 ``side`` x ``side`` kernel: ω J1(ω r) / (2π r), ω²/(4π) at the centre."""
    if not 0.0 < cutoff <= math.pi:
        raise ValueError(f"sinc cutoff must be in (0, π], got {cutoff}")
    half = side // 2
    ys, xs = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    radius = np.hypot(xs, ys)
    safe = np.where(radius == 0, 1.0, radius)
    kernel = cutoff * bessel_j1(cutoff * safe) / (2.0 * math.pi * safe)
    kernel[half, half] = cutoff**2 / (4.0 * math.pi)
    normalised: np.ndarray = (kernel / kernel.sum()).astype(np.float32)
    return normalised


def random_sinc_kernel(rng: np.random.Generator) -> np.ndarray:
    """A sinc kernel of random odd side 7-21; the cutoff is lower (more ringing) for large sides."""
    side = int(rng.choice(KERNEL_SIDES))
    low = math.pi / 3 if side < 13 else math.pi / 5
    return sinc_kernel(side, float(rng.uniform(low, math.pi)))


def random_blur_kernel(rng: np.random.Generator, sigma: tuple[float, float]) -> np.ndarray:
    """A blur kernel of random odd side 7-21 and random family (Real-ESRGAN's mix), stds in ``sigma``."""
    side = int(rng.choice(KERNEL_SIDES))
    name = KERNEL_SHAPES[int(rng.choice(len(KERNEL_SHAPES), p=KERNEL_SHAPE_PROBABILITIES))]
    sigma_x = float(rng.uniform(*sigma))
    if name.endswith("aniso"):
        sigma_y, theta = float(rng.uniform(*sigma)), float(rng.uniform(-math.pi, math.pi))
    else:
        sigma_y, theta = sigma_x, 0.0
    family, beta = "gaussian", 1.0
    if name.startswith("generalized"):
        family, beta = "generalized", float(rng.uniform(*GENERALIZED_BETA))
    elif name.startswith("plateau"):
        family, beta = "plateau", float(rng.uniform(*PLATEAU_BETA))
    return kernel_for(side, KernelShape(sigma_x, sigma_y, theta, family, beta))


def apply_kernel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel with ``kernel`` (mirrored borders); float32 out, same size."""
    return cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def resize_to(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` resized to ``height`` x ``width`` with a random mode (area, bilinear, bicubic)."""
    mode = RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))]
    out = cv2.resize(image, (max(1, width), max(1, height)), interpolation=mode)
    return np.clip(out, 0.0, 1.0).reshape(max(1, height), max(1, width), -1)


def random_factor(
    rng: np.random.Generator, factor_range: tuple[float, float], up_down_keep: tuple[float, float, float]
) -> float:
    """A resize factor: up (1 to the range's top), down (its bottom to 1) or 1, with the given odds."""
    low, high = factor_range
    direction = int(rng.choice(3, p=up_down_keep))
    if direction == 0:
        return float(rng.uniform(1.0, max(1.0, high)))
    if direction == 1:
        return float(rng.uniform(min(1.0, low), 1.0))
    return 1.0


def add_poisson_noise(image: np.ndarray, scale: float, rng: np.random.Generator, *, gray: bool) -> np.ndarray:
    """Shot noise of an 8-bit sensor (counts = 255·value), amplified by ``scale``, clipped to [0, 1];
    ``gray`` draws it on the BT.601 luma and adds the same plane to all channels."""
    levels = 255.0
    if gray:
        luma = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        source = np.clip(luma, 0.0, 1.0)[..., None]
    else:
        source = np.clip(image, 0.0, 1.0)
    noise = rng.poisson(source * levels).astype(np.float32) / levels - source
    noisy: np.ndarray = np.clip(image + noise * np.float32(scale), 0.0, 1.0).astype(np.float32)
    return noisy


__all__ = [
    "KERNEL_SHAPES",
    "KernelShape",
    "add_poisson_noise",
    "apply_kernel",
    "bessel_j1",
    "kernel_for",
    "random_blur_kernel",
    "random_factor",
    "random_sinc_kernel",
    "resize_to",
    "sinc_kernel",
]
