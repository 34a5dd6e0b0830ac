"""Spectra: a pure sinusoid peaks at its bin, 8x8 blocks show the JPEG grid, HF ratio, error maps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from irstudio.inference.maps.compute import error_parts, spectrum_parts
from irstudio.inference.maps.spectrum import (
    HF_CUTOFF,
    grid_peak_contrast,
    high_frequency_ratio,
    log_magnitude,
    luma,
    periodicity_spectrum,
    radial_profile,
)


def _smooth(height: int = 128, width: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width] / height
    return (
        0.5
        + 0.25 * np.sin(2 * np.pi * (1.3 * xx + 0.7 * yy))
        + 0.2 * np.cos(2 * np.pi * (0.4 * xx - 1.1 * yy))
    )


def _block_means(image: np.ndarray, block: int = 8) -> np.ndarray:
    h, w = image.shape
    means = image.reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return np.repeat(np.repeat(means, block, axis=0), block, axis=1)


@pytest.mark.parametrize(("ky", "kx"), [(0, 10), (6, 8), (20, 0)])
def test_pure_sinusoid_peaks_at_its_frequency_bin(ky: int, kx: int) -> None:
    height, width = 96, 128
    yy, xx = np.mgrid[0:height, 0:width]
    image = 0.5 + 0.4 * np.sin(2 * np.pi * (ky * yy / height + kx * xx / width))
    spectrum = log_magnitude(np.repeat(image[:, :, None], 3, axis=2))
    peak = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    centre = (height // 2, width // 2)
    assert peak in {(centre[0] + ky, centre[1] + kx), (centre[0] - ky, centre[1] - kx)}
    frequencies, power = radial_profile(image)
    expected = np.hypot(ky / height, kx / width)
    width_of_bin = frequencies[1] - frequencies[0]
    assert abs(frequencies[np.nanargmax(power)] - expected) <= width_of_bin


def _grid_contrast(spectrum: np.ndarray, axis: int, k: int, period: int = 8) -> float:
    """log10 peak near k/period on the axis line through DC minus the mean of the flanks 5..7 bins away."""
    centre = spectrum.shape[axis] // 2
    line = spectrum[spectrum.shape[0] // 2] if axis == 1 else spectrum[:, spectrum.shape[1] // 2]
    at = centre + k * spectrum.shape[axis] // period
    flanks = np.concatenate([line[at - 7 : at - 4], line[at + 5 : at + 8]])
    return float(line[at - 2 : at + 3].max() - flanks.mean())


def test_blocks_of_8x8_show_the_jpeg_grid_peaks() -> None:
    smooth = _smooth()
    blocky = log_magnitude(_block_means(smooth))
    plain = log_magnitude(smooth)
    for axis in (0, 1):
        for k in (1, 2, 3):
            assert _grid_contrast(blocky, axis, k) > 1.5  # > 30x the surrounding magnitude
            assert _grid_contrast(plain, axis, k) < 0.5
    frequencies, power = radial_profile(_block_means(smooth))
    at = np.argmin(np.abs(frequencies - 1 / 8))
    assert power[at - 1 : at + 2].max() > 10 * power[np.argmin(np.abs(frequencies - 0.16))]
    assert power[at - 1 : at + 2].max() > 10 * power[np.argmin(np.abs(frequencies - 0.09))]


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    grey = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    encoded = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) / 255.0


def test_a_real_jpeg_grid_shows_in_the_periodicity_spectrum() -> None:
    rng = np.random.default_rng(4)
    textured = np.clip(
        _smooth(256, 256) + 0.08 * cv2.GaussianBlur(rng.standard_normal((256, 256)), (0, 0), 1.2), 0, 1
    )
    assert grid_peak_contrast(_jpeg(textured, 20)) > 0.6  # about 4x the surroundings or more
    assert abs(grid_peak_contrast(textured)) < 0.2
    assert grid_peak_contrast(_block_means(textured)) > 1.0
    spectrum = periodicity_spectrum(_jpeg(textured, 20))
    assert spectrum[128, 128 + 32] > np.median(spectrum[120:137, 150:167]) + 0.5  # the dot at 1/8 cycle/px
    assert np.isnan(grid_peak_contrast(textured[:40, :40]))


def test_high_frequency_ratio_of_noise_and_of_smooth_images() -> None:
    assert HF_CUTOFF == 0.25
    noise = np.random.default_rng(0).random((128, 128))
    # white noise: the share of the frequency square outside radius 0.25 is 1 - pi / 16
    assert high_frequency_ratio(noise) == pytest.approx(1 - np.pi / 16, abs=0.03)
    assert high_frequency_ratio(_smooth()) < 0.01
    assert high_frequency_ratio(np.full((32, 32), 0.3)) == 0.0


def test_luma_weights_and_shapes() -> None:
    rgb = np.zeros((2, 3, 3))
    rgb[..., 1] = 1.0
    assert np.allclose(luma(rgb), 0.587)
    assert log_magnitude(np.random.default_rng(1).random((40, 70, 3))).shape == (40, 70)
    with pytest.raises(ValueError):
        luma(np.zeros((4, 4, 2)))


def test_spectrum_parts_for_sr_share_one_frequency_axis() -> None:
    rng = np.random.default_rng(2)
    source = rng.random((32, 40, 3)).astype(np.float32)
    output = rng.random((64, 80, 3)).astype(np.float32)
    parts = spectrum_parts(source, output, output, scale=2)
    keys = [m.key for m in parts.maps]
    assert keys == ["fft/input", "fft/output", "fft/reference", "fft/difference", "grid/input", "grid/output"]
    assert all(m.values.shape == (64, 80) and m.grid == "spectrum" for m in parts.maps)
    assert np.isnan(parts.numbers["8x8 grid peaks, input (decades)"])  # 32 px: too small to measure
    chart = parts.charts[0]
    assert chart.style == "curves" and chart.vline == HF_CUTOFF
    assert [s.name for s in chart.series] == ["input (bicubic x2)", "output", "reference", "difference"]
    assert all(len(s.values) == len(chart.x) for s in chart.series)
    assert parts.numbers["HF ratio, output"] == pytest.approx(parts.numbers["HF ratio, reference"])
    assert parts.numbers["HF ratio, input (bicubic x2)"] < parts.numbers["HF ratio, output"]


def test_error_map_is_the_absolute_difference_with_its_range() -> None:
    reference = np.full((8, 10, 3), 0.5, dtype=np.float32)
    output = reference.copy()
    output[2, 3] = [0.6, 0.7, 0.8]  # mean |error| 0.2 at one pixel
    parts = error_parts(output, reference)
    absolute = parts.maps[0]
    assert absolute.key == "error/abs" and absolute.vmin == 0.0
    assert absolute.values[2, 3] == pytest.approx(0.2)
    assert np.count_nonzero(absolute.values) == 1
    assert absolute.vmax == pytest.approx(0.2)
    assert "0.2000" in absolute.note
    assert parts.numbers["max |error|"] == pytest.approx(0.2)
    assert parts.numbers["mean |error|"] == pytest.approx(0.2 / 80)
    signed = parts.maps[1]
    assert signed.cmap == "coolwarm" and signed.vmin == -signed.vmax
    assert signed.values[2, 3] > 0
