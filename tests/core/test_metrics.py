"""PSNR/SSIM as the papers compute them: bicubic baselines, known values, an independent SSIM, contracts."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from irstudio.core.metrics import psnr, rgb_to_y, ssim
from irstudio.core.resize import imresize, modcrop

# (set, scale, PSNR-Y measured on these files per ../shared/data/README.md, SSIM-Y as printed in the
# EDSR/RCAN/SwinIR tables for bicubic). Tolerances: 0.02 dB (README), 0.001 SSIM.
BICUBIC_BASELINES = [
    ("Set5", 2, 33.67, 0.9299),
    ("Set5", 3, 30.40, 0.8682),
    ("Set5", 4, 28.43, 0.8104),
    ("Set14", 2, 30.23, 0.8688),
    ("Set14", 4, 26.00, 0.7027),
    ("B100", 2, 29.56, 0.8431),
    ("B100", 4, 25.96, 0.6675),
]


def read_png(path: Path) -> np.ndarray:
    """A benchmark PNG as uint8 HxW (gray) or HxWx3 RGB."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"cannot read {path}"
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def random_rgb(shape: tuple[int, ...] = (24, 28, 3), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def add_noise(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noisy = img.astype(np.float64) + np.random.default_rng(seed).normal(0.0, sigma, img.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def ssim_by_loops(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook SSIM of two 2-D float arrays: explicit 11x11 window at every valid position."""
    offsets = np.arange(-5, 6)
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for top in range(a.shape[0] - 10):
        for left in range(a.shape[1] - 10):
            pa, pb = a[top : top + 11, left : left + 11], b[top : top + 11, left : left + 11]
            mu_a, mu_b = (window * pa).sum(), (window * pb).sum()
            var_a = (window * (pa - mu_a) ** 2).sum()
            var_b = (window * (pb - mu_b) ** 2).sum()
            cov = (window * (pa - mu_a) * (pb - mu_b)).sum()
            values.append(
                ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
            )
    return float(np.mean(values))


def ssim_with_filter2d(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two 2-D float64 arrays with OpenCV's filter2D and a [5:-5] valid crop (BasicSR's way)."""
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.T)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def local_mean(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, -1, window)[5:-5, 5:-5]

    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mu_a**2
    var_b = local_mean(b * b) - mu_b**2
    cov = local_mean(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


@pytest.mark.data
@pytest.mark.parametrize(("set_name", "scale", "psnr_y", "ssim_y"), BICUBIC_BASELINES)
def test_bicubic_baselines(
    shared_data: Path, set_name: str, scale: int, psnr_y: float, ssim_y: float
) -> None:
    root = shared_data / "bench" / "sr" / set_name
    hr_paths = sorted((root / "HR").glob("*.png"))
    assert hr_paths, f"no HR images in {root}"
    psnrs, ssims = [], []
    for hr_path in hr_paths:
        hr = modcrop(read_png(hr_path), scale)
        lr = read_png(root / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
        upscaled = imresize(lr, output_shape=hr.shape[:2])
        psnrs.append(psnr(upscaled, hr, crop=scale))
        ssims.append(ssim(upscaled, hr, crop=scale))
    assert np.mean(psnrs) == pytest.approx(psnr_y, abs=0.02)
    assert np.mean(ssims) == pytest.approx(ssim_y, abs=0.001)


def test_rgb_to_y_is_bt601_studio_range() -> None:
    colours = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(colours)[0], [16.0, 235.0, 81.481, 144.553, 40.966], atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(colours.astype(np.float64) / 255.0), rgb_to_y(colours), atol=1e-9)
    assert rgb_to_y(colours).dtype == np.float64


def test_psnr_known_value() -> None:
    ref = np.full((16, 16, 3), 100, dtype=np.uint8)
    img = np.full((16, 16, 3), 110, dtype=np.uint8)
    assert psnr(img, ref, space="rgb") == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-12)
    # In Y the difference of 10 in each channel becomes 10 * 219 / 255.
    y_diff = 10 * 219 / 255
    assert psnr(img, ref, space="y") == pytest.approx(10 * math.log10(255**2 / y_diff**2), abs=1e-9)


def test_psnr_crop_ignores_the_border() -> None:
    ref = random_rgb((20, 20, 3))
    img = ref.copy()
    img[:3] = 255 - img[:3]
    img[:, -3:] = 0
    assert math.isfinite(psnr(img, ref, crop=2))
    assert psnr(img, ref, crop=3) == math.inf


def test_identical_images() -> None:
    img = random_rgb()
    assert psnr(img, img) == math.inf
    assert psnr(img, img.copy(), space="rgb") == math.inf
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert ssim(img, img, space="rgb", crop=2) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_images_has_the_closed_form() -> None:
    c1 = (0.01 * 255) ** 2
    a = np.full((15, 15), 100, dtype=np.uint8)
    b = np.full((15, 15), 150, dtype=np.uint8)
    expected = (2 * 100 * 150 + c1) / (100**2 + 150**2 + c1)  # no variance: the structure term is 1
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_agrees_with_a_loop_implementation() -> None:
    ref = random_rgb((19, 23, 3), seed=2)
    img = add_noise(ref, 30.0)
    expected_y = ssim_by_loops(rgb_to_y(img), rgb_to_y(ref))
    assert ssim(img, ref) == pytest.approx(expected_y, abs=1e-12)
    channels = [ssim_by_loops(img[:, :, c].astype(float), ref[:, :, c].astype(float)) for c in range(3)]
    assert ssim(img, ref, space="rgb") == pytest.approx(np.mean(channels), abs=1e-12)
    cropped = ssim_by_loops(rgb_to_y(img)[2:-2, 2:-2], rgb_to_y(ref)[2:-2, 2:-2])
    assert ssim(img, ref, crop=2) == pytest.approx(cropped, abs=1e-12)


@pytest.mark.data
def test_ssim_agrees_with_opencv_filter2d_on_a_photo(shared_data: Path) -> None:
    ref = read_png(shared_data / "bench" / "sr" / "Set5" / "HR" / "butterfly.png")
    img = imresize(imresize(ref, 0.5), 2)
    expected = ssim_with_filter2d(rgb_to_y(img)[2:-2, 2:-2], rgb_to_y(ref)[2:-2, 2:-2])
    assert ssim(img, ref, crop=2) == pytest.approx(expected, abs=1e-9)


def test_metrics_are_symmetric_and_bounded() -> None:
    ref = random_rgb(seed=3)
    img = add_noise(ref, 20.0)
    for space in ("y", "rgb"):
        assert psnr(img, ref, space=space) == psnr(ref, img, space=space)
        assert ssim(img, ref, space=space) == pytest.approx(ssim(ref, img, space=space), abs=1e-15)
        assert -1.0 <= ssim(img, ref, space=space) < 1.0
    assert ssim(255 - ref, ref, space="rgb") < 0.0  # an inverted image is anti-correlated


def test_more_noise_scores_lower() -> None:
    ref = cv2.GaussianBlur(random_rgb((40, 40, 3), seed=4), (5, 5), 1.5)
    scores = [(psnr(add_noise(ref, s), ref), ssim(add_noise(ref, s), ref)) for s in (2.0, 8.0, 25.0)]
    assert scores[0][0] > scores[1][0] > scores[2][0]
    assert scores[0][1] > scores[1][1] > scores[2][1]


def test_gray_images_are_used_as_they_are() -> None:
    ref = random_rgb((20, 20), seed=5)
    img = add_noise(ref, 10.0)
    assert psnr(img, ref, space="y") == psnr(img, ref, space="rgb")
    assert psnr(img[:, :, None], ref[:, :, None]) == psnr(img, ref)
    mse = np.mean((img.astype(float) - ref.astype(float)) ** 2)
    assert psnr(img, ref) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-12)


def test_float_inputs_are_quantised_to_uint8() -> None:
    ref = random_rgb(seed=6)
    img = add_noise(ref, 10.0)
    as_float = img.astype(np.float32) / 255.0
    assert psnr(as_float, ref) == pytest.approx(psnr(img, ref), abs=1e-12)
    assert ssim(as_float, ref) == pytest.approx(ssim(img, ref), abs=1e-12)
    nudged = as_float + np.float32(0.4 / 255)  # still rounds to the same uint8
    assert psnr(nudged, ref) == pytest.approx(psnr(img, ref), abs=1e-12)


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(10, 12, 3\).*\(10, 13, 3\)"):
        psnr(random_rgb((10, 12, 3)), random_rgb((10, 13, 3)))
    with pytest.raises(ValueError, match=r"\(20, 20\).*\(20, 20, 3\)"):
        ssim(random_rgb((20, 20)), random_rgb((20, 20, 3)))


def test_rejects_bad_arguments() -> None:
    img = random_rgb((20, 20, 3))
    with pytest.raises(ValueError, match="space"):
        psnr(img, img, space="lab")
    with pytest.raises(ValueError, match="crop"):
        psnr(img, img, crop=10)
    with pytest.raises(ValueError, match="11x11"):
        ssim(img, img, crop=5)
    with pytest.raises(ValueError, match="RGB"):
        psnr(random_rgb((8, 8, 4)), random_rgb((8, 8, 4)))
    with pytest.raises(TypeError, match="uint16"):
        psnr(img.astype(np.uint16), img.astype(np.uint16))
