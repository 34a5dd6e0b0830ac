"""LIR (irstudio.models.archs.lir): parameter count, shapes, block references, loading, hooks, snapshot.

Most tests use ``SMALL`` (dim 16, one EAA block per level): the same code paths at a fraction of the cost
of the 7.3M-parameter preset, which runs one tiny forward only.

Regenerate the stored snapshot (only after a deliberate change of the architecture or its init):
``IRSTUDIO_UPDATE_SNAPSHOTS=1 python -m pytest tests/models/test_lir.py -k snapshot``.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F

from irstudio.models.archs import lir as arch

SNAPSHOT = Path(__file__).parent / "snapshots" / "lir.npz"
SMALL = arch.LIRConfig(dim=16, left_blk_num=(1, 1), bottom_blk_num=1, right_blk_num=(1, 1))
DEFAULT_PARAMS = 7_310_915
OFFICIAL_GPU_KEYS = 2_540  # entries of a GPU-trained official checkpoint (architectures.md §3.7)


def _perturbed(model: arch.LIR, seed: int = 1, std: float = 0.05) -> arch.LIR:
    """Add seeded noise to every parameter so the zero-initialised residual scales are live."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(std * torch.randn(param.shape, generator=generator))
    return model.eval()


def _small_model(seed: int = 0) -> arch.LIR:
    torch.manual_seed(seed)
    return _perturbed(arch.build(SMALL))


def _seeded_input(height: int, width: int, batch: int = 1, seed: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


@pytest.fixture(scope="module", autouse=True)
def _one_intra_op_thread() -> Iterator[None]:
    """Run this module single-threaded, then restore the thread count.

    LIR runs hundreds of small ops per forward; on a 2-core machine that other processes also load, two
    spinning OpenMP threads made a forward ~50x slower (0.2 s -> 10-18 s), one thread does not.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def small_model() -> arch.LIR:
    return _small_model()


# --------------------------------------------------------------------------- configuration


def test_presets_and_geometry() -> None:
    assert set(arch.PRESETS) == {"lir"}
    config = arch.PRESETS["lir"]
    assert config == arch.LIRConfig()
    assert (config.dim, config.left_blk_num, config.bottom_blk_num, config.right_blk_num) == (
        48,
        (3, 3),
        3,
        (4, 3),
    )
    assert arch.tile_multiple(config) == 32
    assert arch.min_side(config) == 128
    assert arch.HALF_DTYPES == ("bf16",)


def test_parameter_count_is_exact() -> None:
    with torch.device("meta"):
        model = arch.build(arch.PRESETS["lir"])
    assert sum(p.numel() for p in model.parameters()) == DEFAULT_PARAMS
    assert len(model.state_dict()) == OFFICIAL_GPU_KEYS


def test_constructor_is_keyword_only_with_one_keyword_per_field() -> None:
    with pytest.raises(TypeError):
        arch.LIR(3)  # type: ignore[misc]
    parameters = inspect.signature(arch.LIR.__init__).parameters
    keywords = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords == [field.name for field in dataclasses.fields(arch.LIRConfig)]
    assert all(parameters[f.name].default == f.default for f in dataclasses.fields(arch.LIRConfig))


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="dim"):
        arch.LIR(dim=12)
    with pytest.raises(ValueError, match="patch"):
        arch.LIR(dim=16, patch_sizes=(8, 8, 3, 8, 8))


def test_fixed_kernels_are_non_persistent_buffers(small_model: arch.LIR) -> None:
    state = small_model.state_dict()
    buffers = dict(small_model.named_buffers())
    filters = [m for m in small_model.modules() if isinstance(m, arch.Filters)]
    assert len(filters) == 4 * 5  # stages 2..5 of one block per level
    assert len(buffers) == 2 * len(filters)
    assert not set(buffers) & set(state)
    assert not any(
        name.endswith(("edge_kernels", "gauss_taps")) for name, _ in small_model.named_parameters()
    )


def test_padded_size_meets_the_official_constraints(small_model: arch.LIR) -> None:
    assert small_model.padded_size(37, 53) == (128, 128)
    assert small_model.padded_size(1, 1) == (128, 128)
    assert small_model.padded_size(300, 17) == (320, 128)
    assert small_model.padded_size(129, 256) == (160, 256)


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize(("height", "width", "batch"), [(37, 53, 1), (1, 1, 1), (300, 17, 1), (16, 40, 2)])
def test_forward_any_size(small_model: arch.LIR, height: int, width: int, batch: int) -> None:
    y = _run(small_model, _seeded_input(height, width, batch))
    assert y.shape == (batch, 3, height, width)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


def test_aligned_input_runs_unpadded(small_model: arch.LIR) -> None:
    x = _seeded_input(128, 160)
    with torch.inference_mode():
        assert torch.equal(small_model(x), small_model.restore_aligned(x))


def test_crop_keeps_the_top_left_of_the_padded_run(small_model: arch.LIR) -> None:
    x = _seeded_input(100, 130)
    padded = F.pad(x, (0, 160 - 130, 0, 128 - 100), mode="reflect")
    with torch.inference_mode():
        torch.testing.assert_close(small_model(x), small_model.restore_aligned(padded)[..., :100, :130])


def test_default_preset_forward_at_init_is_near_identity() -> None:
    """The official init zeroes every residual scale, so the fresh 7.3M net stays close to its input."""
    torch.manual_seed(0)
    model = arch.build(arch.PRESETS["lir"]).eval()
    x = _seeded_input(5, 7)
    y = _run(model, x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert (y - x).abs().max() < 1.0


def test_bf16_stays_close_to_fp32(small_model: arch.LIR) -> None:
    x = _seeded_input(32, 32)
    reference = _run(small_model, x)
    model_bf16 = _small_model().to(torch.bfloat16)
    y = _run(model_bf16, x.to(torch.bfloat16)).float()
    assert torch.isfinite(y).all()
    assert (y - reference).abs().max() < 0.1 * reference.abs().max()


# --------------------------------------------------------------------------- blocks against references


_REFERENCE_KERNELS = {  # architectures.md §3.3, before the 1e-3 scale, in the unfused alpha order
    "sobel_x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "sobel_y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sobel_xy": [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],
    "sobel_yx": [[-2, -1, 0], [-1, 0, 1], [0, 1, 2]],
    "roberts_x": [[1, 0, 0], [0, -1, 0], [0, 0, 0]],
    "roberts_y": [[0, 1, 0], [-1, 0, 0], [0, 0, 0]],
}


def _reference_gaussian_blur(x: torch.Tensor) -> torch.Tensor:
    """torchvision GaussianBlur(15, 5) on a tensor: 2-D outer-product kernel, reflect padding.

    The taps are computed in float32, as torchvision does for the float32 images LIR runs on.
    """
    positions = torch.linspace(-7.0, 7.0, steps=15, dtype=torch.float32)
    taps = torch.exp(-0.5 * (positions / 5.0) ** 2)
    taps = (taps / taps.sum()).to(x.dtype)
    kernel = (taps[:, None] * taps[None, :]).expand(x.shape[1], 1, 15, 15)
    return F.conv2d(F.pad(x, (7, 7, 7, 7), mode="reflect"), kernel, groups=x.shape[1])


def test_filters_match_eight_convolutions_and_a_high_pass() -> None:
    channels = 5
    module = arch.Filters(channels).double()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        module.alpha.copy_(torch.randn(9, generator=generator, dtype=torch.float64))
        module.beta.copy_(torch.randn(1, generator=generator, dtype=torch.float64))
    x = torch.randn(2, channels, 12, 17, generator=generator, dtype=torch.float64)
    expected = module.beta * x + module.alpha[8] * (x - _reference_gaussian_blur(x))
    for index, kernel in enumerate(_REFERENCE_KERNELS.values()):
        weight = torch.tensor(kernel, dtype=torch.float32).mul(1e-3).double().expand(channels, 1, 3, 3)
        expected = expected + module.alpha[index] * F.conv2d(x, weight, padding=1, groups=channels)
    with torch.no_grad():
        torch.testing.assert_close(module(x), expected, rtol=1e-12, atol=1e-12)


def test_patch_attention_gates_dilated_groups() -> None:
    """Group (a, b) is x[..., a::H/p, b::W/p]; its MLP input is flattened (channel, i, j)."""
    p, channels = 4, 6
    module = arch.PatchAttention(p, channels, 2).double()
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float64))
    x = torch.randn(2, channels, 3 * p, 5 * p, generator=generator, dtype=torch.float64)
    rows, cols = x.shape[-2] // p, x.shape[-1] // p
    reduced = module.down(x)
    expected = module.beta * x
    with torch.no_grad():
        for a in range(rows):
            for b in range(cols):
                gate = module.mlp(reduced[..., a::rows, b::cols].reshape(2, -1))
                expected[..., a::rows, b::cols] += x[..., a::rows, b::cols] * gate.view(2, 1, 1, 1)
        torch.testing.assert_close(module(x), expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- weights


def test_safetensors_round_trip(small_model: arch.LIR, tmp_path: Path) -> None:
    path = tmp_path / "lir.safetensors"
    safetensors.torch.save_file(small_model.state_dict(), str(path))
    torch.manual_seed(123)
    restored = arch.build(SMALL).eval()
    restored.load_state_dict(safetensors.torch.load_file(str(path)), strict=True)
    x = _seeded_input(40, 24)
    assert torch.equal(_run(small_model, x), _run(restored, x))


def _official_layout(model: arch.LIR) -> dict[str, torch.Tensor]:
    """The state dict an official model built on CPU saves: ours plus 7 fixed kernels per Filters
    (architectures.md §3.6-3.7; Sobel_y is not registered there)."""
    state = dict(model.state_dict())
    for name, module in model.named_modules():
        if isinstance(module, arch.Filters):
            for kernel in ("Sobel_x", "Laplation", "Edge", "Roberts_x", "Roberts_y", "Sobel_xy", "Sobel_yx"):
                state[f"{name}.{kernel}"] = torch.zeros(module.dim, 1, 3, 3)
    return state


def test_official_checkpoint_layouts_load(small_model: arch.LIR) -> None:
    official = _official_layout(small_model)
    assert len(official) == len(small_model.state_dict()) + 7 * 20
    decoy = {key: torch.zeros_like(value) for key, value in official.items()}
    x = _seeded_input(20, 30)
    expected = _run(small_model, x)
    checkpoints = {
        "basicsr": {"params": decoy, "params_ema": official},  # official testing loads params_ema
        "params only": {"params": official},
        "raw": official,
        "data parallel": {"state_dict": {f"module.{key}": value for key, value in official.items()}},
    }
    for label, checkpoint in checkpoints.items():
        model = arch.build(SMALL).eval()
        model.load_state_dict(arch.from_official_state_dict(checkpoint), strict=True)
        assert torch.equal(_run(model, x), expected), label


@pytest.mark.parametrize(
    "checkpoint",
    [
        {"generator.conv_first.weight": torch.zeros(1)},
        {"EAA1.0.stage1.0.pa.beta": torch.zeros(1)},  # no Conv_head
        {"Conv_head.conv.weight": torch.zeros(1), "body.0.weight": torch.zeros(1)},
        {"Conv_head.conv.weight": [0.0]},
    ],
)
def test_unrecognisable_checkpoints_raise(checkpoint: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="LIR"):
        arch.from_official_state_dict(checkpoint)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- attention hooks


def test_attention_modules_exist_fire_and_show_the_maps(small_model: arch.LIR) -> None:
    names = arch.attention_modules(SMALL)
    assert len(names) == 5 * 9  # per block: 5 patch-attention gates + 4 filter responses
    assert len(arch.attention_modules(arch.PRESETS["lir"])) == 16 * 9
    modules = dict(small_model.named_modules())
    assert set(names) <= set(modules)
    seen: dict[str, torch.Tensor] = {}
    handles = [
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out))
        for name in names
    ]
    filter_io: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    filters_name = "EAA2.0.stage3.0"
    handles.append(
        modules[filters_name].register_forward_hook(
            lambda _m, inputs, out: filter_io.__setitem__("io", (inputs[0], out))
        )
    )
    x = _seeded_input(37, 53)
    try:
        hooked = _run(small_model, x)
    finally:
        for handle in handles:
            handle.remove()
    assert set(seen) == set(names)
    assert torch.equal(hooked, _run(small_model, x))  # hooks change nothing
    # EAA1 runs at the padded 128x128: stage1 gate over p=8 groups; stage2 response at 64x64 (dim 16).
    assert seen["EAA1.0.stage1.0.pa.gate"].shape == (1, 1, 128 // 8, 128 // 8)
    assert seen["EAA1.0.stage2.0.response"].shape == (1, 16, 64, 64)
    assert seen["EAA1.0.stage5.0.response"].shape == (1, 32, 64, 64)
    assert seen["EAA3.0.stage3.1.pa.gate"].shape == (1, 1, 8 // 2, 8 // 2)
    # the response is the filter output without its identity term
    filters = modules[filters_name]
    inputs, output = filter_io["io"]
    with torch.inference_mode():
        identity_term = filters.beta[0] * inputs
    torch.testing.assert_close(seen[f"{filters_name}.response"], output - identity_term)


# --------------------------------------------------------------------------- snapshot


def _snapshot_output() -> np.ndarray:
    """Seed-0 SMALL model plus seed-1 N(0, 0.05^2) parameter noise, on a seed-2 (1, 3, 24, 40) input."""
    return _run(_small_model(seed=0), _seeded_input(24, 40)).numpy()


def test_snapshot() -> None:
    output = _snapshot_output()
    if os.environ.get("IRSTUDIO_UPDATE_SNAPSHOTS") == "1":
        np.savez_compressed(SNAPSHOT, output=output.astype(np.float32))
    stored = np.load(SNAPSHOT)["output"]
    assert stored.shape == output.shape
    np.testing.assert_allclose(output, stored, rtol=0, atol=1e-5)
