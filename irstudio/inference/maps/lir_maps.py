"""LIR's maps per EAA stage: the adaptive filter's learned weights (alpha_1..9, beta) and its response
map, and the PatchAttention gate over the dilated groups.

Hooks (see ``irstudio.models.archs.lir``): ``EAAk.j.stageS.0.response`` (S >= 2) sees the filter response
(1, C, h, w) without the identity term; ``EAAk.j.stageS.{0|1}.pa.gate`` sees one unbounded gate per
dilated group, (1, 1, h/p, w/p). The network runs at ``model.padded_size(H, W)``; a stage map of height h
has downscale ``padded_H / h``. Group (a, b) holds feature pixels (a + i h/p, b + j w/p), so the gate map
at feature resolution is the gate array tiled p x p times.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from irstudio.inference.maps.hooks import run_with_taps, to_numpy
from irstudio.inference.maps.ranges import data_range, signed_or_data_range
from irstudio.inference.maps.types import Chart, LayerChoice, MapImage, MapParts, Series
from irstudio.models.spec import ModelSpec

__all__ = ["FILTER_LABELS", "attention_maps", "layer_choices"]

FILTER_LABELS = (
    "Sobel x",
    "Sobel y",
    "Laplacian",
    "Edge",
    "Sobel xy",
    "Sobel yx",
    "Roberts x",
    "Roberts y",
    "high-pass",
    "identity",
)
"""Bar labels: alpha_1..alpha_8 weight the fixed kernels in this order (the official unfused path, as
listed in lir.py), alpha_9 the Gaussian high-pass x - Gauss(x), beta the identity."""


def _stage(name: str) -> str:
    """``EAA1.0.stage2.1.pa.gate`` -> ``EAA1.0.stage2``."""
    return ".".join(name.split(".")[:3])


def layer_choices(spec: ModelSpec, model: nn.Module) -> tuple[LayerChoice, ...]:
    """One choice per EAA stage that has a gate (``EAAk.j.stageS``), in forward order."""
    stages = dict.fromkeys(_stage(name) for name in spec.attention_modules)
    choices = []
    for stage in stages:
        level, block, part = stage.split(".")
        extra = "gate" if part == "stage1" else "filter + gate"
        choices.append(LayerChoice(name=stage, label=f"{level} block {block} {part} ({extra})"))
    return tuple(choices)


def _gate_module(stage: str) -> str:
    return f"{stage}.0.pa" if stage.endswith("stage1") else f"{stage}.1.pa"


def attention_maps(
    spec: ModelSpec, model: nn.Module, crop: np.ndarray, layer: str, query: tuple[int, int], device: str
) -> MapParts:
    """Filter weights, response map and gate maps of EAA stage ``layer`` for crop pixel ``query`` = (x, y)."""
    height, width = crop.shape[:2]
    padded_h, _ = model.padded_size(height, width)
    pa_name = _gate_module(layer)
    patch = model.get_submodule(pa_name).patch_size
    has_filter = not layer.endswith("stage1")
    taps = {f"{pa_name}.gate": lambda module, inputs, output: to_numpy(output[0, 0])}
    if has_filter:
        taps[f"{layer}.0.response"] = lambda module, inputs, output: to_numpy(output[0].abs().mean(dim=0))
    _, got = run_with_taps(model, crop, taps, device)
    gates = got[f"{pa_name}.gate"]
    rows, cols = gates.shape
    scale = padded_h // (rows * patch)
    x, y = query
    parts = MapParts()
    parts.maps.append(_gate_map(gates, patch, scale, (height, width), (x, y)))
    parts.maps.append(_group_members(rows, cols, patch, scale, (height, width), (x, y)))
    fy, fx = y // scale, x // scale
    parts.numbers["gate of the query's group"] = float(gates[fy % rows, fx % cols])
    parts.numbers["gate mean"] = float(gates.mean())
    if has_filter:
        response = _to_image(got[f"{layer}.0.response"], scale, (height, width))
        parts.maps.append(
            MapImage(
                key="response",
                title="Adaptive filter response |sum alpha_k K_k * x + alpha_9 (x - Gauss x)|",
                values=response,
                vmin=0.0,
                vmax=data_range(response, high=99.5)[1],
                units="mean |response| over channels",
                marker=(x, y),
            )
        )
        parts.numbers["response at the query"] = float(response[y, x])
        parts.charts.append(_filter_chart(model, layer))
    parts.notes.append(
        f"Stage at 1/{scale} resolution; {rows}x{cols} dilated groups of {patch}x{patch} pixels "
        f"({scale}x{scale} input pixels each), gates unbounded (no sigmoid)."
    )
    return parts


def _to_image(feature: np.ndarray, scale: int, shape: tuple[int, int]) -> np.ndarray:
    """A feature-resolution map repeated to input pixels and cropped to ``shape``; float32."""
    full = np.repeat(np.repeat(feature, scale, axis=0), scale, axis=1)
    return np.ascontiguousarray(full[: shape[0], : shape[1]], dtype=np.float32)


def _gate_map(
    gates: np.ndarray, patch: int, scale: int, shape: tuple[int, int], query: tuple[int, int]
) -> MapImage:
    values = _to_image(np.tile(gates, (patch, patch)), scale, shape)
    vmin, vmax, cmap = signed_or_data_range(gates)
    return MapImage(
        key="gate",
        title="Patch-attention gate over the dilated groups",
        values=values,
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        units="gate (unbounded, 0 = blocked)",
        marker=query,
        note="coolwarm centred on 0 when gates take both signs, else the data range",
    )


def _group_members(
    rows: int, cols: int, patch: int, scale: int, shape: tuple[int, int], query: tuple[int, int]
) -> MapImage:
    """1 on the pixels that share the query's gate (its dilated group), NaN elsewhere."""
    x, y = query
    a, b = (y // scale) % rows, (x // scale) % cols
    members = np.zeros((rows * patch, cols * patch), dtype=np.float32)
    members[a::rows, b::cols] = 1.0
    values = _to_image(members, scale, shape)
    values[values == 0] = np.nan
    return MapImage(
        key="group",
        title=f"Dilated group of the query: {patch}x{patch} cells, {rows * scale} / {cols * scale} px apart",
        values=values,
        vmin=0.0,
        vmax=1.0,
        units="member of the query's group",
        marker=query,
    )


def _filter_chart(model: nn.Module, layer: str) -> Chart:
    filters = model.get_submodule(f"{layer}.0")
    weights = np.concatenate(
        [filters.alpha.detach().float().cpu().numpy(), filters.beta.detach().float().cpu().numpy()]
    ).astype(np.float64)
    return Chart(
        key="filter",
        title="Adaptive filter weights (alpha_1..9, beta)",
        style="bars",
        series=(Series("weight", weights),),
        categories=FILTER_LABELS,
        x_label="kernel",
        y_label="learned weight",
    )
