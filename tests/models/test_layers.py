"""Shared layers: the same numbers in eager mode and in a traced graph, and no activation split
in the graph (what OpenVINO ran on a slow reference kernel)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from irstudio.models.layers import (
    LayerNorm2d,
    chunked_conv,
    chunked_linear_on_map,
    chunked_pointwise,
    linear_on_map,
    pointwise,
)


def _seeded(module: nn.Module) -> nn.Module:
    """Normal-initialised, eval, parameters frozen (as the converter sees them)."""
    torch.manual_seed(0)
    for parameter in module.parameters():
        nn.init.normal_(parameter)
        parameter.requires_grad_(False)
    return module.eval()


def _converted_ops(fn, x: torch.Tensor) -> set[str]:
    """The op types of the OpenVINO graph of ``fn`` traced at ``x`` (weight slices fold away)."""
    from irstudio.inference.backends.openvino_graph import convert_model

    class Wrapped(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return fn(t)

    return {op.get_type_name() for op in convert_model(Wrapped(), x, dynamic=False).get_ops()}


def test_pointwise_is_the_1x1_convolution_on_tokens() -> None:
    conv = _seeded(nn.Conv2d(6, 9, 1))
    x = torch.randn(2, 6, 5, 7)
    expected = conv(x).permute(0, 2, 3, 1)
    torch.testing.assert_close(pointwise(conv, x.permute(0, 2, 3, 1)), expected)
    with pytest.raises(ValueError, match="dense 1x1"):
        pointwise(_seeded(nn.Conv2d(6, 9, 3)), x.permute(0, 2, 3, 1))


def test_chunked_pointwise_traces_without_a_split() -> None:
    conv = _seeded(nn.Conv2d(6, 12, 1))
    tokens = torch.randn(1, 5, 7, 6)
    eager = chunked_pointwise(conv, tokens, 3)
    expected = pointwise(conv, tokens).chunk(3, dim=-1)
    for got, want in zip(eager, expected, strict=True):
        torch.testing.assert_close(got, want)

    def summed(t: torch.Tensor) -> torch.Tensor:
        a, b, c = chunked_pointwise(conv, t, 3)
        return a * 1 + b * 2 + c * 3

    assert not _converted_ops(summed, tokens) & {"Split", "VariadicSplit", "StridedSlice", "Slice"}
    traced = torch.jit.trace(summed, tokens, check_trace=False)
    torch.testing.assert_close(traced(tokens), expected[0] + 2 * expected[1] + 3 * expected[2])


@pytest.mark.parametrize("parts", [2, (2, 6)])
def test_chunked_conv_with_a_depthwise_step_traces_without_a_split(parts) -> None:
    conv = _seeded(nn.Conv2d(4, 8, 1))
    depthwise = _seeded(nn.Conv2d(8, 8, 3, padding=1, groups=8))
    x = torch.randn(1, 4, 9, 11)
    sizes = (4, 4) if parts == 2 else parts
    expected = depthwise(conv(x)).split(sizes, dim=1)
    for got, want in zip(chunked_conv(conv, x, parts, depthwise=depthwise), expected, strict=True):
        torch.testing.assert_close(got, want)

    def joined(t: torch.Tensor) -> torch.Tensor:
        first, second = chunked_conv(conv, t, parts, depthwise=depthwise)
        return torch.cat((second, first), dim=1)

    assert not _converted_ops(joined, x) & {"Split", "VariadicSplit", "StridedSlice", "Slice"}
    traced = torch.jit.trace(joined, x, check_trace=False)
    torch.testing.assert_close(traced(x), torch.cat((expected[1], expected[0]), dim=1), atol=1e-5, rtol=1e-5)


def test_linear_on_a_map_is_the_linear_on_every_pixel_and_traces_without_a_split() -> None:
    linear = _seeded(nn.Linear(6, 8))
    x = torch.randn(1, 6, 5, 7)
    expected = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(linear_on_map(linear, x), expected, atol=1e-5, rtol=1e-5)
    halves = chunked_linear_on_map(linear, x, 2)
    for got, want in zip(halves, expected.chunk(2, dim=1), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)

    def gated(t: torch.Tensor) -> torch.Tensor:
        a, b = chunked_linear_on_map(linear, t, 2)
        return a * b

    assert not _converted_ops(gated, x) & {"Split", "VariadicSplit", "StridedSlice", "Slice"}


def test_layer_norm_2d_is_the_same_in_eager_mode_and_in_a_traced_graph() -> None:
    """Eager inference uses the fused kernel, training and a traced graph the explicit form; all
    are Omni-SR's / LIR's per-pixel LayerNorm (biased variance, eps inside the root)."""
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    norm.requires_grad_(False)
    assert set(norm.state_dict()) == {"weight", "bias"}
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    expected = norm.weight.view(1, -1, 1, 1) * (x - mean) / (var + 1e-6).sqrt() + norm.bias.view(1, -1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(norm(x.requires_grad_()), expected, atol=1e-5, rtol=1e-5)
    x = x.detach()
    traced = torch.jit.trace(norm, x, check_trace=False)
    torch.testing.assert_close(traced(x), expected, atol=1e-5, rtol=1e-5)
    assert "Transpose" not in _converted_ops(norm, x)
