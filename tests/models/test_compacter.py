"""Compacter (irstudio.models.archs.compacter): parameter counts, shapes, loading, hooks, snapshot.

Regenerate the stored snapshot (only after a deliberate change of the architecture or its init):
``IRSTUDIO_UPDATE_SNAPSHOTS=1 python -m pytest tests/models/test_compacter.py -k snapshot``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from irstudio.models.archs import compacter as arch

SNAPSHOT = Path(__file__).parent / "snapshots" / "compacter.npz"
SNAPSHOT_PRESETS = ("compacter-x1", "compacter-x2")

EXPECTED_PARAMS = {
    "compacter-x1": 396_423,
    "compacter-x2": 400_320,
    "compacter-x3": 406_815,
    "compacter-x4": 415_908,
}


def _seeded_model(preset: str, seed: int = 0) -> arch.Compacter:
    torch.manual_seed(seed)
    return arch.build(arch.PRESETS[preset]).eval()


def _seeded_input(height: int = 19, width: int = 13, batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, height, width, generator=generator)


def _run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


def test_presets_cover_the_task() -> None:
    assert set(arch.PRESETS) == set(EXPECTED_PARAMS)
    assert {cfg.upscale for cfg in arch.PRESETS.values()} == {1, 2, 3, 4}


@pytest.mark.parametrize("preset", sorted(EXPECTED_PARAMS))
def test_parameter_count_is_exact(preset: str) -> None:
    with torch.device("meta"):
        model = arch.build(arch.PRESETS[preset])
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMS[preset]


def test_relative_position_index_is_not_saved() -> None:
    model = arch.build(arch.PRESETS["compacter-x2"])
    keys = model.state_dict().keys()
    assert not any("relative_position_index" in key for key in keys)
    assert len(dict(model.named_buffers())) == 2 * sum(arch.PRESETS["compacter-x2"].depths)  # + head masks


@pytest.mark.parametrize(
    ("preset", "size"),
    [
        ("compacter-x4", (37, 53)),
        ("compacter-x1", (300, 17)),
        ("compacter-x3", (5, 9)),
        ("compacter-x1", (1, 1)),
        ("compacter-x2", (1, 1)),
        ("compacter-x4", (1, 1)),
    ],
)
def test_forward_on_awkward_sizes(preset: str, size: tuple[int, int]) -> None:
    model = _seeded_model(preset)
    scale = arch.PRESETS[preset].upscale
    y = _run(model, _seeded_input(*size))
    assert y.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


def test_batch_items_are_independent() -> None:
    model = _seeded_model("compacter-x2")
    x = _seeded_input(batch=2)
    together = _run(model, x)
    apart = torch.cat([_run(model, x[:1]), _run(model, x[1:])])
    torch.testing.assert_close(together, apart, atol=1e-5, rtol=1e-5)


def test_backward_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = arch.build(arch.CompacterConfig(upscale=2, embed_dim=16, depths=(2,), num_heads=2))
    model(_seeded_input(10, 9, batch=2)).square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_restoration_head_is_a_global_residual() -> None:
    model = _seeded_model("compacter-x1")
    torch.nn.init.zeros_(model.upsample[0].weight)
    torch.nn.init.zeros_(model.upsample[0].bias)
    x = _seeded_input(11, 21)
    torch.testing.assert_close(_run(model, x), x)


def test_windows_round_trip_and_layout() -> None:
    t = torch.randn(2, 16, 24, 8)  # tokens (B, H, W, C)
    windows = arch._to_windows(t, heads=2, window=8)
    assert windows.shape == (2 * 2 * 3, 2, 64, 4)
    # batch 1, window row 1, col 2, head 1, token (y=3, x=5), channel 1 of the head.
    index = 1 * 6 + 1 * 3 + 2
    assert windows[index, 1, 3 * 8 + 5, 1] == t[1, 8 + 3, 16 + 5, 4 + 1]
    torch.testing.assert_close(arch._from_windows(windows, 2, 16, 24, 8), t)


def _spatial_change(shift: int, pixel: tuple[int, int]) -> torch.Tensor:
    """Where the spatial branch output changes when V changes at one pixel (16 x 16 map, window 8)."""
    torch.manual_seed(0)
    casa = arch.CASA(dim=8, num_heads=2, window_size=8, shift_size=shift, gate_reduction=4, qkv_bias=True)
    q, k, v = torch.randn(3, 1, 16, 16, 8).unbind(0)  # tokens (B, H, W, C)
    mask = arch._shift_mask(16, 16, 8, 4, q) if shift else None
    before = casa._spatial(q, k, v, mask)
    v = v.clone()
    v[:, pixel[0], pixel[1]] += 10.0
    after = casa._spatial(q, k, v, mask)
    return (after - before).abs().amax(dim=(0, 3)) > 1e-6


def test_unshifted_spatial_attention_stays_inside_its_window() -> None:
    changed = _spatial_change(shift=0, pixel=(9, 2))
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[8:16, 0:8] = True
    assert torch.equal(changed, expected)


def test_shifted_spatial_attention_respects_the_region_mask() -> None:
    # Pixel (0, 0) lands in the rolled frame's bottom-right window, in the 4 x 4 wrap-around region
    # that holds original rows/cols 0..3; the mask keeps it from mixing with the rest of that window.
    changed = _spatial_change(shift=4, pixel=(0, 0))
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[0:4, 0:4] = True
    assert torch.equal(changed, expected)


def test_safetensors_round_trip(tmp_path: Path) -> None:
    model = _seeded_model("compacter-x2", seed=0)
    path = tmp_path / "compacter.safetensors"
    safetensors.torch.save_file(model.state_dict(), str(path))
    other = _seeded_model("compacter-x2", seed=1)
    x = _seeded_input()
    assert not torch.equal(_run(model, x), _run(other, x))
    other.load_state_dict(safetensors.torch.load_file(str(path)), strict=True)
    assert torch.equal(_run(model, x), _run(other, x))


@pytest.mark.parametrize("wrapper", ["params_ema", "params", "state_dict", None])
def test_official_layout_loads_through_the_key_map(wrapper: str | None) -> None:
    model = _seeded_model("compacter-x1", seed=0)
    layout = {f"module.{key}": value.clone() for key, value in model.state_dict().items()}
    layout["module.layers.0.blocks.1.attn.spatial_map.relative_position_index"] = torch.zeros(64, 64)
    checkpoint: dict[str, object] = layout if wrapper is None else {wrapper: layout}
    if wrapper == "params_ema":
        checkpoint["params"] = {"junk": torch.zeros(1)}  # params_ema wins over params
    other = _seeded_model("compacter-x1", seed=1)
    other.load_state_dict(arch.from_official_state_dict(checkpoint), strict=True)
    x = _seeded_input()
    assert torch.equal(_run(model, x), _run(other, x))


@pytest.mark.parametrize(
    ("state_dict", "message"),
    [
        ({"input.weight": torch.zeros(1), "block0.res_end.weight": torch.zeros(1)}, "unknown key"),
        ({"upsample.0.weight": torch.zeros(1)}, "missing conv_first.weight"),
        ({"conv_first.weight": "not a tensor"}, "not a tensor"),
        ({}, "missing"),
    ],
)
def test_unrecognisable_state_dict_raises(state_dict: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arch.from_official_state_dict(state_dict)


def test_tile_multiple_is_the_window() -> None:
    assert all(arch.tile_multiple(cfg) == cfg.window_size == 8 for cfg in arch.PRESETS.values())


def test_attention_hooks_see_maps_and_gates() -> None:
    config = arch.PRESETS["compacter-x2"]
    model = _seeded_model("compacter-x2")
    names = arch.attention_modules(config)
    assert len(names) == 4 * sum(config.depths)
    modules = dict(model.named_modules())
    assert set(names) <= set(modules)
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    handles = [
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: captured[name].append(out))
        for name in names
    ]
    _run(model, _seeded_input(19, 13))  # padded to 24 x 16: 3 x 2 windows
    for handle in handles:
        handle.remove()
    heads, head_dim = config.num_heads, config.embed_dim // config.num_heads
    for name, outputs in captured.items():
        assert len(outputs) == 1, name
        out = outputs[0]
        if name.endswith("spatial_map"):
            assert out.shape == (6, heads, 64, 64)
            torch.testing.assert_close(out.sum(-1), torch.ones(6, heads, 64))
        elif name.endswith("channel_map"):  # block-diagonal over the heads
            channels = heads * head_dim
            assert out.shape == (1, channels, channels)
            torch.testing.assert_close(out.sum(-1), torch.ones(1, channels))
            head = torch.arange(channels) // head_dim
            assert bool((out[0][head[:, None] != head[None, :]] == 0).all())
        elif name.endswith("spatial_gate"):
            assert out.shape == (1, 24, 16, 1)
        else:
            assert out.shape == (1, 1, 1, config.embed_dim)
        if name.endswith("gate"):
            assert bool(((out > 0) & (out < 1)).all())
    # A shifted block (odd index): the last window mixes rolled regions, which the mask separates.
    shifted = captured["layers.0.blocks.1.attn.spatial_map"][0][-1]
    regions = arch._shift_mask(24, 16, 8, 4, torch.zeros(1))[-1] != 0
    assert bool(regions.any())
    assert float(shifted[:, regions].max()) < 1e-30


def test_bf16_stays_close_to_fp32() -> None:
    assert arch.HALF_DTYPES == ("bf16",)
    model = _seeded_model("compacter-x2")
    x = _seeded_input()
    reference = _run(model, x)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        half = model(x)
    assert torch.isfinite(half).all()
    assert float((half.float() - reference).abs().max()) < 0.05


def _snapshot_outputs() -> dict[str, np.ndarray]:
    """Seed-0 models of SNAPSHOT_PRESETS on the seeded 19 x 13 input, fp32 outputs as arrays."""
    x = _seeded_input()
    return {preset: _run(_seeded_model(preset), x).numpy() for preset in SNAPSHOT_PRESETS}


def test_seeded_output_matches_snapshot() -> None:
    outputs = _snapshot_outputs()
    if os.environ.get("IRSTUDIO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(SNAPSHOT, **outputs)
    stored = np.load(SNAPSHOT)
    assert set(stored.files) == set(outputs)
    for preset, output in outputs.items():
        np.testing.assert_allclose(output, stored[preset], atol=1e-5, rtol=0)
