"""Every registry entry keeps what the catalog says about it: parameters, MACs, hooks, scale, tiling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from irstudio.inference.runner import TilePlan, restore
from irstudio.models.catalog import REGISTRY

LEARNED = [spec.id for spec in REGISTRY if spec.learned]


def _meta_model(model_id: str) -> torch.nn.Module:
    with torch.device("meta"):
        return REGISTRY.get(model_id).build()


@pytest.mark.parametrize("model_id", LEARNED)
def test_parameters_and_macs_are_what_the_catalog_says(model_id: str) -> None:
    spec = REGISTRY.get(model_id)
    model = _meta_model(model_id)
    assert sum(p.numel() for p in model.parameters()) == spec.params
    height, width = -(-720 // spec.scale), -(-1280 // spec.scale)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, height, width, device="meta"))
    assert counter.get_total_flops() // 2 == spec.macs_720p


@pytest.mark.parametrize("model_id", LEARNED)
def test_attention_modules_named_in_the_catalog_exist(model_id: str) -> None:
    spec = REGISTRY.get(model_id)
    names = {name for name, _ in _meta_model(model_id).named_modules()}
    assert spec.attention_modules and set(spec.attention_modules) <= names


@pytest.mark.parametrize("model_id", [i for i in LEARNED if i != "ast-b"])
def test_output_has_the_catalog_scale(model_id: str) -> None:
    spec = REGISTRY.get(model_id)
    model = spec.build().eval()
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 19, 27))
    assert out.shape == (1, 3, 19 * spec.scale, 27 * spec.scale)
    assert torch.isfinite(out).all()


# (model, image height, width, tile): big enough that every model sees several tiles with context.
TILING_CASES = [
    ("compacter-x1", 96, 128, 48),
    ("compacter-x4", 64, 96, 32),
    ("asid-x2", 96, 128, 48),
    ("asid-x4", 64, 96, 32),
    ("ast-t", 256, 384, 128),
    ("lir", 256, 320, 128),
]


@pytest.mark.parametrize(("model_id", "height", "width", "tile"), TILING_CASES)
def test_tiled_output_matches_whole_image_output(model_id: str, height: int, width: int, tile: int) -> None:
    """Random weights, smooth random input, the model's default context: >= 50 dB against untiled."""
    spec = REGISTRY.get(model_id)
    model = spec.build().eval()
    noise = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    image = cv2.GaussianBlur(noise, (0, 0), 2.0)
    common = {"context": spec.context, "multiple": spec.tile_multiple, "scale": spec.scale}
    whole = restore(model, image, TilePlan(tile=None, **common))
    tiled = restore(model, image, TilePlan(tile=tile, **common))
    mse = float(np.mean((whole.astype(np.float64) - tiled) ** 2))
    psnr = 10 * np.log10(1.0 / mse) if mse > 0 else float("inf")
    assert psnr >= 50.0, f"{model_id}: tiled vs whole image {psnr:.1f} dB"
