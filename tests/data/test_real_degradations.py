"""The real-photo degradation: its kernels, its noise, and the second-order chain built from them."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from irstudio.core.metrics import psnr
from irstudio.data import real_degradations as real
from irstudio.data.degradations import add_gaussian_noise
from irstudio.data.pipeline import Degradation, RealPhoto, degrade


def _photo(height: int = 128, width: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 0.5 + 0.25 * np.sin(x / 7.0)[..., None] * np.cos(y / 11.0)[..., None] * np.array([1.0, 0.7, 0.4])
    texture = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 1.0) - 0.5
    return np.clip(base + 0.1 * texture, 0.0, 1.0).astype(np.float32)


def test_bessel_j1_matches_tabulated_values() -> None:
    values = real.bessel_j1(np.array([0.0, 1.0, 10.0, 50.0]))
    np.testing.assert_allclose(values, [0.0, 0.4400505857, 0.0434727462, -0.0975118281], atol=1e-9)


@pytest.mark.parametrize("family", ["gaussian", "generalized", "plateau"])
def test_kernels_are_normalised_centred_and_follow_their_axes(family: str) -> None:
    iso = real.kernel_for(15, real.KernelShape(2.0, 2.0, family=family, beta=1.5))
    assert iso.shape == (15, 15) and iso.dtype == np.float32
    assert math.isclose(float(iso.sum()), 1.0, rel_tol=1e-5)
    assert np.unravel_index(iso.argmax(), iso.shape) == (7, 7)
    np.testing.assert_allclose(iso, iso.T, atol=1e-7)  # isotropic: symmetric
    wide = real.kernel_for(15, real.KernelShape(3.0, 0.5, theta=0.0, family=family, beta=1.5))
    assert wide[7, 11] > wide[11, 7] * 5  # wide along x, thin along y
    turned = real.kernel_for(15, real.KernelShape(3.0, 0.5, theta=math.pi / 2, family=family, beta=1.5))
    np.testing.assert_allclose(turned, wide.T, atol=1e-6)


def test_gaussian_kernel_equals_opencv_gaussian() -> None:
    ours = real.kernel_for(13, real.KernelShape(1.7, 1.7))
    column = cv2.getGaussianKernel(13, 1.7)
    np.testing.assert_allclose(ours, column @ column.T, atol=1e-6)


def test_kernel_side_and_family_are_checked() -> None:
    with pytest.raises(ValueError, match="odd"):
        real.kernel_for(8, real.KernelShape(1.0, 1.0))
    with pytest.raises(ValueError, match="family"):
        real.kernel_for(7, real.KernelShape(1.0, 1.0, family="box"))


def test_sinc_kernel_is_a_low_pass_with_its_cutoff() -> None:
    kernel = real.sinc_kernel(21, math.pi / 3)
    assert math.isclose(float(kernel.sum()), 1.0, rel_tol=1e-5)
    response = np.abs(np.fft.fft2(kernel, s=(256, 256)))
    frequencies = np.fft.fftfreq(256) * 2 * math.pi
    along = response[0]
    assert along[np.abs(frequencies - 0.15).argmin()] == pytest.approx(1.0, abs=0.1)  # pass band
    assert along[np.abs(frequencies - 2.0).argmin()] < 0.1  # stop band, well above π/3
    assert kernel.min() < 0  # the negative lobes that make ringing
    with pytest.raises(ValueError, match="cutoff"):
        real.sinc_kernel(7, 4.0)


def test_random_kernels_cover_sizes_and_families() -> None:
    rng = np.random.default_rng(0)
    sides = {real.random_blur_kernel(rng, (0.2, 3.0)).shape[0] for _ in range(200)}
    assert sides <= set(real.KERNEL_SIDES) and len(sides) >= 6
    assert real.random_sinc_kernel(rng).shape[0] in real.KERNEL_SIDES


def test_poisson_noise_grows_with_brightness_and_keeps_the_mean() -> None:
    rng = np.random.default_rng(1)
    dark = np.full((200, 200, 3), 0.1, np.float32)
    bright = np.full((200, 200, 3), 0.8, np.float32)
    noisy_dark = real.add_poisson_noise(dark, 1.0, rng, gray=False)
    noisy_bright = real.add_poisson_noise(bright, 1.0, rng, gray=False)
    assert abs(float(noisy_bright.mean()) - 0.8) < 0.005
    assert noisy_bright.std() > 2 * noisy_dark.std()
    assert noisy_bright.std() == pytest.approx(math.sqrt(0.8 / 255), rel=0.1)  # shot noise: var = I / 255
    gray = real.add_poisson_noise(bright, 1.0, rng, gray=True)
    np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-6)  # one plane for all channels


def test_read_noise_is_clipped_and_gray_on_request() -> None:
    rng = np.random.default_rng(2)
    out = add_gaussian_noise(np.full((64, 64, 3), 0.5, np.float32), 30.0, rng, clip=True, gray=True)
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out[..., 0], out[..., 1])
    assert out.std() == pytest.approx(30 / 255, rel=0.1)


def test_resize_to_gives_the_asked_size() -> None:
    rng = np.random.default_rng(3)
    image = _photo(40, 60)
    for _ in range(6):
        assert real.resize_to(image, 17, 23, rng).shape == (17, 23, 3)
    assert real.resize_to(image, 0, 0, rng).shape == (1, 1, 3)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_real_photo_chain_sizes_range_and_quantisation(scale: int) -> None:
    clean = _photo(130, 126)
    degraded, target = degrade(clean, Degradation.for_task("realphoto", scale), np.random.default_rng(5))
    assert target.shape == (128 if scale == 4 else 130, 124 if scale == 4 else 126, 3)
    assert degraded.shape == (target.shape[0] // scale, target.shape[1] // scale, 3)
    assert degraded.dtype == np.float32 and degraded.min() >= 0 and degraded.max() <= 1
    np.testing.assert_allclose(degraded * 255, np.round(degraded * 255), atol=1e-3)  # saved as 8 bits


def test_real_photo_chain_is_seeded_and_varied() -> None:
    clean = _photo()
    chain = Degradation.for_task("realphoto", 1)
    first, _ = chain.apply(clean, np.random.default_rng(7))
    again, _ = chain.apply(clean, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    scores = [psnr(chain.apply(clean, np.random.default_rng(s))[0], clean) for s in range(12)]
    assert all(15 < score < 45 for score in scores), scores  # damaged, not destroyed
    assert max(scores) - min(scores) > 3  # mild to strong: parameters are drawn per image


def test_x4_chain_is_harder_than_the_x1_chain() -> None:
    clean = _photo(256, 256)
    x1 = Degradation.for_task("realphoto", 1)
    x4 = Degradation.for_task("realphoto", 4)
    mild = np.mean([psnr(x1.apply(clean, np.random.default_rng(s))[0], clean) for s in range(8)])
    up = [
        cv2.resize(x4.apply(clean, np.random.default_rng(s))[0], (256, 256), interpolation=cv2.INTER_CUBIC)
        for s in range(8)
    ]
    strong = np.mean([psnr(np.clip(u, 0, 1), clean) for u in up])
    assert strong < mild


def test_real_photo_step_checks_and_round_trips() -> None:
    step = RealPhoto(scale=2, noise_sigma=(2, 10), jpeg_quality=(50, 90))
    chain = Degradation((step,))
    assert chain.scale == 2
    assert Degradation.from_dict(chain.to_dict()) == chain
    assert "real photo ÷2" in chain.describe()
    assert "real photo (" in Degradation.for_task("realphoto", 1).describe()
    with pytest.raises(ValueError, match="scale"):
        RealPhoto(scale=5)
    with pytest.raises(ValueError, match="probability"):
        RealPhoto(scale=4, probability=0.5)
    with pytest.raises(ValueError, match="jpeg_quality"):
        RealPhoto(jpeg_quality=(0, 90))
    assert RealPhoto.mild().scale == 1 and RealPhoto(scale=1, probability=0.5).probability == 0.5
