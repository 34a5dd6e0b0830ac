"""ASID's maps: the six shared spatial attention maps of the query (SLA1, SGA1, ..., SGA3, computed once in
the first group and reused by all groups) placed on the photo, and the C x C channel attention of a chosen
group (window and grid variants) at the query.

Hooks (see ``irstudio.models.archs.asid``): ``block0.residual_layer.0.{SLA,SGA}{1,2,3}.attn.attend`` return
(nW, 64, 64) softmax maps over the padded map (bottom/right to a multiple of the window, at least 15 px;
no downscaling, no shift); ``block{g}.<idsa>.BlockC.cttn1.attend`` (window groups, G = nW) and
``.cttn2.attend`` (grid groups, G = w*w, group index (y mod w) * w + (x mod w)) return (1, G, C, C).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from irstudio.inference.maps.geometry import (
    grid_token,
    grid_token_positions,
    local_focus,
    place_tokens,
    window_token,
    window_token_positions,
)
from irstudio.inference.maps.hooks import TapError, run_with_taps, to_numpy
from irstudio.inference.maps.ranges import data_range
from irstudio.inference.maps.types import LayerChoice, MapImage, MapParts
from irstudio.models.archs.asid import ESA_MIN_SIDE
from irstudio.models.layers import padded_side as _padded_side
from irstudio.models.spec import ModelSpec

__all__ = ["attention_maps", "layer_choices", "padded_side"]


def padded_side(size: int, window: int) -> int:
    """The side ASID runs at for an input side ``size``: a multiple of ``window``, at least the ESA's
    minimum (what ``asid.ASID.forward`` pads to)."""
    return _padded_side(size, window, ESA_MIN_SIDE)


def _spatial_names(spec: ModelSpec) -> list[str]:
    return [name for name in spec.attention_modules if ".SLA" in name or ".SGA" in name]


def _group_of(name: str) -> str:
    return name.split(".")[0]


def layer_choices(spec: ModelSpec, model: nn.Module) -> tuple[LayerChoice, ...]:
    """One choice per distillation group (``block{g}``): its channel maps, with the six shared maps."""
    groups = dict.fromkeys(_group_of(n) for n in spec.attention_modules if ".BlockC." in n)
    return tuple(
        LayerChoice(name=group, label=f"group {group.removeprefix('block')} (channel maps) + shared maps")
        for group in groups
    )


def attention_maps(
    spec: ModelSpec, model: nn.Module, crop: np.ndarray, layer: str, query: tuple[int, int], device: str
) -> MapParts:
    """The six shared spatial rows and group ``layer``'s two channel matrices for crop pixel ``query``."""
    height, width = crop.shape[:2]
    window = model.window_size
    padded = (padded_side(height, window), padded_side(width, window))
    x, y = query
    windows = (padded[0] // window) * (padded[1] // window)
    window_index, window_tok = window_token(y, x, height=padded[0], width=padded[1], window=window)
    grid_index, grid_tok = grid_token(y, x, height=padded[0], width=padded[1], window=window)
    channel_groups = {"cttn1": window_index, "cttn2": (y % window) * window + x % window}
    taps = {}
    for name in _spatial_names(spec):
        is_grid = ".SGA" in name
        taps[name] = _row_tap(
            name, windows, grid_index if is_grid else window_index, grid_tok if is_grid else window_tok
        )
    channel_names = [n for n in spec.attention_modules if _group_of(n) == layer and ".BlockC." in n]
    for name in channel_names:
        group = channel_groups[name.split(".")[-2]]
        taps[name] = lambda module, inputs, output, group=group: to_numpy(output[0, group])
    _, got = run_with_taps(model, crop, taps, device)
    parts = MapParts()
    for name in _spatial_names(spec):
        parts.maps.append(_spatial_map(name, got[name], padded, window, (x, y), (height, width)))
        parts.numbers[f"{_block(name)} row sum"] = float(got[name].sum())
    for name in channel_names:
        parts.maps.append(_channel_map(name, got[name], layer, window))
    parts.notes.append(
        f"Shared maps: computed once in group 0 and reused by every group; single head, {window}x{window} "
        f"windows (SLA) and a {window}x{window} grid spanning the {padded[1]}x{padded[0]} padded crop (SGA)."
    )
    return parts


def _block(name: str) -> str:
    """``block0.residual_layer.0.SGA2.attn.attend`` -> ``SGA2``."""
    return name.split(".")[-3]


def _row_tap(name: str, windows: int, index: int, token: int):
    def tap(module, inputs, output):
        if output.shape[0] != windows:
            raise TapError(f"{name}: expected {windows} token groups, the hook saw {output.shape[0]}")
        return to_numpy(output[index, token])

    return tap


def _spatial_map(
    name: str,
    row: np.ndarray,
    padded: tuple[int, int],
    window: int,
    query: tuple[int, int],
    shape: tuple[int, int],
) -> MapImage:
    x, y = query
    block = _block(name)
    if block.startswith("SGA"):
        index, _ = grid_token(y, x, height=padded[0], width=padded[1], window=window)
        positions = grid_token_positions(index, height=padded[0], width=padded[1], window=window)
        focus, layout = None, f"grid group {index}: every {padded[0] // window}th row/column"
    else:
        index, _ = window_token(y, x, height=padded[0], width=padded[1], window=window)
        positions = window_token_positions(index, height=padded[0], width=padded[1], window=window)
        focus = local_focus(positions, (y, x), downscale=1, reach=window, shape=shape)
        layout = f"window {index}"
    kind = "grid" if block.startswith("SGA") else "window"
    return MapImage(
        key=f"shared/{block}",
        title=f"Shared {kind} attention {block} (a{_SHARED_ORDER.index(block) + 1})",
        values=place_tokens(row, positions, downscale=1, shape=shape),
        vmin=data_range(row)[0],
        vmax=data_range(row)[1],
        units="attention weight (softmax row)",
        marker=query,
        focus=focus,
        note=layout,
    )


_SHARED_ORDER = ("SLA1", "SGA1", "SLA2", "SGA2", "SLA3", "SGA3")


def _channel_map(name: str, matrix: np.ndarray, group: str, window: int) -> MapImage:
    variant = "window" if name.split(".")[-2] == "cttn1" else "grid"
    channels = matrix.shape[0]
    where = (
        f"the query's {window}x{window} window"
        if variant == "window"
        else f"the query's stride-{window} grid group"
    )
    return MapImage(
        key=f"channel/{variant}",
        title=f"Channel attention ({channels} x {channels}), {group}, {variant} variant",
        values=matrix.astype(np.float32),
        vmin=data_range(matrix)[0],
        vmax=data_range(matrix)[1],
        units="attention weight (softmax row)",
        grid="matrix",
        note=f"token group: {where}",
        row_label="output channel",
        col_label="V channel",
    )
