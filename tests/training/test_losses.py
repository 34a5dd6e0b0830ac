"""Loss terms: L1 + 0.1 x FFT-L1, Charbonnier, and the NaN guard's message."""

from __future__ import annotations

import math

import pytest
import torch

from irstudio.training.losses import (
    GRADIENT_TERM,
    build_loss,
    charbonnier_loss,
    describe_non_finite,
    fft_l1_loss,
)


def test_l1_fft_has_two_named_terms_with_the_fft_weighted() -> None:
    pred, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    terms = build_loss("l1_fft", fft_weight=0.1)(pred, target)
    assert list(terms) == ["l1", "fft"]
    assert terms["l1"].item() == pytest.approx((pred - target).abs().mean().item())
    assert terms["fft"].item() == pytest.approx(0.1 * fft_l1_loss(pred, target).item())


def test_fft_loss_is_zero_for_equal_images_and_ortho_is_patch_size_free() -> None:
    image = torch.rand(1, 3, 32, 32)
    assert fft_l1_loss(image, image).item() == 0.0
    small = fft_l1_loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), norm="ortho").item()
    large = fft_l1_loss(torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128), norm="ortho").item()
    assert small == pytest.approx(large, rel=0.1)
    backward = fft_l1_loss(torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)).item()
    assert backward > 50 * large  # the papers' unnormalised FFT grows with the side


def test_charbonnier_is_close_to_l1_for_large_errors_and_eps_at_zero() -> None:
    pred, target = torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.5)
    assert charbonnier_loss(pred, target, eps=1e-3).item() == pytest.approx(0.5, abs=1e-5)
    assert charbonnier_loss(pred, pred, eps=1e-3).item() == pytest.approx(1e-3)
    assert list(build_loss("charbonnier")(pred, target)) == ["charbonnier"]


def test_gradients_flow_through_every_term() -> None:
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    sum(build_loss("l1_fft")(pred, torch.rand(1, 3, 16, 16)).values()).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_guard_message_names_only_the_bad_term() -> None:
    message = describe_non_finite({"l1": 0.02, "fft": math.nan, GRADIENT_TERM: 1.0}, step=41)
    assert "loss term 'fft' = nan" in message and "'l1'" not in message and "step 41" in message
    assert "gradient norm = inf" in describe_non_finite({"l1": 0.1, GRADIENT_TERM: math.inf}, step=2)
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("l2")
