"""Tests for irstudio.models.archs.ast (AST, CVPR 2024).

Every input is padded to a multiple of 128, so even a 1x1 image costs a 128x128 forward. Forward
tests use the ``ast-t`` preset (its seed-0 output on one small input is computed once per module and
shared); ``ast-b`` is only built on the meta device for its parameter counts.
Refresh the stored output snapshot with
``IRSTUDIO_UPDATE_SNAPSHOTS=1 python -m pytest tests/models/test_ast.py -k snapshot``.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from irstudio.models.archs import ast

SNAPSHOT = Path(__file__).parent / "snapshots" / "ast.npz"
TINY = ast.PRESETS["ast-t"]


def _seeded_model(seed: int = 0) -> ast.AST:
    torch.manual_seed(seed)
    return ast.build(TINY).eval()


def _seeded_input(h: int, w: int, seed: int = 1, batch: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, h, w, generator=generator)


@pytest.fixture(scope="module", autouse=True)
def _one_intra_op_thread() -> Iterator[None]:
    """Run this file's forwards on one torch thread (restored afterwards): on a busy 2-core machine the
    default 2-thread pool spins and made the file ~6x slower (87 s vs 13 s wall)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> ast.AST:
    """ast-t with seed-0 weights, eval mode. Tests must not modify it."""
    return _seeded_model(0)


def _reference_input() -> Tensor:
    """The snapshot input: (1, 3, 24, 20) uniform [0, 1) from seed 1."""
    return _seeded_input(24, 20, seed=1)


@pytest.fixture(scope="module")
def reference_output(model: ast.AST) -> Tensor:
    """Seed-0 ast-t on ``_reference_input()``: (1, 3, 24, 20) float32."""
    with torch.inference_mode():
        return model(_reference_input())


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("preset", "expected"), [("ast-t", 6_645_347), ("ast-b", 65_362_455)])
def test_parameter_count_is_exact(preset: str, expected: int) -> None:
    with torch.device("meta"):
        net = ast.build(ast.PRESETS[preset])
    assert _count(net) == expected


def test_ast_b_per_module_counts_match_the_official_breakdown() -> None:
    expected = {
        "input_proj": 896,
        "encoderlayer_0": 14_496,
        "encoderlayer_1": 109_440,
        "encoderlayer_2": 1_698_816,
        "encoderlayer_3": 6_690_816,
        "dowsample_0": 32_832,
        "dowsample_1": 131_200,
        "dowsample_2": 524_544,
        "dowsample_3": 2_097_664,
        "conv": 8_749_092,
        "upsample_0": 524_544,
        "upsample_1": 262_272,
        "upsample_2": 65_600,
        "upsample_3": 16_416,
        "decoderlayer_0": 34_996_368,
        "decoderlayer_1": 8_814_672,
        "decoderlayer_2": 559_116,
        "decoderlayer_3": 71_940,
        "output_proj": 1_731,
    }
    with torch.device("meta"):
        net = ast.build(ast.PRESETS["ast-b"])
    assert {name: _count(child) for name, child in net.named_children() if _count(child)} == expected


def test_defaults_are_the_released_ast_b_and_build_passes_every_field() -> None:
    assert ast.ASTConfig() == ast.PRESETS["ast-b"]
    with torch.device("meta"):
        net = ast.build(TINY)
    assert net.config == TINY
    assert ast.tile_multiple(TINY) == 128
    assert ast.HALF_DTYPES == ("bf16",)


def test_relative_position_index_is_not_persistent(model: ast.AST) -> None:
    keys = model.state_dict().keys()
    assert not any(k.endswith("relative_position_index") for k in keys)
    assert any(k.endswith("relative_position_index") for k, _ in model.named_buffers())


def test_unsupported_configs_raise() -> None:
    with pytest.raises(ValueError, match="img_size"):
        ast.AST(img_size=64)
    with pytest.raises(ValueError, match="9 entries"):
        ast.AST(depths=(1, 1, 1))


@pytest.mark.parametrize(
    ("h", "w", "padded"), [(37, 53, (128, 128)), (1, 1, (128, 128)), (130, 17, (256, 128))]
)
def test_forward_any_size_keeps_shape_and_is_finite(
    model: ast.AST, h: int, w: int, padded: tuple[int, int]
) -> None:
    x = _seeded_input(h, w)
    seen: list[tuple[int, ...]] = []
    handle = model.input_proj.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape))
    try:
        with torch.inference_mode():
            y = model(x)
    finally:
        handle.remove()
    assert seen == [(1, 3, *padded)]
    assert y.shape == x.shape
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


def test_pad_to_multiple_reflects_when_possible_else_replicates() -> None:
    x = _seeded_input(100, 120)
    padded = ast.pad_to_multiple(x, 128)
    assert padded.shape == (1, 3, 128, 128)
    torch.testing.assert_close(padded[..., :100, :120], x, rtol=0, atol=0)
    torch.testing.assert_close(padded[..., 100, :120], x[..., 98, :], rtol=0, atol=0)  # reflect
    torch.testing.assert_close(padded[..., :100, 121], x[..., :, 117], rtol=0, atol=0)
    x = _seeded_input(20, 130)
    padded = ast.pad_to_multiple(x, 128)
    assert padded.shape == (1, 3, 128, 256)  # each axis on its own: not squared up
    torch.testing.assert_close(padded[..., 127, :130], x[..., 19, :], rtol=0, atol=0)  # replicate
    torch.testing.assert_close(padded[..., :20, 200], x[..., :, 58], rtol=0, atol=0)  # reflect
    same = _seeded_input(128, 256)
    assert ast.pad_to_multiple(same, 128) is same


def test_batch_items_are_independent(model: ast.AST, reference_output: Tensor) -> None:
    x = torch.cat((_reference_input(), _seeded_input(24, 20, seed=5)))
    with torch.inference_mode():
        both = model(x)
    torch.testing.assert_close(both[:1], reference_output, rtol=0, atol=1e-5)
    assert not torch.allclose(both[1:], reference_output)


def test_bf16_forward_is_close_to_fp32(reference_output: Tensor) -> None:
    half = _seeded_model(0).to(torch.bfloat16)
    with torch.inference_mode():
        out = half(_reference_input().to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out).all()
    assert (out.float() - reference_output).abs().mean() < 0.05


def test_safetensors_round_trip_gives_identical_outputs(
    model: ast.AST, reference_output: Tensor, tmp_path: Path
) -> None:
    path = tmp_path / "ast-t.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    other = _seeded_model(123)
    other.load_state_dict(load_file(str(path)), strict=True)
    with torch.inference_mode():
        torch.testing.assert_close(other(_reference_input()), reference_output, rtol=0, atol=0)


def test_seeded_output_matches_snapshot(reference_output: Tensor) -> None:
    out = reference_output.numpy()
    if os.environ.get("IRSTUDIO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(SNAPSHOT, output=out)
    expected = np.load(SNAPSHOT)["output"]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def _official_checkpoint(net: ast.AST) -> dict[str, object]:
    """``torch.save`` payload of the official training script: DataParallel keys, persistent index buffers."""
    state = {f"module.{k}": v.clone() for k, v in net.state_dict().items()}
    for name, buffer in net.named_buffers():
        if name.endswith("attn.relative_position_index"):
            state[f"module.{name}"] = buffer.clone()
    return {"epoch": 7, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}


def test_official_key_layout_is_what_architectures_md_documents(model: ast.AST) -> None:
    keys = set(model.state_dict())
    for key in (
        "input_proj.proj.0.weight",
        "output_proj.proj.0.bias",
        "encoderlayer_0.blocks.0.norm2.weight",
        "encoderlayer_3.blocks.1.mlp.linear1.0.weight",
        "encoderlayer_2.blocks.0.mlp.dwconv.0.bias",
        "encoderlayer_1.blocks.0.mlp.linear2.0.weight",
        "encoderlayer_0.blocks.1.mlp.partial_conv3.weight",
        "dowsample_2.conv.0.weight",
        "upsample_1.deconv.0.bias",
        "conv.blocks.1.norm1.weight",
        "conv.blocks.0.attn.relative_position_bias_table",
        "conv.blocks.0.attn.w",
        "conv.blocks.0.attn.qkv.to_q.weight",
        "decoderlayer_3.blocks.1.attn.qkv.to_kv.bias",
        "decoderlayer_0.blocks.0.attn.proj.weight",
    ):
        assert key in keys
    assert not any(k.startswith("encoderlayer") and ".attn." in k for k in keys)


def test_official_checkpoint_loads_and_reproduces_outputs(model: ast.AST, reference_output: Tensor) -> None:
    mapped = ast.from_official_state_dict(_official_checkpoint(model))
    other = _seeded_model(99)
    other.load_state_dict(mapped, strict=True)
    raw = ast.from_official_state_dict(dict(model.state_dict()))
    assert raw.keys() == mapped.keys()
    with torch.inference_mode():
        torch.testing.assert_close(other(_reference_input()), reference_output, rtol=0, atol=0)


@pytest.mark.parametrize(
    "bad",
    [
        {"params_ema": {"conv_first.weight": torch.zeros(1)}},
        {"input_proj.proj.0.weight": torch.zeros(1), "body.0.weight": torch.zeros(1)},
        {"encoderlayer_0.blocks.0.norm2.weight": torch.zeros(1)},
        {"state_dict": {"module.input_proj.proj.0.weight": "not a tensor"}},
    ],
)
def test_unrecognisable_checkpoints_raise_value_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not an AST checkpoint"):
        ast.from_official_state_dict(bad)  # type: ignore[arg-type]


def test_attention_modules_are_every_assa_of_bottleneck_and_decoder(model: ast.AST) -> None:
    names = ast.attention_modules(TINY)
    assert len(names) == sum(TINY.depths[4:]) == 10
    modules = dict(model.named_modules())
    assert all(isinstance(modules[n], ast.AdaptiveSparseAttend) for n in names)
    assert names[0] == "conv.blocks.0.attn.attend"
    assert names[-1] == "decoderlayer_3.blocks.1.attn.attend"
    assert not any(n.startswith("encoderlayer") for n in names)


Captured = dict[str, tuple[tuple[Tensor, ...], ast.AssaMaps]]


def _run_hooked(net: nn.Module, names: tuple[str, ...], *args: object) -> tuple[Captured, Tensor]:
    """Run ``net(*args)`` under inference_mode with a forward hook on each of ``names``."""
    seen: Captured = {}

    def record(name: str):
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], out: ast.AssaMaps) -> None:
            seen[name] = (inputs, out)

        return hook

    handles = [net.get_submodule(n).register_forward_hook(record(n)) for n in names]
    try:
        with torch.inference_mode():
            out = net(*args)
    finally:
        for handle in handles:
            handle.remove()
    return seen, out


@pytest.fixture(scope="module")
def captured(model: ast.AST) -> tuple[Captured, Tensor]:
    """Hook every attention module of the shared ast-t and run the reference input: (seen, output)."""
    return _run_hooked(model, ast.attention_modules(TINY), _reference_input())


def test_attention_hooks_fire_without_changing_the_output(captured, reference_output: Tensor) -> None:
    seen, hooked = captured
    assert set(seen) == set(ast.attention_modules(TINY))
    torch.testing.assert_close(hooked, reference_output, rtol=0, atol=0)


def test_attention_hooks_see_dense_sparse_and_fused_maps(model: ast.AST, captured) -> None:
    seen, _ = captured
    for name, ((logits, alpha), maps) in seen.items():
        w = model.get_parameter(name.removesuffix("attend") + "w")
        torch.testing.assert_close(alpha, torch.softmax(w.detach(), dim=0))
        assert maps.dense.shape == maps.sparse.shape == maps.fused.shape == logits.shape
        torch.testing.assert_close(maps.dense.sum(-1), torch.ones(logits.shape[:-1]))
        torch.testing.assert_close(maps.sparse, torch.relu(logits) ** 2)
        torch.testing.assert_close(maps.fused, alpha[0] * maps.dense + alpha[1] * maps.sparse)


@pytest.mark.parametrize(("block", "grid"), [("conv.blocks.0", (1, 1)), ("decoderlayer_0.blocks.1", (2, 3))])
def test_fusion_parameter_w0_weights_the_dense_branch(
    model: ast.AST, block: str, grid: tuple[int, int]
) -> None:
    attn = copy.deepcopy(model.get_submodule(f"{block}.attn"))
    with torch.no_grad():
        attn.w.copy_(torch.tensor([2.0, -1.0]))
    tokens = torch.randn(grid[0] * grid[1], 64, attn.proj.in_features)
    seen, out = _run_hooked(attn, ("attend",), tokens, grid)
    (logits, alpha), maps = seen["attend"]
    assert out.shape == tokens.shape
    torch.testing.assert_close(alpha, torch.softmax(torch.tensor([2.0, -1.0]), dim=0))
    torch.testing.assert_close(maps.fused, alpha[0] * maps.dense + alpha[1] * maps.sparse)
    assert (logits.min() < -50) == (attn.shift_size > 0)  # the shifted block masks its border windows


def test_attention_map_shapes_follow_the_padded_level_grid(model: ast.AST, captured) -> None:
    seen, _ = captured
    net = model
    # 24x20 is padded to 128x128; windows are 8x8 (64 tokens).
    expected = {
        "conv.blocks.0.attn.attend": (1, 16, 64, 64),  # 8x8 map, one window, 16 heads
        "decoderlayer_0.blocks.1.attn.attend": (4, 16, 64, 64),  # 16x16 map
        "decoderlayer_3.blocks.0.attn.attend": (256, 2, 64, 64),  # 128x128 map
    }
    for name, shape in expected.items():
        assert seen[name][1].fused.shape == shape
    attend = net.get_submodule("decoderlayer_0.blocks.1.attn.attend")
    assert (attend.win_size, attend.shift_size, attend.downscale) == (8, 4, 8)
    # With the released img_size=128 the bottleneck (8x8 at 128) never shifts.
    assert net.get_submodule("conv.blocks.1.attn.attend").shift_size == 0
    # Across the roll seam the shift mask pushes logits to about -100 (bottom-right window).
    shifted_logits = seen["decoderlayer_3.blocks.1.attn.attend"][0][0]
    assert shifted_logits[-1].min() < -50


def _full_swin_mask(h: int, w: int, win: int, shift: int) -> Tensor:
    """Reference: the (nW, N, N) Swin mask of an (h, w) map rolled by -shift, built the textbook way."""
    labels = torch.zeros(h, w)
    cuts = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
    for region, (rows, cols) in enumerate((r, c) for r in cuts for c in cuts):
        labels[rows, cols] = region
    windows = labels.view(h // win, win, w // win, win).permute(0, 2, 1, 3).reshape(-1, win * win)
    same = windows[:, :, None] == windows[:, None, :]
    return torch.where(same, 0.0, -100.0)


@pytest.mark.parametrize(("h", "w"), [(8, 8), (16, 32), (40, 24)])
def test_border_shift_masks_equal_the_full_swin_mask(h: int, w: int) -> None:
    win, shift, heads, batch = 8, 4, 2, 3
    grid = (h // win, w // win)
    logits = torch.zeros(batch * grid[0] * grid[1], heads, win * win, win * win)
    masked = ast.add_shift_masks(logits, grid, ast.shift_border_masks(win, shift))
    expected = _full_swin_mask(h, w, win, shift)[None, :, None].expand(batch, -1, heads, -1, -1)
    torch.testing.assert_close(masked, expected.reshape_as(masked), rtol=0, atol=0)


def test_bottleneck_shifts_only_when_built_for_larger_patches() -> None:
    with torch.device("meta"):
        released = ast.build(TINY)
        larger = ast.build(dataclasses.replace(TINY, img_size=256))
    assert [b.shift_size for b in released.conv.blocks] == [0, 0]
    assert [b.shift_size for b in larger.conv.blocks] == [0, 4]
    assert [b.shift_size for b in released.decoderlayer_0.blocks] == [0, 4]
    assert _count(larger) == _count(released)


def test_training_step_reaches_fusion_weights_and_every_parameter() -> None:
    net = _seeded_model(0).train()
    x = _seeded_input(8, 8)
    loss = (net(x) - x).abs().mean()
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    assert net.conv.blocks[0].attn.w.grad.abs().sum() > 0
