"""Frequency views: log-magnitude spectra of the luma, radially averaged power spectra, and the
high-frequency energy ratio.

Luma: Y = 0.299 R + 0.587 G + 0.114 B (BT.601 weights) of RGB in [0, 1]. Before the FFT the mean is
removed and a 2-D Hann window (outer product of ``np.hanning``) is applied, so image borders do not
add a cross of false energy. Frequencies are in cycles per pixel: 0 .. 0.5 (Nyquist) on each axis.

``HF_CUTOFF = 0.25`` cycles/pixel (half the Nyquist frequency): the high-frequency ratio is the power
at radial frequency > 0.25 over the power at every frequency except DC.

Block grids (JPEG's 8x8) and tile seams are periodic *discontinuities*: on a real photo they barely show
in the spectrum of the image itself, but clearly in the spectrum of its gradient magnitude
|dY/dx| + |dY/dy| (``periodicity_spectrum``), which has lines at multiples of 1/period.
``grid_peak_contrast(image, 8)`` measures them: the median, over the axis bins k/8 (k = 1, 2, 3, both
axes), of log10 |F| at the bin minus its mean on a square ring around it, in decades (about 0 without a
grid; 1 = ten times the surroundings; a JPEG of quality 30 or less gives about 1).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HF_CUTOFF",
    "gradient_magnitude",
    "grid_peak_contrast",
    "high_frequency_ratio",
    "log_magnitude",
    "luma",
    "periodicity_spectrum",
    "power_spectrum",
    "radial_frequencies",
    "radial_profile",
]

HF_CUTOFF = 0.25
"""Radial frequency (cycles/pixel) above which power counts as high frequency."""

_LUMA = np.array([0.299, 0.587, 0.114])
_EPS = 1e-12
_FLAT_POWER = 1e-20


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an (H, W, 3) RGB image in [0, 1] (or an (H, W) image, returned as float64)."""
    values = np.asarray(rgb, dtype=np.float64)
    if values.ndim == 2:
        return values
    if values.ndim != 3 or values.shape[2] != 3:
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {values.shape}")
    return values @ _LUMA


def _spectrum(gray: np.ndarray) -> np.ndarray:
    """Centred complex FFT of the mean-removed, Hann-windowed (H, W) image."""
    height, width = gray.shape
    if height < 2 or width < 2:
        raise ValueError(f"a spectrum needs at least 2x2 pixels, got {width}x{height}")
    window = np.outer(np.hanning(height), np.hanning(width))
    return np.fft.fftshift(np.fft.fft2((gray - gray.mean()) * window))


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """|F|² of the windowed luma, centred (``fftshift``: DC at (H // 2, W // 2)); float64 (H, W)."""
    return np.abs(_spectrum(luma(image))) ** 2


def log_magnitude(image: np.ndarray) -> np.ndarray:
    """log10 |F| of the windowed luma, centred; float32 (H, W). Zero magnitude gives log10(1e-12)."""
    return np.log10(np.sqrt(power_spectrum(image)) + _EPS).astype(np.float32)


def radial_frequencies(shape: tuple[int, int]) -> np.ndarray:
    """Radial frequency (cycles/pixel) of every bin of a centred (H, W) spectrum; float64 (H, W)."""
    fy = np.fft.fftshift(np.fft.fftfreq(shape[0]))
    fx = np.fft.fftshift(np.fft.fftfreq(shape[1]))
    return np.hypot(fy[:, None], fx[None, :])


def radial_profile(image: np.ndarray, bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum: (bin centres in cycles/pixel, mean |F|² per bin), float64.

    ``bins`` rings of equal width over 0 .. 0.5 (default min(H, W) // 2); frequencies beyond 0.5 (the
    corners) are left out; an empty ring gets NaN.
    """
    power = power_spectrum(image)
    radius = radial_frequencies(power.shape)
    count = bins or max(2, min(power.shape) // 2)
    edges = np.linspace(0.0, 0.5, count + 1)
    index = np.digitize(radius.ravel(), edges) - 1
    inside = (index >= 0) & (index < count)
    sums = np.bincount(index[inside], weights=power.ravel()[inside], minlength=count)
    counts = np.bincount(index[inside], minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, mean


def high_frequency_ratio(image: np.ndarray, cutoff: float = HF_CUTOFF) -> float:
    """Share of the (non-DC) power above ``cutoff`` cycles/pixel, in [0, 1]; 0 for a flat image.

    "Flat" means a non-DC power below 1e-20 per pixel (rounding noise of a constant image).
    """
    power = power_spectrum(image)
    radius = radial_frequencies(power.shape)
    total = float(power[radius > 0].sum())
    if total <= _FLAT_POWER * power.size:
        return 0.0
    return float(power[radius > cutoff].sum()) / total


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """|dY/dx| + |dY/dy| of the luma (forward differences, zero on the last column/row); float64 (H, W)."""
    y = luma(image)
    gx = np.abs(np.diff(y, axis=1, append=y[:, -1:]))
    gy = np.abs(np.diff(y, axis=0, append=y[-1:, :]))
    return gx + gy


def periodicity_spectrum(image: np.ndarray) -> np.ndarray:
    """log10 |F| of the gradient magnitude, centred; float32 (H, W). Lines here mean periodic edges."""
    return log_magnitude(gradient_magnitude(image))


def grid_peak_contrast(image: np.ndarray, period: int = 8) -> float:
    """How far the periodicity spectrum stands out at multiples of 1/``period`` (see the module doc).

    NaN when the image is too small (a side under 8 periods).
    """
    height, width = np.asarray(image).shape[:2]
    if min(height, width) < 8 * period:
        return float("nan")
    spectrum = periodicity_spectrum(image)
    ring = max(2, min(height, width) // 40)
    cy, cx = height // 2, width // 2
    contrasts = []
    for k in range(1, period // 2):
        for y, x in ((cy, cx + round(k * width / period)), (cy + round(k * height / period), cx)):
            y0, y1, x0, x1 = y - ring, y + ring, x - ring, x + ring
            border = np.concatenate(
                [
                    spectrum[y0, x0 : x1 + 1],
                    spectrum[y1, x0 : x1 + 1],
                    spectrum[y0:y1, x0],
                    spectrum[y0:y1, x1],
                ]
            )
            contrasts.append(float(spectrum[y, x] - border.mean()))
    return float(np.median(contrasts))
