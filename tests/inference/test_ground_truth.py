"""Ground-truth mode without Qt: degraded/reference pairs, their protocol, and scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irstudio.core.image_io import to_uint8
from irstudio.core.metrics import psnr, ssim
from irstudio.core.resize import imresize
from irstudio.data.degradations import (
    Degradation,
    Downscale,
    Jpeg,
    Noise,
    Rain,
    add_gaussian_noise,
    bicubic_downscale,
    jpeg_compress,
)
from irstudio.inference.ground_truth import (
    GroundTruthSpec,
    make_ground_truth,
    protocol_for,
    score_input,
    score_result,
    score_rows,
)
from irstudio.models.spec import Task


def photo(height: int = 61, width: int = 83, seed: int = 0) -> np.ndarray:
    """A smooth-ish image (gradients plus texture), float32 HxWx3 in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 5) * np.cos(y / 7)], axis=2)
    return np.clip(base + 0.05 * rng.standard_normal(base.shape, dtype=np.float32), 0, 1).astype(np.float32)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_pair_sizes_match_the_scale_and_the_benchmark_downscale(scale: int) -> None:
    clean = photo()
    pair = make_ground_truth(clean, GroundTruthSpec.of(Downscale(scale=scale)))
    height, width = 61 // scale * scale, 83 // scale * scale
    assert pair.reference.shape == (height, width, 3)
    assert pair.degraded.shape == (61 // scale, 83 // scale, 3)
    assert np.array_equal(pair.reference, clean[:height, :width])
    assert np.array_equal(pair.degraded, bicubic_downscale(clean, scale))
    assert pair.protocol.task is Task.SR and pair.protocol.crop == scale and pair.protocol.space == "y"
    assert pair.header == f"bicubic ÷{scale}; PSNR/SSIM on Y, crop {scale}, uint8 outputs"


def test_noise_pair_is_seeded_unclipped_and_measured_on_rgb() -> None:
    clean = photo()
    spec = GroundTruthSpec.of(Noise(sigma=25), seed=7)
    pair = make_ground_truth(clean, spec)
    expected = add_gaussian_noise(clean, 25.0, np.random.default_rng(7))
    assert np.array_equal(pair.degraded, expected)
    assert pair.degraded.min() < 0 or pair.degraded.max() > 1  # not clipped, as the papers
    assert np.array_equal(make_ground_truth(clean, spec).degraded, pair.degraded)
    assert not np.array_equal(
        make_ground_truth(clean, GroundTruthSpec.of(Noise(sigma=25), seed=8)).degraded, expected
    )
    assert pair.protocol.task is Task.DENOISE and pair.protocol.space == "rgb" and pair.protocol.sigma == 25
    assert pair.header == "noise σ 25 (seed 7); PSNR/SSIM on RGB, crop 0, uint8 outputs"


def test_jpeg_and_rain_pairs() -> None:
    clean = photo()
    jpeg = make_ground_truth(clean, GroundTruthSpec.of(Jpeg(quality=20)))
    assert np.array_equal(jpeg.degraded, jpeg_compress(clean, 20))
    assert jpeg.protocol.task is Task.JPEG and jpeg.protocol.quality == 20 and jpeg.protocol.space == "y"
    rain_step = Rain(density=0.01, length=15, angle=10, width=1.5, brightness=0.8)
    rain = make_ground_truth(clean, GroundTruthSpec.of(rain_step, seed=3))
    assert rain.degraded.shape == clean.shape and rain.protocol.task is Task.DERAIN
    assert (
        rain.degraded >= clean - 1e-6
    ).all() and rain.degraded.mean() > clean.mean() + 0.005  # streaks add light
    assert "rain 15px at 10°" in rain.header


def test_scores_equal_a_direct_metrics_call() -> None:
    clean = photo()
    pair = make_ground_truth(clean, GroundTruthSpec.of(Downscale(scale=4)))
    result = np.clip(imresize(pair.degraded, output_shape=pair.reference.shape[:2]) + 0.01, 0, 1)
    value_psnr, value_ssim = score_result(result, pair)
    out_u8, ref_u8 = to_uint8(result), to_uint8(pair.reference)
    assert value_psnr == psnr(out_u8, ref_u8, crop=4, space="y")
    assert value_ssim == ssim(out_u8, ref_u8, crop=4, space="y")

    noisy = make_ground_truth(clean, GroundTruthSpec.of(Noise(sigma=15), seed=1))
    assert score_result(noisy.degraded, noisy) == (
        psnr(to_uint8(noisy.degraded), to_uint8(clean), space="rgb"),
        ssim(to_uint8(noisy.degraded), to_uint8(clean), space="rgb"),
    )
    assert score_result(clean, noisy)[0] == math.inf
    with pytest.raises(ValueError, match="differ in size"):
        score_result(noisy.degraded[:-1], noisy)


def test_input_row_scores_the_degraded_input_bicubic_upscaled_for_sr() -> None:
    clean = photo()
    pair = make_ground_truth(clean, GroundTruthSpec.of(Downscale(scale=2)))
    label, value_psnr, value_ssim = score_input(pair)
    upscaled = imresize(pair.degraded, output_shape=pair.reference.shape[:2])
    assert label == "input (bicubic ×2)" and (value_psnr, value_ssim) == score_result(upscaled, pair)
    jpeg = make_ground_truth(clean, GroundTruthSpec.of(Jpeg(quality=10)))
    assert score_input(jpeg) == ("input (degraded)", *score_result(jpeg.degraded, jpeg))
    rows = score_rows(jpeg, [("clean", clean), ("grey", np.full_like(clean, 0.5))])
    assert [r[0] for r in rows] == ["input (degraded)", "clean", "grey"]
    assert rows[1][1] == math.inf and rows[1][2] == 1.0 and rows[2][1] < rows[0][1]
    assert score_rows(jpeg, [], with_input=False) == []


def test_spec_checks_and_names_its_task() -> None:
    assert GroundTruthSpec.of(Rain()).task is Task.DERAIN
    assert GroundTruthSpec.of(Downscale(scale=3)).scale == 3
    assert protocol_for(GroundTruthSpec.of(Jpeg(quality=40))).quality == 40
    with pytest.raises(ValueError, match="one step"):
        GroundTruthSpec(Degradation((Noise(sigma=5), Jpeg(quality=30))))
    with pytest.raises(ValueError, match="one step"):
        GroundTruthSpec(Degradation(()))
