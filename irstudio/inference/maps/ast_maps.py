"""AST's maps: for the query, the dense (softmax), sparse (squared ReLU) and fused attention rows of an
ASSA layer, per head, with the window shift undone; and the learned fusion weights of every layer.

Hook (see ``irstudio.models.archs.ast``): ``<layer>.blocks.<i>.attn.attend`` gets ``(logits, alpha)`` and
returns ``AssaMaps(fused, dense, sparse)``, each (nW, heads, w*w, w*w) over the padded map of its level
(input padded to a multiple of ``model.pad_multiple``, then divided by ``attend.downscale``), rolled by
``-attend.shift_size`` in shifted blocks. A token at a level of downscale d covers d x d input pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from irstudio.inference.maps.geometry import (
    local_focus,
    place_tokens,
    round_up,
    window_token,
    window_token_positions,
)
from irstudio.inference.maps.hooks import TapError, run_with_taps, to_numpy
from irstudio.inference.maps.ranges import data_range
from irstudio.inference.maps.types import Chart, LayerChoice, MapImage, MapParts, Series
from irstudio.models.spec import ModelSpec

__all__ = ["attention_maps", "fusion_weights", "layer_choices"]

_SUFFIX = ".attend"
_BRANCHES = ("dense", "sparse", "fused")
_TITLES = {
    "dense": "Dense branch: softmax row",
    "sparse": "Sparse branch: squared-ReLU row",
    "fused": "Fused row (a0 dense + a1 sparse)",
}


def _short_name(name: str) -> str:
    """``decoderlayer_2.blocks.1.attn.attend`` -> ``dec2.1``; ``conv.blocks.0...`` -> ``mid.0``."""
    layer, _, block = name.split(".")[:3]
    prefix = "mid" if layer == "conv" else layer.replace("decoderlayer_", "dec")
    return f"{prefix}.{block}"


def layer_choices(spec: ModelSpec, model: nn.Module) -> tuple[LayerChoice, ...]:
    """One choice per ASSA (``...attn.attend``): the bottleneck first, then decoder levels 0..3."""
    choices = []
    for name in spec.attention_modules:
        attend = model.get_submodule(name)
        heads = model.get_submodule(name[: -len(_SUFFIX)]).num_heads
        shifted = ", shifted" if attend.shift_size else ""
        label = f"{_short_name(name)} (1/{attend.downscale}{shifted})"
        choices.append(LayerChoice(name=name, label=label, heads=heads))
    return tuple(choices)


def fusion_weights(spec: ModelSpec, model: nn.Module) -> Chart:
    """softmax(w) of every ASSA: (dense, sparse) weight pairs as grouped bars, in forward order."""
    dense, sparse = [], []
    for name in spec.attention_modules:
        w = model.get_parameter(name[: -len("attend")] + "w").detach().float().cpu()
        alpha = torch.softmax(w, dim=0).numpy()
        dense.append(float(alpha[0]))
        sparse.append(float(alpha[1]))
    return Chart(
        key="fusion",
        title="Learned fusion weights softmax(w) per layer",
        style="bars",
        series=(Series("dense (softmax)", np.array(dense)), Series("sparse (ReLU²)", np.array(sparse))),
        categories=tuple(_short_name(name) for name in spec.attention_modules),
        x_label="layer",
        y_label="weight",
    )


def attention_maps(
    spec: ModelSpec, model: nn.Module, crop: np.ndarray, layer: str, query: tuple[int, int], device: str
) -> MapParts:
    """The three rows of ASSA ``layer`` for crop pixel ``query`` = (x, y), all heads, and the fusion chart."""
    attend = model.get_submodule(layer)
    heads = model.get_submodule(layer[: -len(_SUFFIX)]).num_heads
    height, width = crop.shape[:2]
    multiple, scale = model.pad_multiple, attend.downscale
    window, shift = attend.win_size, attend.shift_size
    level = (round_up(height, multiple) // scale, round_up(width, multiple) // scale)
    x, y = query
    fy, fx = y // scale, x // scale
    index, token = window_token(fy, fx, height=level[0], width=level[1], window=window, shift=shift)
    windows = (level[0] // window) * (level[1] // window)

    def tap(module, inputs, output):
        if output.dense.shape[0] != windows:
            raise TapError(f"{layer}: expected {windows} windows, the hook saw {output.dense.shape[0]}")
        rows = {branch: to_numpy(getattr(output, branch)[index, :, token, :]) for branch in _BRANCHES}
        rows["alpha"] = to_numpy(inputs[1])
        return rows

    _, got = run_with_taps(model, crop, {layer: tap}, device)
    rows = got[layer]
    positions = window_token_positions(index, height=level[0], width=level[1], window=window, shift=shift)
    focus = local_focus(positions, (fy, fx), downscale=scale, reach=window, shape=(height, width))
    where = f"window {index}, token {token} at 1/{scale}" + (f", shift {shift} undone" if shift else "")
    parts = MapParts(heads=heads)
    for head in range(heads):
        for branch in _BRANCHES:
            row = rows[branch][head]
            parts.maps.append(
                MapImage(
                    key=f"{branch}/h{head}",
                    title=f"{_TITLES[branch]}, head {head}",
                    values=place_tokens(row, positions, downscale=scale, shape=(height, width)),
                    vmin=data_range(row)[0],
                    vmax=data_range(row)[1],
                    units="attention weight",
                    head=head,
                    marker=(x, y),
                    focus=focus,
                    note=where,
                )
            )
        parts.numbers[f"dense row sum, head {head}"] = float(rows["dense"][head].sum())
        parts.numbers[f"sparse row sum, head {head}"] = float(rows["sparse"][head].sum())
    alpha = rows["alpha"]
    parts.numbers["a0 (dense weight)"] = float(alpha[0])
    parts.numbers["a1 (sparse weight)"] = float(alpha[1])
    parts.charts.append(fusion_weights(spec, model))
    parts.notes.append(
        f"Level 1/{scale}: {window}x{window} windows of {scale}x{scale}-pixel tokens, {heads} heads. "
        "Sparse rows are not renormalised (their sum is not 1), as in the paper."
    )
    return parts
