"""Degradations: reproducible from a seed, and they do what their parameters say."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from irstudio.core.resize import imresize
from irstudio.data.degradations import (
    Degradation,
    Downscale,
    GaussianBlur,
    Jpeg,
    MotionBlur,
    Noise,
    Rain,
    add_gaussian_noise,
    add_rain,
    bicubic_downscale,
    degrade,
    gaussian_blur,
    jpeg_compress,
    motion_blur,
    motion_kernel,
    rain_layer,
)

ALL_STEPS = (Noise(), Downscale(scale=2), Jpeg(), Rain(), GaussianBlur(), MotionBlur())


def _photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and some texture, float32 in [0.1, 0.9] (room for noise and rain)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 0.5 + 0.25 * np.sin(x / 9.0)[..., None] * np.cos(y / 13.0)[..., None] * np.array([1.0, 0.7, 0.4])
    base[height // 3 : 2 * height // 3, width // 4 : width // 2] += 0.15
    texture = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 1.0) - 0.5
    return np.clip(base + 0.2 * texture, 0.1, 0.9).astype(np.float32)


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.kind)
def test_every_step_is_reproducible_from_a_seed(step) -> None:
    image = _photo()
    first = step.apply(image, np.random.default_rng(7))
    again = step.apply(image, np.random.default_rng(7))
    assert first.dtype == np.float32 and np.array_equal(first, again)
    if step.kind in ("noise", "rain", "jpeg", "gaussian_blur", "motion_blur"):  # random parameters
        other = step.apply(image, np.random.default_rng(8))
        assert not np.array_equal(first, other)


def test_pipeline_is_reproducible_and_composes_in_order() -> None:
    pipeline = Degradation((GaussianBlur(sigma=(1.0, 1.0)), Downscale(scale=2), Noise(sigma=(10.0, 10.0))))
    image = _photo()
    a, clean_a = pipeline.apply(image, np.random.default_rng(3))
    b, _ = pipeline.apply(image, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(clean_a, image)
    expected = add_gaussian_noise(
        bicubic_downscale(gaussian_blur(image, 1.0), 2), 10.0, np.random.default_rng(3)
    )
    assert np.array_equal(a, expected)


@pytest.mark.parametrize("sigma", [5.0, 15.0, 25.0, 50.0])
def test_noise_sigma_is_what_was_asked(sigma: float) -> None:
    image = np.full((256, 256, 3), 0.5, dtype=np.float32)
    noisy = Noise(sigma=(sigma, sigma)).apply(image, np.random.default_rng(0))
    measured = float(np.std(noisy - image) * 255.0)
    assert measured == pytest.approx(sigma, rel=0.02)


def test_gray_noise_is_the_same_on_every_channel_and_colour_noise_is_not() -> None:
    image = np.full((64, 64, 3), 0.5, dtype=np.float32)
    gray = Noise(sigma=(25.0, 25.0), gray_probability=1.0).apply(image, np.random.default_rng(1)) - image
    colour = Noise(sigma=(25.0, 25.0)).apply(image, np.random.default_rng(1)) - image
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    assert abs(np.corrcoef(colour[..., 0].ravel(), colour[..., 1].ravel())[0, 1]) < 0.05
    assert np.std(gray) * 255 == pytest.approx(25.0, rel=0.05)


def test_noise_range_is_sampled_inside_the_range() -> None:
    image = np.full((128, 128, 3), 0.5, dtype=np.float32)
    step = Noise(sigma=(10.0, 30.0))
    measured = [np.std(step.apply(image, np.random.default_rng(seed)) - image) * 255 for seed in range(40)]
    assert 9.5 < min(measured) < 14 and 26 < max(measured) < 30.5


def test_plain_noise_matches_the_evaluation_protocol_formula() -> None:
    image = _photo()
    expected = image + np.random.default_rng(5).standard_normal(image.shape, dtype=np.float32) * np.float32(
        25 / 255
    )
    assert np.array_equal(add_gaussian_noise(image, 25.0, np.random.default_rng(5)), expected)


def test_jpeg_error_falls_as_quality_rises() -> None:
    image = _photo(128, 128)
    errors = [float(np.mean((jpeg_compress(image, q) - image) ** 2)) for q in (5, 10, 20, 40, 70, 95)]
    assert errors == sorted(errors, reverse=True) and errors[0] > 4 * errors[-1]
    step = Jpeg(quality=(30, 30))
    assert np.array_equal(step.apply(image, np.random.default_rng(0)), jpeg_compress(image, 30))


def test_jpeg_quality_range_draws_whole_qualities_in_range() -> None:
    image = _photo(64, 64)
    outputs = {Jpeg(quality=(20, 22)).apply(image, np.random.default_rng(s)).tobytes() for s in range(30)}
    references = {jpeg_compress(image, q).tobytes() for q in (20, 21, 22)}
    assert outputs == references


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_sizes_and_matlab_bicubic(scale: int) -> None:
    image = _photo(101, 86)
    degraded, clean = Degradation.for_task("sr", scale).apply(image, np.random.default_rng(0))
    assert clean.shape == (101 - 101 % scale, 86 - 86 % scale, 3)
    assert degraded.shape == (clean.shape[0] // scale, clean.shape[1] // scale, 3)
    as_uint8 = np.clip(clean * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(degraded, imresize(as_uint8, 1 / scale).astype(np.float32) / 255)


def test_rain_adds_bright_streaks_along_the_requested_angle() -> None:
    image = np.full((160, 160, 3), 0.2, dtype=np.float32)
    for angle in (-30.0, 0.0, 20.0):
        rainy = add_rain(
            image, np.random.default_rng(0), density=0.004, length=30, angle=angle, width=1.5, brightness=0.8
        )
        added = rainy - image
        assert added.min() >= 0.0 and added.max() == pytest.approx(0.8, abs=0.05)
        assert np.array_equal(added[..., 0], added[..., 2])  # achromatic
        assert _streak_angle(added[..., 0]) == pytest.approx(angle, abs=4.0)


def _streak_angle(layer: np.ndarray) -> float:
    """Dominant streak direction in degrees from vertical, from the gradient structure tensor."""
    gx = cv2.Sobel(layer.astype(np.float64), cv2.CV_64F, 1, 0)
    gy = cv2.Sobel(layer.astype(np.float64), cv2.CV_64F, 0, 1)
    tensor = np.array([[np.sum(gx * gx), np.sum(gx * gy)], [np.sum(gx * gy), np.sum(gy * gy)]])
    _, vectors = np.linalg.eigh(tensor)
    gradient = vectors[:, 1]  # streaks run across the strongest gradient direction
    angle = math.degrees(math.atan2(-gradient[1], gradient[0]))
    return (angle + 90.0) % 180.0 - 90.0


def test_rain_density_and_length_set_the_coverage() -> None:
    def coverage(**kwargs) -> float:
        parameters = {
            "density": 0.002,
            "length": 20.0,
            "angle": 0.0,
            "width_px": 1.0,
            "brightness": 0.8,
            **kwargs,
        }
        return float(np.mean(rain_layer(200, 200, np.random.default_rng(0), **parameters) > 0.1))

    assert coverage(density=0.004) > 1.6 * coverage(density=0.002)
    assert coverage(length=40.0) > 1.5 * coverage(length=10.0)


def test_gaussian_blur_removes_detail_and_zero_sigma_is_identity() -> None:
    image = _photo()
    assert np.array_equal(gaussian_blur(image, 0.0), image)
    detail = [float(np.var(cv2.Laplacian(gaussian_blur(image, s), cv2.CV_32F))) for s in (0.5, 1.0, 2.0)]
    assert detail == sorted(detail, reverse=True)


def test_motion_kernel_is_a_normalised_line_of_the_given_length() -> None:
    kernel = motion_kernel(15, 0.0)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    column = kernel.sum(axis=1)
    assert np.count_nonzero(column > 1e-3) == 15 and np.count_nonzero(kernel.sum(axis=0) > 1e-3) == 1
    horizontal = motion_kernel(9, 90.0)
    assert np.count_nonzero(horizontal.sum(axis=0) > 1e-3) == 9
    noise = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    blurred = motion_blur(noise, 9, 90.0)  # smooth along x, untouched along y
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.3 * np.abs(np.diff(blurred, axis=0)).mean()


def test_task_defaults_and_dict_round_trip() -> None:
    for task, scale in (("denoise", 1), ("sr", 4), ("jpeg", 1), ("derain", 1)):
        pipeline = Degradation.for_task(task, scale)
        assert pipeline.scale == scale and Degradation.from_dict(pipeline.to_dict()) == pipeline
        assert pipeline.describe()
    with pytest.raises(ValueError, match="unknown task"):
        Degradation.for_task("colourise")


def test_invalid_parameters_are_named() -> None:
    with pytest.raises(ValueError, match=r"noise\.sigma"):
        Noise(sigma=(30.0, 10.0))
    with pytest.raises(ValueError, match=r"downscale\.scale must be 2, 3 or 4"):
        Downscale(scale=5)
    with pytest.raises(ValueError, match=r"rain\.angle"):
        Rain(angle=(-120.0, 0.0))
    with pytest.raises(ValueError, match=r"steps\[0\] \(jpeg\): unknown key 'qualty'"):
        Degradation.from_dict({"steps": [{"kind": "jpeg", "qualty": 40}]})
    assert Noise(sigma=25) == Noise(sigma=(25.0, 25.0))  # a single number is a fixed value


def test_probability_zero_skips_a_step_and_degrade_checks_shape() -> None:
    image = _photo()
    out, clean = degrade(image, Degradation((Noise(probability=0.0),)), np.random.default_rng(0))
    assert np.array_equal(out, image) and out is not clean
    with pytest.raises(ValueError, match="HxWx3"):
        degrade(image[..., 0], Degradation(), np.random.default_rng(0))


def test_pipeline_names_are_reachable_from_degradations_and_are_the_same_objects() -> None:
    from irstudio.data import degradations, pipeline

    for name in pipeline.__all__:
        assert getattr(degradations, name) is getattr(pipeline, name)
    with pytest.raises(AttributeError, match="no_such_step"):
        _ = degradations.no_such_step
    assert not hasattr(degradations, "_sample")  # private pipeline helpers are not re-exported
