"""Feature-map energy per stage, for any learned model: forward hooks on the top-level children.

A *stage* is a top-level child of the model (the children of a top-level ``nn.ModuleList``, which is
never called itself), skipping parameter-free pass-throughs (dropout, identity). For each stage the tap
keeps the RMS over channels at every pixel, sqrt(mean_c x²) ((h, w) float32) and the stage's overall
RMS. AST keeps its features channels-last ((B, H, W, C)) except for ``output_proj``; stages that return
tuples (ASID's groups) are read from their first tensor.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from irstudio.inference.maps.hooks import run_with_taps, to_numpy
from irstudio.inference.maps.ranges import data_range
from irstudio.inference.maps.types import Chart, MapImage, MapParts, Series
from irstudio.models.architectures import AST
from irstudio.models.spec import ModelSpec

__all__ = ["energy_maps", "stage_names"]

_PASS_THROUGH = (nn.Dropout, nn.Identity)


def stage_names(model: nn.Module) -> list[str]:
    """Dotted names of the stages, in registration order (usually forward order)."""
    names = []
    for name, child in model.named_children():
        members = child.named_children() if isinstance(child, nn.ModuleList) else [("", child)]
        for sub, module in members:
            if isinstance(module, _PASS_THROUGH):
                continue
            names.append(f"{name}.{sub}" if sub else name)
    return names


def _first_tensor(output: object) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((item for item in output if isinstance(item, torch.Tensor)), None)
    return None


def _channels_last(spec: ModelSpec, name: str) -> bool:
    return spec.arch == AST.name and name != "output_proj"


def _energy_tap(channels_last: bool):
    def tap(module, inputs, output):
        tensor = _first_tensor(output)
        if tensor is None or tensor.ndim != 4:
            return None
        features = tensor[0].float()
        channel_axis = -1 if channels_last else 0
        rms = features.pow(2).mean(dim=channel_axis).sqrt()
        source = _first_tensor(inputs)
        source_hw = tuple(source.shape[-2:]) if source is not None and source.ndim == 4 else None
        return to_numpy(rms), int(features.shape[channel_axis]), source_hw

    return tap


def energy_maps(spec: ModelSpec, model: nn.Module, crop: np.ndarray, device: str) -> MapParts:
    """Per-stage RMS maps (each at its stage's resolution, padding cropped away) and an RMS chart.

    The padded input size is what the first stage receives (the image, after the model's padding).
    """
    names = stage_names(model)
    if not names:
        raise ValueError(f"{spec.id} has no stages to measure (it is not a learned network)")
    taps = {name: _energy_tap(_channels_last(spec, name)) for name in names}
    _, got = run_with_taps(model, crop, taps, device)
    first = got.get(names[0])
    padded = first[2] if first is not None and first[2] is not None else crop.shape[:2]
    height, width = crop.shape[:2]
    parts = MapParts()
    labels, values = [], []
    for name in names:
        if got.get(name) is None:
            continue
        rms, channels, _ = got[name]
        keep_h = -(-height * rms.shape[0] // padded[0])
        keep_w = -(-width * rms.shape[1] // padded[1])
        valid = np.ascontiguousarray(rms[:keep_h, :keep_w], dtype=np.float32)
        labels.append(name)
        values.append(float(np.sqrt(np.mean(valid.astype(np.float64) ** 2))))
        parts.maps.append(
            MapImage(
                key=f"energy/{name}",
                title=f"{name}: RMS over {channels} channels ({valid.shape[1]}x{valid.shape[0]})",
                values=valid,
                vmin=0.0,
                vmax=data_range(valid, high=99.5)[1],
                units="RMS activation",
                grid="feature",
            )
        )
    parts.charts.append(
        Chart(
            key="energy",
            title="Feature energy per stage (RMS over channels and pixels)",
            style="bars",
            series=(Series("RMS", np.array(values)),),
            categories=tuple(labels),
            x_label="stage",
            y_label="RMS activation",
        )
    )
    parts.notes.append(
        f"Each stage map is at that stage's own resolution (the {padded[1]}x{padded[0]} padded input "
        "scaled by the stage's down/upsampling), padding cropped away."
    )
    return parts
