"""The one bottom/right padding of the architectures (``layers.pad_to_multiple``): sizes, modes,
fallbacks, and the same values as each architecture's former helper."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from irstudio.models.layers import pad_to_multiple, padded_side


def _image(height: int, width: int, *, channels: int = 3, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, height, width, generator=generator)


def _per_axis_reference(x: Tensor, target_h: int, target_w: int) -> Tensor:
    """Compacter's, AST's and LIR's former helper: rows then columns, each reflect if it can."""
    height, width = x.shape[-2:]
    pad_h, pad_w = target_h - height, target_w - width
    if pad_h:
        x = F.pad(x, (0, 0, 0, pad_h), mode="reflect" if pad_h < height else "replicate")
    if pad_w:
        x = F.pad(x, (0, pad_w, 0, 0), mode="reflect" if pad_w < width else "replicate")
    return x


def _joint_reference(x: Tensor, target_h: int, target_w: int) -> Tensor:
    """ASID's former helper: one mode for both axes, reflect only if both axes can."""
    height, width = x.shape[-2:]
    pad_h, pad_w = target_h - height, target_w - width
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


@pytest.mark.parametrize(
    ("size", "multiple", "minimum", "expected"),
    [(1, 8, 1, 8), (8, 8, 1, 8), (9, 8, 1, 16), (3, 8, 15, 16), (16, 8, 15, 16), (37, 32, 128, 128)],
)
def test_padded_side_is_the_smallest_multiple_at_least_size_and_minimum(
    size: int, multiple: int, minimum: int, expected: int
) -> None:
    assert padded_side(size, multiple, minimum) == expected


def test_padded_side_refuses_a_multiple_below_one() -> None:
    with pytest.raises(ValueError, match="multiple"):
        padded_side(5, 0)


@pytest.mark.parametrize(
    ("shape", "multiple", "minimum", "padded"),
    [
        ((1, 3, 5, 7), 4, 1, (1, 3, 8, 8)),
        ((2, 3, 9, 16), 8, 1, (2, 3, 16, 16)),
        ((1, 3, 3, 3), 8, 15, (1, 3, 16, 16)),
        ((3, 20, 130), 128, 1, (3, 128, 256)),  # (C, H, W) too; each axis on its own
    ],
)
def test_pads_bottom_right_to_the_padded_sides(shape, multiple: int, minimum: int, padded) -> None:
    x = torch.rand(shape)
    out = pad_to_multiple(x, multiple, minimum=minimum)
    assert out.shape == padded
    assert torch.equal(out[..., : shape[-2], : shape[-1]], x)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
def test_an_input_already_a_multiple_is_returned_untouched(mode: str) -> None:
    x = _image(16, 24)
    assert pad_to_multiple(x, 8, mode=mode) is x
    assert pad_to_multiple(x, 8, mode=mode, minimum=16, fallback="both") is x


def test_reflect_mirrors_without_repeating_the_edge() -> None:
    x = _image(10, 13)
    out = pad_to_multiple(x, 8)
    assert torch.equal(out[..., 10:16, :13], x[..., [8, 7, 6, 5, 4, 3], :])
    assert torch.equal(out[..., :10, 13:16], x[..., :, [11, 10, 9]])


def test_replicate_and_constant_modes() -> None:
    x = _image(5, 6)
    replicated = pad_to_multiple(x, 8, mode="replicate")
    assert torch.equal(replicated[..., 5:, :6], x[..., 4:5, :].expand(-1, -1, 3, -1))
    assert torch.equal(replicated[..., :5, 6:], x[..., :, 5:6].expand(-1, -1, -1, 2))
    zeros = pad_to_multiple(x, 8, mode="constant")
    assert zeros.shape == (1, 3, 8, 8)
    assert not zeros[..., 5:, :].any() and not zeros[..., :, 6:].any()


def test_reflect_falls_back_to_replicate_per_axis() -> None:
    x = _image(3, 12)  # rows: pad 5 >= 3 cannot reflect; columns: pad 4 < 12 can
    out = pad_to_multiple(x, 8)
    assert torch.equal(out[..., 3:, :12], x[..., 2:3, :].expand(-1, -1, 5, -1))
    assert torch.equal(out[..., :3, 12:], x[..., :, [10, 9, 8, 7]])


def test_reflect_with_fallback_both_replicates_both_axes_when_one_cannot_reflect() -> None:
    x = _image(3, 12)
    out = pad_to_multiple(x, 8, fallback="both")
    assert torch.equal(out[..., :3, 12:], x[..., :, 11:12].expand(-1, -1, -1, 4))
    assert torch.equal(out, F.pad(x, (0, 4, 0, 5), mode="replicate"))


@pytest.mark.parametrize("multiple", [4, 8, 32])
def test_same_values_as_the_former_per_axis_helpers(multiple: int) -> None:
    for height in range(1, 2 * multiple + 2, 3):
        for width in range(1, 2 * multiple + 2, 5):
            x = _image(height, width, seed=height * 100 + width)
            target = padded_side(height, multiple), padded_side(width, multiple)
            assert torch.equal(pad_to_multiple(x, multiple), _per_axis_reference(x, *target))


@pytest.mark.parametrize("multiple", [4, 8])
def test_same_values_as_asids_former_helper(multiple: int) -> None:
    for height in range(1, 30, 2):
        for width in range(1, 30, 3):
            x = _image(height, width, seed=height * 100 + width)
            target = padded_side(height, multiple, 15), padded_side(width, multiple, 15)
            out = pad_to_multiple(x, multiple, minimum=15, fallback="both")
            assert torch.equal(out, _joint_reference(x, *target))


def test_keeps_dtype_and_device() -> None:
    x = _image(5, 9).to(torch.bfloat16)
    out = pad_to_multiple(x, 4)
    assert out.dtype == torch.bfloat16 and out.device == x.device


def test_unknown_mode_or_fallback_raises() -> None:
    with pytest.raises(ValueError, match="mode"):
        pad_to_multiple(_image(5, 5), 4, mode="circular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fallback"):
        pad_to_multiple(_image(5, 5), 4, fallback="never")  # type: ignore[arg-type]
