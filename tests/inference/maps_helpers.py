"""Small random-weight versions of the four architectures, registered like the real presets (fast tests)."""

from __future__ import annotations

import dataclasses

from irstudio.models.archs import asid, ast, compacter, lir
from irstudio.models.catalog import REGISTRY
from irstudio.models.spec import ModelSpec

TINY_CONFIGS = {
    "compacter-x1": (compacter, compacter.CompacterConfig(upscale=1, embed_dim=16, depths=(2,), num_heads=2)),
    "compacter-x2": (compacter, compacter.CompacterConfig(upscale=2, embed_dim=16, depths=(2,), num_heads=2)),
    "ast-t": (
        ast,
        ast.ASTConfig(
            embed_dim=8,
            depths=(1, 1, 1, 2, 1, 1, 1, 1, 2),
            num_heads=(1, 1, 1, 1, 2, 2, 1, 1, 2),
            drop_path_rate=0.0,
        ),
    ),
    "lir": (lir, lir.LIRConfig(dim=16, left_blk_num=(1, 1), bottom_blk_num=1, right_blk_num=(1, 1))),
    "asid-x2": (asid, asid.ASIDConfig(num_feat=16, res_num=2, upsampling=2)),
}


def tiny_spec(model_id: str) -> ModelSpec:
    """The registry entry ``model_id`` with a much smaller configuration of the same architecture."""
    arch, config = TINY_CONFIGS[model_id]
    return dataclasses.replace(
        REGISTRY.get(model_id),
        build=lambda: arch.build(config),
        attention_modules=arch.attention_modules(config),
        tile_multiple=arch.tile_multiple(config),
        hparams=dict(vars(config)),
    )


def single_thread():
    """Generator for a fixture: torch on one thread for the duration (small models, busy CI machines:
    OpenMP threads fighting over two busy cores made these forwards 10x slower), then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
