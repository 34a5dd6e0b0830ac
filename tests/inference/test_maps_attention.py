"""Each architecture's hooks give maps of the documented shapes; softmax rows sum to 1; constructed
cases (attention made to point at a known relative position) put the peak at the right pixel, through
shifted windows, coarse levels and ASID's grid; LIR's gate map is the gate PatchAttention applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.inference.maps import MapKind, MapRequest, compute_maps, layer_choices
from irstudio.inference.maps.energy import stage_names
from irstudio.inference.maps.lir_maps import FILTER_LABELS
from irstudio.models.catalog import REGISTRY
from tests.inference.maps_helpers import single_thread, tiny_spec

_one_thread = pytest.fixture(scope="module", autouse=True)(single_thread)

PEAK = 30.0  # logit added for one relative offset: softmax puts ~all mass there


def _drain(generator):
    while True:
        try:
            next(generator)
        except StopIteration as finished:
            return finished.value


def _maps(spec, model, image, **request):
    request.setdefault("kind", MapKind.ATTENTION)
    return _drain(compute_maps(MapRequest(model_id=spec.id, image=image, **request), spec=spec, model=model))


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


def _bias_index(dy: int, dx: int, window: int) -> int:
    """Row of a Swin-style relative-position table for query - key = (dy, dx)."""
    return (dy + window - 1) * (2 * window - 1) + dx + window - 1


def _argmax_yx(values: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.nanargmax(values), values.shape))


# ---------------------------------------------------------------------------------------- Compacter


@pytest.fixture(scope="module")
def compacter():
    spec = tiny_spec("compacter-x1")
    torch.manual_seed(0)
    return spec, spec.build().eval()


def test_compacter_maps_have_the_documented_shapes(compacter) -> None:
    spec, model = compacter
    result = _maps(spec, model, _image(40, 52), pixel=(30, 20), layer="layers.0.blocks.1.attn")
    assert result.crop.width == 52 and result.crop.height == 40 and result.heads == 2
    assert [c.name for c in result.layers] == ["layers.0.blocks.0.attn", "layers.0.blocks.1.attn"]
    for head in range(2):
        row = result.map(f"spatial/h{head}")
        assert row.values.shape == (40, 52) and row.head == head and row.marker == (30, 20)
        assert np.count_nonzero(np.isfinite(row.values)) == 64  # one 8x8 window inside the image
        assert np.nansum(row.values) == pytest.approx(1.0, abs=1e-5)  # a softmax row
        assert result.numbers[f"row sum, head {head}"] == pytest.approx(1.0, abs=1e-5)
    channel = result.map("channel")
    assert channel.values.shape == (16, 16) and channel.grid == "matrix"
    blocks = [channel.values[h * 8 : (h + 1) * 8, h * 8 : (h + 1) * 8] for h in range(2)]
    assert all(np.allclose(block.sum(axis=1), 1.0, atol=1e-5) for block in blocks)
    assert np.isnan(channel.values[:8, 8:]).all() and np.isnan(channel.values[8:, :8]).all()
    gate = result.map("spatial_gate")
    assert gate.values.shape == (40, 52) and gate.values.min() > 0 and gate.values.max() < 1
    channel_gate = result.chart("channel_gate")
    assert len(channel_gate.categories) == 16 and channel_gate.series[0].values.shape == (16,)


def _point_compacter_attention(model, dy: int, dx: int) -> None:
    """q = k = 0 and a relative-position bias that only favours query - key = (dy, dx)."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.endswith(".attn"):
                module.qkv.weight.zero_()
                module.qkv.bias.zero_()
                table = module.spatial_map.relative_position_bias_table
                table.zero_()
                table[_bias_index(dy, dx, module.window_size)] = PEAK


def test_compacter_clicked_pixel_maps_to_the_right_window_and_token() -> None:
    spec = tiny_spec("compacter-x1")
    model = spec.build().eval()
    _point_compacter_attention(model, 1, 2)
    image = _image(32, 32)
    # Shifted block: (8, 8) is token (4, 4) of rolled window 0, whose key (3, 2) is the pixel (7, 6) -
    # a different window of the unshifted grid.
    shifted = _maps(spec, model, image, pixel=(8, 8), layer="layers.0.blocks.1.attn").map("spatial/h0")
    assert _argmax_yx(shifted.values) == (7, 6) and shifted.values[7, 6] > 0.99
    assert shifted.focus == (4, 4, 12, 12)
    # Unshifted block: (8, 8) is the first token of its window, (7, 6) is not in it.
    plain = _maps(spec, model, image, pixel=(8, 8), layer="layers.0.blocks.0.attn").map("spatial/h1")
    assert np.isnan(plain.values[7, 6]) and plain.focus == (8, 8, 16, 16)
    inner = _maps(spec, model, image, pixel=(13, 11), layer="layers.0.blocks.0.attn").map("spatial/h0")
    assert _argmax_yx(inner.values) == (10, 11)
    # Shifted window across the border: pixel (1, 1) shares rolled window 15 with the bottom/right rows,
    # the Swin mask keeps it to its own region, the 4 x 4 corner [0:4, 0:4] (uniform: all logits 0).
    corner = _maps(spec, model, image, pixel=(1, 1), layer="layers.0.blocks.1.attn").map("spatial/h0")
    assert np.allclose(corner.values[0:4, 0:4], 1 / 16, atol=1e-6)
    assert np.nansum(corner.values) == pytest.approx(1.0, abs=1e-5)
    assert np.count_nonzero(np.isfinite(corner.values)) == 64


def test_compacter_sr_maps_are_in_input_pixels() -> None:
    spec = tiny_spec("compacter-x2")
    model = spec.build().eval()
    result = _maps(spec, model, _image(20, 28), pixel=(27, 19))
    assert result.scale == 2 and result.map("spatial/h0").values.shape == (20, 28)
    assert result.map("spatial_gate").values.shape == (20, 28)


# ---------------------------------------------------------------------------------------------- AST


@pytest.fixture(scope="module")
def ast_model():
    spec = tiny_spec("ast-t")
    torch.manual_seed(0)
    return spec, spec.build().eval()


def test_ast_rows_have_the_documented_shapes_and_fusion_weights(ast_model) -> None:
    spec, model = ast_model
    choices = layer_choices(spec, model)
    assert [c.name for c in choices] == list(spec.attention_modules)
    with torch.no_grad():
        model.get_parameter("decoderlayer_3.blocks.1.attn.w").copy_(torch.tensor([2.0, 0.0]))
    result = _maps(spec, model, _image(100, 120), pixel=(50, 60), layer="decoderlayer_3.blocks.1.attn.attend")
    assert result.heads == 2 and result.crop == result.crop.__class__(0, 0, 100, 120)
    for head in range(2):
        dense, sparse, fused = (result.map(f"{b}/h{head}").values for b in ("dense", "sparse", "fused"))
        assert dense.shape == sparse.shape == fused.shape == (100, 120)
        assert np.nansum(dense) == pytest.approx(1.0, abs=1e-5)
        assert np.nanmin(sparse) >= 0
        alpha = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
        assert np.allclose(fused, alpha[0] * dense + alpha[1] * sparse, atol=1e-6, equal_nan=True)
    assert result.numbers["a0 (dense weight)"] == pytest.approx(np.exp(2) / (np.exp(2) + 1), abs=1e-6)
    fusion = result.chart("fusion")
    assert len(fusion.categories) == len(spec.attention_modules) == 6
    dense_w, sparse_w = (s.values for s in fusion.series)
    assert np.allclose(dense_w + sparse_w, 1.0)
    assert dense_w[-1] == pytest.approx(np.exp(2) / (np.exp(2) + 1))


def _point_ast_attention(model, dy: int, dx: int) -> None:
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.endswith(".attn") and hasattr(module, "relative_position_bias_table"):
                for linear in (module.qkv.to_q, module.qkv.to_kv):
                    linear.weight.zero_()
                    linear.bias.zero_()
                module.relative_position_bias_table.zero_()
                module.relative_position_bias_table[_bias_index(dy, dx, module.win_size)] = PEAK


def test_ast_clicked_pixel_maps_to_the_right_token_at_every_level() -> None:
    spec = tiny_spec("ast-t")
    model = spec.build().eval()
    _point_ast_attention(model, 1, 2)
    image = _image(128, 128)
    shifted = _maps(spec, model, image, pixel=(8, 8), layer="decoderlayer_3.blocks.1.attn.attend")
    assert _argmax_yx(shifted.map("dense/h1").values) == (7, 6)
    plain = _maps(spec, model, image, pixel=(13, 11), layer="decoderlayer_3.blocks.0.attn.attend")
    assert _argmax_yx(plain.map("dense/h0").values) == (10, 11)
    # Level 1/8 (decoderlayer_0, a 16x16 map of four 8x8-token windows): pixel (x=86, y=45) is feature
    # (5, 10) in window 1; its key (4, 8) covers the input rows 32..39, columns 64..71.
    coarse = _maps(spec, model, image, pixel=(86, 45), layer="decoderlayer_0.blocks.0.attn.attend")
    dense = coarse.map("dense/h0").values
    assert np.all(dense[32:40, 64:72] > 0.99) and np.nanmax(dense[40:, :]) < 0.01
    assert np.count_nonzero(np.isfinite(dense)) == 64 * 64  # the window: 8x8 tokens of 8x8 pixels
    assert np.all(np.isfinite(dense[:64, 64:]))


# ---------------------------------------------------------------------------------------------- LIR


@pytest.fixture(scope="module")
def lir_model():
    spec = tiny_spec("lir")
    torch.manual_seed(0)
    model = spec.build().eval()
    with torch.no_grad():  # official init has PatchAttention's beta at 0: x is multiplied by its gate
        model.get_parameter("EAA1.0.stage2.0.alpha").copy_(torch.arange(1.0, 10.0))
        model.get_parameter("EAA1.0.stage2.0.beta").fill_(-0.5)
    return spec, model


def test_lir_gate_is_the_gate_patch_attention_applies(lir_model) -> None:
    spec, model = lir_model
    layer = "EAA1.0.stage2"
    seen = {}
    handle = model.get_submodule(f"{layer}.1.pa").register_forward_hook(
        lambda module, inputs, output: seen.update(x=inputs[0][0, 0], y=output[0, 0])
    )
    try:
        result = _maps(spec, model, _image(120, 128), pixel=(37, 21), layer=layer)
    finally:
        handle.remove()
    applied = (seen["y"] / seen["x"]).numpy()  # (64, 64): the stage runs at 1/2 of the padded 128
    gate = result.map("gate").values
    assert gate.shape == (120, 128)
    expected_cmap = "coolwarm" if applied.min() < 0 < applied.max() else "viridis"  # centred on 0 if signed
    assert result.map("gate").cmap == expected_cmap
    assert np.allclose(gate[::2, ::2], applied[:60, :64], rtol=1e-3, atol=1e-5)
    group = result.map("group").values
    assert np.count_nonzero(np.isfinite(group)) == 4 * 4 * 2 * 2  # p x p members of 2x2 input pixels
    assert group[21, 37] == 1.0
    rows = np.nonzero(np.isfinite(group[:, 36]))[0]
    assert np.array_equal(np.unique(rows // 2 % 16), [10])  # member rows repeat every 16 feature rows
    assert result.numbers["gate of the query's group"] == pytest.approx(float(applied[10, 18]), rel=1e-3)


def test_lir_filter_weights_and_response(lir_model) -> None:
    spec, model = lir_model
    result = _maps(spec, model, _image(128, 128, seed=3), pixel=(5, 5), layer="EAA1.0.stage2")
    chart = result.chart("filter")
    assert chart.categories == FILTER_LABELS
    assert np.allclose(chart.series[0].values, [*range(1, 10), -0.5])
    response = result.map("response")
    assert response.values.shape == (128, 128) and np.nanmin(response.values) >= 0
    first = _maps(spec, model, _image(128, 128), pixel=(5, 5), layer="EAA1.0.stage1")
    assert [m.key for m in first.maps] == ["gate", "group"] and not first.charts
    assert len(layer_choices(spec, model)) == 5 * 5  # five EAA blocks, stages 1..5


# --------------------------------------------------------------------------------------------- ASID


def _point_asid_attention(model, dy: int, dx: int) -> None:
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "rel_pos_bias"):
                module.to_qkv.weight.zero_()
                module.rel_pos_bias.weight.zero_()
                module.rel_pos_bias.weight[_bias_index(dy, dx, 8)] = PEAK


def test_asid_shared_maps_land_on_window_and_grid_positions() -> None:
    spec = tiny_spec("asid-x2")
    model = spec.build().eval()
    _point_asid_attention(model, 1, 2)
    result = _maps(spec, model, _image(32, 32), pixel=(20, 13), layer="block1")
    keys = [m.key for m in result.maps]
    assert keys[:6] == [f"shared/{b}" for b in ("SLA1", "SGA1", "SLA2", "SGA2", "SLA3", "SGA3")]
    for block in ("SLA1", "SLA2", "SLA3"):
        window = result.map(f"shared/{block}").values
        assert _argmax_yx(window) == (12, 18)  # (13 - 1, 20 - 2)
    for block in ("SGA1", "SGA2", "SGA3"):
        grid = result.map(f"shared/{block}").values
        # grid token (i, j) = (3, 5) of group (1, 0); key token (2, 3) is pixel (2*4 + 1, 3*4 + 0)
        assert _argmax_yx(grid) == (9, 12)
        assert np.count_nonzero(np.isfinite(grid)) == 64
        assert np.all(np.isfinite(grid[1::4, 0::4]))


def test_asid_channel_maps_per_group(tmp_path) -> None:
    spec = tiny_spec("asid-x2")
    torch.manual_seed(0)
    model = spec.build().eval()
    seen = {}
    name = "block1.residual_layer.BlockC.cttn2.attend"
    handle = model.get_submodule(name).register_forward_hook(lambda m, i, o: seen.update(full=o[0].clone()))
    try:
        result = _maps(spec, model, _image(24, 40), pixel=(11, 6), layer="block1")
    finally:
        handle.remove()
    assert [c.name for c in result.layers] == ["block0", "block1"]
    for variant in ("window", "grid"):
        matrix = result.map(f"channel/{variant}").values
        assert matrix.shape == (16, 16)
        assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    expected = seen["full"][(6 % 8) * 8 + 11 % 8].numpy()  # grid group of (y mod 8, x mod 8)
    assert np.allclose(result.map("channel/grid").values, expected)
    for key in ("SLA1", "SGA1", "SLA2", "SGA2", "SLA3", "SGA3"):
        assert result.numbers[f"{key} row sum"] == pytest.approx(1.0, abs=1e-5)
        assert result.map(f"shared/{key}").values.shape == (24, 40)


# ---------------------------------------------------------------------------- energy and the requests


@pytest.mark.parametrize("model_id", ["compacter-x1", "ast-t", "asid-x2"])
def test_energy_per_stage(model_id: str) -> None:
    spec = tiny_spec(model_id)
    model = spec.build().eval()
    result = _maps(spec, model, _image(40, 36), kind=MapKind.ENERGY)
    names = stage_names(model)
    chart = result.chart("energy")
    assert list(chart.categories) == names and np.all(chart.series[0].values > 0)
    first, last = result.maps[0], result.maps[-1]
    assert first.values.shape == (40, 36)  # the first conv keeps the resolution; padding cropped
    assert last.values.shape == (40 * spec.scale, 36 * spec.scale)
    if model_id == "ast-t":  # channels-last stages, at 1/16 in the bottleneck of a 128-padded input
        assert result.map("energy/conv").values.shape == (3, 3)


def test_requests_that_cannot_be_served_say_why(compacter) -> None:
    spec, model = compacter
    image = _image(16, 16)
    with pytest.raises(ValueError, match="no map layer"):
        _maps(spec, model, image, layer="layers.9.blocks.0.attn")
    with pytest.raises(ValueError, match="no attention maps"):
        _maps(REGISTRY.get("identity"), None, image)
    with pytest.raises(ValueError, match="needs a reference"):
        _maps(spec, model, image, kind=MapKind.ERROR, output=image)
    token = CancelToken()
    steps = compute_maps(
        MapRequest(kind=MapKind.ATTENTION, model_id=spec.id, image=image), token, spec=spec, model=model
    )
    assert "running" in next(steps)
    token.cancel()
    with pytest.raises(Cancelled):
        next(steps)


def test_fft_and_error_use_the_given_output_without_a_model() -> None:
    spec = REGISTRY.get("bicubic-x2")
    image = _image(20, 24)
    output = _image(40, 48, seed=1)
    result = _maps(spec, None, image, kind=MapKind.ERROR, output=output, reference=output)
    assert result.map("error/abs").values.shape == (40, 48) and result.numbers["max |error|"] == 0
    spectra = _maps(spec, None, image, kind=MapKind.FFT, output=output, pixel=(3, 4))
    assert [m.key for m in spectra.maps] == [
        "fft/input",
        "fft/output",
        "fft/difference",
        "grid/input",
        "grid/output",
    ]
    with pytest.raises(ValueError, match="expected 48x40"):
        _maps(spec, None, image, kind=MapKind.FFT, output=image)
