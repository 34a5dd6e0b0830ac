"""MATLAB-compatible bicubic imresize: bit-exact on the SR benchmark LR files, shapes, dtypes, edge cases."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from irstudio.core.resize import contributions, cubic, imresize, modcrop

SR_SETS = ("Set5", "Set14", "B100")
SCALES = (2, 3, 4)


def read_png(path: Path) -> np.ndarray:
    """A benchmark PNG as uint8 HxW (gray) or HxWx3 RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"cannot read {path}"
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def smooth_image(shape: tuple[int, ...], low: float = 40.0, high: float = 215.0) -> np.ndarray:
    """A smooth float64 test image in [low, high] (no clipping at 0/255 after bicubic overshoot)."""
    rng = np.random.default_rng(1)
    coarse = rng.uniform(0.0, 1.0, size=(6, 6, *shape[2:]))
    fine = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return low + (high - low) * fine.reshape(shape)


@pytest.mark.data
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("set_name", SR_SETS)
def test_reproduces_benchmark_lr_bit_exactly(shared_data: Path, set_name: str, scale: int) -> None:
    root = shared_data / "bench" / "sr" / set_name
    hr_paths = sorted((root / "HR").glob("*.png"))
    assert hr_paths, f"no HR images in {root}"
    mismatched = []
    for hr_path in hr_paths:
        hr = modcrop(read_png(hr_path), scale)
        expected = read_png(root / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
        lr = imresize(hr, 1 / scale)
        assert lr.dtype == np.uint8
        if lr.shape != expected.shape or not np.array_equal(lr, expected):
            mismatched.append(hr_path.stem)
    assert not mismatched, f"{len(mismatched)}/{len(hr_paths)} LR images differ: {mismatched[:10]}"


def test_upscale_x2_weights_are_keys_cubic_with_clamped_borders() -> None:
    # Output pixel 1 of a x2 upscale sits at u = 0.75: taps at distances 1.75, 0.75, -0.25, -1.25.
    weights, indices = contributions(in_length=8, out_length=16, scale=2.0)
    np.testing.assert_allclose(weights[0], [-0.0234375, 0.2265625, 0.8671875, -0.0703125], atol=1e-15)
    assert indices[0].tolist() == [0, 0, 0, 1]  # 1-based -1, 0, 1, 2 clamped to the first pixel
    assert indices[-1].tolist() == [6, 7, 7, 7]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)


def test_cubic_kernel_values() -> None:
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -0.5])
    np.testing.assert_allclose(cubic(x), [1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0, 0.5625], atol=1e-15)


def test_downscale_kernel_is_widened_by_one_over_scale() -> None:
    weights, indices = contributions(in_length=40, out_length=10, scale=0.25)
    # ceil(4 / 0.25) + 2 = 18 candidate taps; the outer two sit at distance 8.5 > 8 (zero weight), dropped.
    assert weights.shape[1] == 16
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    assert indices.min() == 0 and indices.max() == 39


@pytest.mark.parametrize(
    ("shape", "scale", "expected"),
    [
        ((7, 5, 3), 2, (14, 10, 3)),
        ((7, 5), 3, (21, 15)),
        ((7, 5, 3), 4, (28, 20, 3)),
        ((10, 9), 1.5, (15, 14)),  # ceil(13.5)
        ((10, 9, 3), 1 / 3, (4, 3, 3)),  # ceil(3.33), ceil(3.0)
    ],
)
def test_output_shape_from_scale(shape: tuple[int, ...], scale: float, expected: tuple[int, ...]) -> None:
    img = np.full(shape, 77, dtype=np.uint8)
    out = imresize(img, scale)
    assert out.shape == expected
    assert out.dtype == np.uint8
    assert np.all(out == 77)  # weights sum to one: a constant image stays constant


def test_output_shape_argument_resizes_each_dimension_independently() -> None:
    img = smooth_image((12, 20, 3))
    out = imresize(img, output_shape=(30, 8))
    assert out.shape == (30, 8, 3)
    assert out.dtype == np.float64
    # Only the width changes: each row is resized on its own, columns do not mix.
    only_width = imresize(img, output_shape=(12, 8))
    np.testing.assert_allclose(only_width[3], imresize(img[3:4], output_shape=(1, 8))[0], atol=1e-12)


def test_upscale_then_downscale_is_close_to_the_original() -> None:
    rows, cols = np.mgrid[0:24, 0:30]
    img = 128.0 + 60.0 * np.sin(cols / 4.0) * np.cos(rows / 5.0)
    round_trip = imresize(imresize(img, 2), 0.5)
    assert round_trip.shape == img.shape
    error = np.abs(round_trip - img)
    assert error[2:-2, 2:-2].max() < 0.1  # smooth content survives x2 then /2 away from the borders
    assert error.max() < 2.0  # the replicated borders bend it a little


def test_uint8_single_pass_equals_rounded_float() -> None:
    img = np.round(smooth_image((16, 24, 3))).astype(np.uint8)
    as_uint8 = imresize(img, output_shape=(16, 37))
    as_float = imresize(img.astype(np.float64), output_shape=(16, 37))
    np.testing.assert_array_equal(as_uint8, np.floor(as_float + 0.5).astype(np.uint8))


def test_uint8_two_passes_within_one_level_of_float() -> None:
    # MATLAB rounds to uint8 after each dimension; without clipping that moves results by at most 1.
    img = np.round(smooth_image((33, 27, 3))).astype(np.uint8)
    for scale in (0.5, 1 / 3, 2.0, 3.0):
        as_uint8 = imresize(img, scale).astype(np.int64)
        as_float = imresize(img.astype(np.float64), scale)
        assert np.abs(as_uint8 - np.floor(as_float + 0.5)).max() <= 1
        assert np.abs(as_uint8 - as_float).mean() < 0.35


def test_float32_is_computed_in_float32_and_matches_float64() -> None:
    img = smooth_image((21, 17, 3)) / 255.0
    out32 = imresize(img.astype(np.float32), 0.25)
    out64 = imresize(img, 0.25)
    assert out32.dtype == np.float32 and out64.dtype == np.float64
    np.testing.assert_allclose(out32, out64, atol=2e-6)


def test_float_output_is_not_clipped() -> None:
    step = np.zeros((4, 12), dtype=np.float64)
    step[:, 6:] = 1.0
    out = imresize(step, 2)
    assert out.min() < 0.0 and out.max() > 1.0  # bicubic overshoot is kept for floats


def test_uint16_is_rounded_and_clipped_to_its_range() -> None:
    step = np.zeros((4, 12), dtype=np.uint16)
    step[:, 6:] = 65535
    out = imresize(step, 2)
    assert out.dtype == np.uint16
    assert out.min() == 0 and out.max() == 65535


@pytest.mark.parametrize("shape", [(1, 9), (9, 1), (1, 1), (3, 3), (3, 3, 3)])
@pytest.mark.parametrize("scale", [2, 3, 0.5, 1 / 3])
def test_tiny_and_odd_sizes(shape: tuple[int, ...], scale: float) -> None:
    img = np.round(smooth_image(shape)).astype(np.uint8)
    out = imresize(img, scale)
    expected_hw = tuple(int(np.ceil(scale * n)) for n in shape[:2])
    assert out.shape == expected_hw + shape[2:]
    assert out.min() >= img.min() - 40 and out.max() <= img.max() + 40


def test_3x3_downscale_by_3_is_the_weighted_mean_of_all_pixels() -> None:
    img = np.arange(9, dtype=np.float64).reshape(3, 3)
    weights, indices = contributions(in_length=3, out_length=1, scale=1 / 3)
    row = np.array([sum(w * img[i, :] for w, i in zip(weights[0], indices[0], strict=True))])
    expected = sum(w * row[:, i] for w, i in zip(weights[0], indices[0], strict=True))
    np.testing.assert_allclose(imresize(img, 1 / 3), expected.reshape(1, 1), atol=1e-12)
    assert imresize(img, 1 / 3)[0, 0] == pytest.approx(4.0, abs=1e-12)  # symmetric weights: the centre


def test_scale_one_returns_an_equal_copy() -> None:
    img = np.round(smooth_image((5, 6, 3))).astype(np.uint8)
    out = imresize(img, 1.0)
    np.testing.assert_array_equal(out, img)
    out[0, 0, 0] ^= 1
    assert not np.array_equal(out, img)


def test_non_contiguous_input_gives_the_same_result() -> None:
    img = np.round(smooth_image((20, 30, 3))).astype(np.uint8)
    flipped = img[:, ::-1]
    np.testing.assert_array_equal(imresize(flipped, 0.5), imresize(np.ascontiguousarray(flipped), 0.5))


def test_rejects_bad_arguments() -> None:
    img = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(img, 2, output_shape=(16, 16))
    with pytest.raises(ValueError, match="positive"):
        imresize(img, -1)
    with pytest.raises(TypeError, match="int32"):
        imresize(img.astype(np.int32), 2)
    with pytest.raises(ValueError, match="HxW"):
        imresize(np.zeros((2, 8, 8, 3), dtype=np.uint8), 2)


def test_modcrop_crops_bottom_and_right() -> None:
    img = np.arange(13 * 10 * 3, dtype=np.uint8).reshape(13, 10, 3)
    cropped = modcrop(img, 4)
    assert cropped.shape == (12, 8, 3)
    np.testing.assert_array_equal(cropped, img[:12, :8])
    assert modcrop(img[:, :, 0], 3).shape == (12, 9)
    assert modcrop(img, 1).shape == img.shape


@pytest.mark.slow
def test_6000x4000_photo_fits_in_bounded_memory() -> None:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(6000, 4000, 3), dtype=np.uint8)  # 69 MiB
    tracemalloc.start()
    try:
        small = imresize(photo, 0.25)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert small.shape == (1500, 1000, 3)
    # One contiguous uint8 channel (23 MiB) + the row pass output (6 MiB) + 8 MiB float64 blocks.
    assert peak < 150 * 2**20, f"peak {peak / 2**20:.0f} MiB"
