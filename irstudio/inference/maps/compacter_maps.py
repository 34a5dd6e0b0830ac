"""Compacter's maps: per CASA block, the window attention row of the query (every head), the C x C
channel attention, the spatial gate map and the channel gate vector.

Hooks (see ``irstudio.models.archs.compacter``): ``<block>.attn.spatial_map`` (output (nW, heads,
w*w, w*w) over the padded map, rolled by ``-w/2`` in shifted blocks), ``.channel_map`` ((1, C, C),
block-diagonal over the heads), ``.spatial_gate`` ((1, Hp, Wp, 1)), ``.channel_gate`` ((1, 1, 1,
C)). The model pads bottom/right to a multiple of the window, so crop pixel (x, y) is feature pixel (y, x).
"""

from __future__ import annotations

import numpy as np
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

__all__ = ["attention_maps", "layer_choices"]

_PARTS = ("spatial_map", "channel_map", "spatial_gate", "channel_gate")


def layer_choices(spec: ModelSpec, model: nn.Module) -> tuple[LayerChoice, ...]:
    """One choice per CASA block (``layers.{i}.blocks.{j}.attn``), in forward order."""
    blocks = dict.fromkeys(name.rsplit(".", 1)[0] for name in spec.attention_modules)
    choices = []
    for block in blocks:
        attn = model.get_submodule(block)
        group, index = block.split(".")[1], block.split(".")[3]
        shifted = ", shifted" if attn.shift_size else ""
        label = f"group {group} block {index}{shifted}"
        choices.append(LayerChoice(name=block, label=label, heads=attn.num_heads))
    return tuple(choices)


def attention_maps(
    spec: ModelSpec, model: nn.Module, crop: np.ndarray, layer: str, query: tuple[int, int], device: str
) -> MapParts:
    """The maps of CASA block ``layer`` for the crop pixel ``query`` = (x, y). See the module doc."""
    attn = model.get_submodule(layer)
    height, width = crop.shape[:2]
    window, shift, heads = attn.window_size, attn.shift_size, attn.num_heads
    padded = (round_up(height, window), round_up(width, window))
    x, y = query
    index, token = window_token(y, x, height=padded[0], width=padded[1], window=window, shift=shift)
    windows = (padded[0] // window) * (padded[1] // window)

    def spatial_tap(module, inputs, output):
        if output.shape[0] != windows:
            raise TapError(f"{layer}: expected {windows} windows, the hook saw {output.shape[0]}")
        return to_numpy(output[index, :, token, :])

    taps = {
        f"{layer}.spatial_map": spatial_tap,
        f"{layer}.channel_map": lambda module, inputs, output: _head_blocks(to_numpy(output[0]), heads),
        f"{layer}.spatial_gate": lambda module, inputs, output: to_numpy(output[0, :, :, 0]),
        f"{layer}.channel_gate": lambda module, inputs, output: to_numpy(output[0, 0, 0, :]),
    }
    _, got = run_with_taps(model, crop, taps, device)
    rows, channel, spatial_gate, channel_gate = (got[f"{layer}.{part}"] for part in _PARTS)
    positions = window_token_positions(index, height=padded[0], width=padded[1], window=window, shift=shift)
    parts = MapParts(heads=heads)
    focus = local_focus(positions, (y, x), downscale=1, reach=window, shape=(height, width))
    uniform = f"uniform would be 1/{window * window} = {1 / (window * window):.4f}"
    for head in range(heads):
        values = place_tokens(rows[head], positions, downscale=1, shape=(height, width))
        vmin, vmax = data_range(rows[head])
        parts.maps.append(
            MapImage(
                key=f"spatial/h{head}",
                title=f"Window attention of the query, head {head}",
                values=values,
                vmin=vmin,
                vmax=vmax,
                units="attention weight (softmax row)",
                head=head,
                marker=(x, y),
                focus=focus,
                note=f"window {index}, token {token}"
                + (f", shift {shift} undone" if shift else "")
                + f"; {uniform}",
            )
        )
        parts.numbers[f"row sum, head {head}"] = float(rows[head].sum())
    parts.maps.append(_channel_matrix(channel))
    gate_map = spatial_gate[:height, :width].copy()
    parts.maps.append(
        MapImage(
            key="spatial_gate",
            title="Spatial gate (channel branch -> spatial branch)",
            values=gate_map,
            vmin=data_range(gate_map)[0],
            vmax=data_range(gate_map)[1],
            cmap="viridis",
            units="gate in (0, 1)",
            marker=(x, y),
            note="colour range: the map's own min .. max",
        )
    )
    parts.charts.append(
        Chart(
            key="channel_gate",
            title="Channel gate (spatial branch -> channel branch)",
            style="bars",
            series=(Series("gate", channel_gate.astype(np.float64)),),
            categories=tuple(str(c) for c in range(channel_gate.size)),
            x_label="channel",
            y_label="gate in (0, 1)",
        )
    )
    parts.numbers["spatial gate at the query"] = float(spatial_gate[y, x])
    parts.numbers["mean channel gate"] = float(channel_gate.mean())
    parts.notes.append(
        f"Window {window}x{window}, {heads} heads; channel attention and the gates' averages see the whole "
        f"{width}x{height} crop (padded to {padded[1]}x{padded[0]})."
    )
    return parts


def _head_blocks(matrix: np.ndarray, heads: int) -> np.ndarray:
    """The (heads, d, d) diagonal blocks of a block-diagonal (C, C) channel attention."""
    dim = matrix.shape[0] // heads
    return np.stack([matrix[h * dim : (h + 1) * dim, h * dim : (h + 1) * dim] for h in range(heads)])


def _channel_matrix(per_head: np.ndarray) -> MapImage:
    """The (heads, d, d) channel maps as one C x C block-diagonal matrix (NaN between heads)."""
    heads, dim, _ = per_head.shape
    matrix = np.full((heads * dim, heads * dim), np.nan, dtype=np.float32)
    for head in range(heads):
        matrix[head * dim : (head + 1) * dim, head * dim : (head + 1) * dim] = per_head[head]
    return MapImage(
        key="channel",
        title=f"Channel attention ({heads * dim} x {heads * dim}, one {dim} x {dim} block per head)",
        values=matrix,
        vmin=data_range(matrix)[0],
        vmax=data_range(matrix)[1],
        units="attention weight (softmax row)",
        grid="matrix",
        row_label="output channel",
        col_label="V channel",
    )
