"""ASID (irstudio.models.archs.asid): parameter counts, shapes, layouts, attention sharing, loading, snapshot.

Regenerate the stored snapshot (only after a deliberate change of the architecture or its init):
``IRSTUDIO_UPDATE_SNAPSHOTS=1 python -m pytest tests/models/test_asid.py -k snapshot``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from irstudio.models.archs import asid as arch

SNAPSHOT = Path(__file__).parent / "snapshots" / "asid.npz"
SNAPSHOT_PRESETS = ("asid-x2", "asid-x3")

EXPECTED_PARAMS = {
    "asid-x2": 297_516,
    "asid-x3": 304_011,
    "asid-x4": 313_104,
    "asidd8-x4": 747_734,
}


def _seeded_model(preset: str, seed: int = 0) -> arch.ASID:
    torch.manual_seed(seed)
    return arch.build(arch.PRESETS[preset]).eval()


def _seeded_input(height: int = 19, width: int = 21, batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, height, width, generator=generator)


def _run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


@pytest.fixture(scope="module")
def model_x2() -> arch.ASID:
    return _seeded_model("asid-x2")


# --------------------------------------------------------------------------- configuration


def test_presets_cover_the_task() -> None:
    assert set(arch.PRESETS) == set(EXPECTED_PARAMS)
    assert {cfg.upsampling for cfg in arch.PRESETS.values()} == {2, 3, 4}
    assert arch.PRESETS["asidd8-x4"].res_num == 8
    assert all(cfg.num_feat == 48 and cfg.window_size == 8 for cfg in arch.PRESETS.values())
    assert arch.HALF_DTYPES == ("bf16",)


@pytest.mark.parametrize("preset", sorted(EXPECTED_PARAMS))
def test_parameter_count_is_exact(preset: str) -> None:
    with torch.device("meta"):
        model = arch.build(arch.PRESETS[preset])
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMS[preset]


def test_constructor_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        arch.ASID(3)  # type: ignore[misc]


def test_relative_position_index_is_a_non_persistent_buffer() -> None:
    with torch.device("meta"):
        model = arch.build(arch.PRESETS["asid-x4"])
    assert not any("rel_pos_indices" in key for key in model.state_dict())
    buffers = [name for name, _ in model.named_buffers()]
    assert len(buffers) == 6  # one per computing spatial block, all in group A
    assert all(name.startswith("block0.") for name in buffers)


def test_tile_multiple_is_the_window() -> None:
    assert all(arch.tile_multiple(cfg) == 8 for cfg in arch.PRESETS.values())


# --------------------------------------------------------------------------- token layouts (spec §4.3)


def test_window_tokens_follow_the_spec() -> None:
    x = torch.randn(2, 5, 16, 24)
    tokens = arch._window_tokens(x, 8)  # windows (a, b) raster-ordered per image
    assert tokens.shape == (2 * 2 * 3, 64, 5)
    n, a, b, i, j = 1, 1, 2, 3, 6
    window = n * 6 + a * 3 + b
    assert torch.equal(tokens[window, i * 8 + j], x[n, :, 8 * a + i, 8 * b + j])
    assert torch.equal(arch._window_merge(tokens, x.shape, 8), x)


def test_grid_tokens_span_the_image() -> None:
    x = torch.randn(2, 5, 16, 24)  # H/8 = 2, W/8 = 3
    tokens = arch._grid_tokens(x, 8)
    assert tokens.shape == (2 * 2 * 3, 64, 5)
    n, a, b, i, j = 1, 1, 2, 5, 7
    group = n * 6 + a * 3 + b
    assert torch.equal(tokens[group, i * 8 + j], x[n, :, i * 2 + a, j * 3 + b])
    assert torch.equal(arch._grid_merge(tokens, x.shape, 8), x)


def test_channel_groups_follow_the_spec() -> None:
    x = torch.randn(1, 4, 16, 24)
    windows = arch._channel_window_groups(x, 8)
    assert windows.shape == (1, 6, 64, 4)  # (N, groups, tokens, C)
    assert torch.equal(windows[0, 1 * 3 + 2, 3 * 8 + 6], x[0, :, 8 + 3, 16 + 6])
    grid = arch._channel_grid_groups(x, 8)
    assert grid.shape == (1, 64, 6, 4)  # 64 groups strided by 8, each with (H/8)(W/8) tokens
    assert torch.equal(grid[0, 3 * 8 + 6, 1 * 3 + 2], x[0, :, 8 + 3, 16 + 6])
    assert torch.equal(arch._channel_window_merge(windows, x.shape, 8), x)
    assert torch.equal(arch._channel_grid_merge(grid, x.shape, 8), x)


def test_relative_position_index_formula() -> None:
    index = arch._relative_position_index(8)
    assert index.shape == (64, 64)
    assert int(index.min()) == 0 and int(index.max()) == 224
    query, key = 2 * 8 + 5, 7 * 8 + 1  # (2, 5) and (7, 1): drow = -5, dcol = 4
    assert int(index[query, key]) == (-5 + 7) * 15 + (4 + 7)
    assert bool((index.diagonal() == 7 * 15 + 7).all())


@pytest.mark.parametrize(("size", "padded"), [(1, 16), (15, 16), (16, 16), (17, 24), (37, 40), (300, 304)])
def test_padded_size_is_a_window_multiple_large_enough_for_esa(size: int, padded: int) -> None:
    assert arch._padded_size(size, 8) == padded


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize("size", [(37, 53), (1, 1), (300, 17), (16, 16), (5, 9)])
def test_forward_on_awkward_sizes(model_x2: arch.ASID, size: tuple[int, int]) -> None:
    y = _run(model_x2, _seeded_input(*size))
    assert y.shape == (1, 3, size[0] * 2, size[1] * 2)
    assert y.dtype == torch.float32
    assert bool(torch.isfinite(y).all())


@pytest.mark.parametrize("preset", ["asid-x3", "asid-x4"])
def test_other_scales_give_the_right_shape(preset: str) -> None:
    model = _seeded_model(preset)
    scale = arch.PRESETS[preset].upsampling
    y = _run(model, _seeded_input(2, 11, batch=2))
    assert y.shape == (2, 3, 2 * scale, 11 * scale)
    assert bool(torch.isfinite(y).all())


def test_batch_items_are_independent(model_x2: arch.ASID) -> None:
    x = _seeded_input(16, 24, batch=2)
    both = _run(model_x2, x)
    second = _run(model_x2, x[1:])
    torch.testing.assert_close(both[1:], second, atol=1e-5, rtol=0)


def test_forward_works_on_minus_one_to_one_internally(model_x2: arch.ASID) -> None:
    x = _seeded_input(16, 16)
    seen: list[torch.Tensor] = []
    handle = model_x2.input.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    try:
        _run(model_x2, x)
    finally:
        handle.remove()
    torch.testing.assert_close(seen[0], x * 2 - 1)  # 16x16 needs no padding

    model = _seeded_model("asid-x2")
    with torch.no_grad():
        model.up[0].weight.zero_()
        model.up[0].bias.zero_()
    y = _run(model, x)
    assert torch.equal(y, torch.full_like(y, 0.5))  # 0 in [-1, 1] is mid grey in [0, 1]


def test_bf16_forward_stays_close_to_fp32(model_x2: arch.ASID) -> None:
    x = _seeded_input(16, 16)
    reference = _run(model_x2, x)
    model = _seeded_model("asid-x2").to(torch.bfloat16)
    y = _run(model, x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    assert float((y.float() - reference).abs().max()) < 0.1


# --------------------------------------------------------------------------- attention sharing and hooks


def test_later_groups_reuse_the_first_groups_spatial_maps(model_x2: arch.ASID) -> None:
    computed: dict[str, torch.Tensor] = {}
    received: dict[str, torch.Tensor] = {}
    handles = []
    for name in ("SLA1", "SGA1", "SLA2", "SGA2", "SLA3", "SGA3"):
        first = model_x2.get_submodule(f"block0.residual_layer.0.{name}.attn.attend")
        handles.append(first.register_forward_hook(lambda _m, _a, out, n=name: computed.__setitem__(n, out)))
        for group in (1, 2):
            later = model_x2.get_submodule(f"block{group}.residual_layer.{name}.attn")
            handles.append(
                later.register_forward_pre_hook(
                    lambda _m, args, key=f"{group}.{name}": received.__setitem__(key, args[1])
                )
            )
    try:
        _run(model_x2, _seeded_input(16, 24))
    finally:
        for handle in handles:
            handle.remove()
    assert len(computed) == 6 and len(received) == 12
    for key, attn_map in received.items():
        assert attn_map is computed[key.split(".")[1]]


def test_only_the_first_group_has_query_key_weights(model_x2: arch.ASID) -> None:
    keys = model_x2.state_dict().keys()
    qk_keys = [key for key in keys if "to_qkv" in key or "rel_pos_bias" in key]
    assert len(qk_keys) == 12 and all(key.startswith("block0.") for key in qk_keys)
    assert sum("to_v.weight" in key for key in keys) == 12  # 6 per later group


def test_attention_modules_exist_and_their_hooks_fire(model_x2: arch.ASID) -> None:
    names = arch.attention_modules(arch.PRESETS["asid-x2"])
    assert len(names) == 6 + 2 * 3
    modules = dict(model_x2.named_modules())
    assert all(name in modules for name in names)
    captured: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [
        modules[name].register_forward_hook(
            lambda _m, args, out, n=name: captured.__setitem__(n, (args[0], out))
        )
        for name in names
    ]
    try:
        _run(model_x2, _seeded_input(16, 24))  # no padding: 2 x 3 windows
    finally:
        for handle in handles:
            handle.remove()
    assert set(captured) == set(names)
    for name, (logits, probs) in captured.items():
        torch.testing.assert_close(probs, logits.softmax(dim=-1))
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]))
        if ".attn.attend" in name:
            assert probs.shape == (6, 64, 64)
        elif "cttn1" in name:
            assert probs.shape == (1, 6, 48, 48)
        else:
            assert probs.shape == (1, 64, 48, 48)


def test_attention_modules_cover_every_group_of_asidd8() -> None:
    names = arch.attention_modules(arch.PRESETS["asidd8-x4"])
    with torch.device("meta"):
        modules = dict(arch.build(arch.PRESETS["asidd8-x4"]).named_modules())
    assert len(names) == 6 + 2 * 8 and all(name in modules for name in names)


# --------------------------------------------------------------------------- state dicts


def test_safetensors_round_trip(model_x2: arch.ASID, tmp_path: Path) -> None:
    path = tmp_path / "asid.safetensors"
    safetensors.torch.save_file(model_x2.state_dict(), str(path))
    restored = arch.build(arch.PRESETS["asid-x2"]).eval()
    restored.load_state_dict(safetensors.torch.load_file(str(path)), strict=True)
    x = _seeded_input(20, 18)
    assert torch.equal(_run(model_x2, x), _run(restored, x))


def _documented_official_keys(res_num: int) -> set[str]:
    """The official checkpoint's keys as architectures.md §4.7 lists them."""
    keys = {f"{conv}.{p}" for conv in ("input", "output", "up.0") for p in ("weight", "bias")}
    for group in range(res_num):
        block = "block0.residual_layer.0." if group == 0 else f"block{group}.residual_layer."
        keys |= {f"block{group}.res_end.{p}" for p in ("weight", "bias")}
        esa = ("conv1", "conv_f", "conv2", "conv3", "conv4")
        keys |= {f"block{group}.esa.{conv}.{p}" for conv in esa for p in ("weight", "bias")}
        for k in (1, 2, 3):
            keys |= {f"{block}LB{k}.net.fn.{i}.{p}" for i in (0, 2, 5) for p in ("weight", "bias")}
            keys |= {f"{block}LB{k}.net.fn.4.gate.{i}.weight" for i in (1, 3)}
            keys |= {f"{block}pw{k}.{p}" for p in ("weight", "bias")}
            for spatial in (f"SLA{k}", f"SGA{k}"):
                prefix = f"{block}{spatial}."
                keys |= {f"{prefix}{norm}.{p}" for norm in ("norm", "cnorm") for p in ("weight", "bias")}
                keys |= {f"{prefix}gfn.{conv}.weight" for conv in ("project_in", "dwconv", "project_out")}
                attn = ("to_qkv", "to_out.0", "rel_pos_bias") if group == 0 else ("to_v", "to_out.0")
                keys |= {f"{prefix}attn.{layer}.weight" for layer in attn}
        norms = ("canorm1", "canorm2", "cnorm1", "cnorm2")
        keys |= {f"{block}BlockC.{norm}.{p}" for norm in norms for p in ("weight", "bias")}
        for cttn in ("cttn1", "cttn2"):
            tensors = ("temperature", "qkv.weight", "qkv_dwconv.weight", "project_out.weight")
            keys |= {f"{block}BlockC.{cttn}.{t}" for t in tensors}
        for gfn in ("gfn1", "gfn2"):
            keys |= {f"{block}BlockC.{gfn}.{c}.weight" for c in ("project_in", "dwconv", "project_out")}
    return keys


@pytest.mark.parametrize("preset", ["asid-x2", "asidd8-x4"])
def test_state_dict_uses_the_documented_official_layout(preset: str) -> None:
    with torch.device("meta"):
        model = arch.build(arch.PRESETS[preset])
    assert set(model.state_dict()) == _documented_official_keys(arch.PRESETS[preset].res_num)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,  # what the authors ship: torch.save(net.state_dict())
        lambda sd: {"params_ema": sd},
        lambda sd: {"state_dict": {f"module.{key}": value for key, value in sd.items()}},
        lambda sd: {**sd, "block0.residual_layer.0.SLA1.attn.rel_pos_indices": torch.zeros(64, 64)},
    ],
    ids=["raw", "params_ema", "module_prefix", "stray_key"],
)
def test_official_checkpoint_reproduces_our_outputs(model_x2: arch.ASID, wrap) -> None:
    ours = model_x2.state_dict()
    official = {key: ours[key].clone() for key in _documented_official_keys(3)}
    mapped = arch.from_official_state_dict(wrap(official))
    assert set(mapped) == set(ours)
    loaded = arch.build(arch.config_from_state_dict(mapped)).eval()
    loaded.load_state_dict(mapped, strict=True)
    x = _seeded_input(13, 27)
    assert torch.equal(_run(model_x2, x), _run(loaded, x))


@pytest.mark.parametrize("preset", sorted(EXPECTED_PARAMS))
def test_config_is_inferred_from_a_checkpoint(preset: str) -> None:
    with torch.device("meta"):
        state_dict = arch.build(arch.PRESETS[preset]).state_dict()
    assert arch.config_from_state_dict(state_dict) == arch.PRESETS[preset]


def test_unrecognisable_checkpoints_raise_value_error(model_x2: arch.ASID) -> None:
    ours = model_x2.state_dict()
    with pytest.raises(ValueError, match="not an ASID"):
        arch.from_official_state_dict({"conv_first.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="missing"):
        arch.from_official_state_dict({k: v for k, v in ours.items() if "BlockC.gfn2" not in k})
    bad = dict(ours)
    bad["block1.residual_layer.pw2.weight"] = torch.zeros(36, 36, 3, 3)
    with pytest.raises(ValueError, match="wrong shape"):
        arch.from_official_state_dict(bad)
    with pytest.raises(ValueError):
        arch.from_official_state_dict([1, 2, 3])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- snapshot


def _snapshot_outputs() -> dict[str, np.ndarray]:
    """Seed-0 models of SNAPSHOT_PRESETS on the seed-1 input of 11x13 (padded internally to 16x16)."""
    x = _seeded_input(11, 13)
    return {preset: _run(_seeded_model(preset), x).numpy() for preset in SNAPSHOT_PRESETS}


def test_output_matches_snapshot() -> None:
    outputs = _snapshot_outputs()
    if os.environ.get("IRSTUDIO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(SNAPSHOT, **outputs)
    stored = np.load(SNAPSHOT)
    assert set(stored.files) == set(outputs)
    for preset, output in outputs.items():
        np.testing.assert_allclose(output, stored[preset], atol=1e-5, rtol=0)
