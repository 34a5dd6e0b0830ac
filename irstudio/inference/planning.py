"""Choose how a registry model runs over an image: device, precision, tile size and context."""

from __future__ import annotations

from irstudio.core.device import DeviceInfo
from irstudio.inference.runner import TilePlan
from irstudio.models.spec import ModelSpec, Tiling

CPU_TILE = 256
"""Per-pixel cost of eager window attention on CPU grows past 256² tiles (performance.md §2.4)."""
GPU_TILE = 512
BASELINE_TILE = 1024


def _round_to_multiple(value: int, multiple: int) -> int:
    return max(multiple, (value // multiple) * multiple)


def auto_tile(spec: ModelSpec, device: DeviceInfo) -> int | None:
    """The default tile side for ``spec`` on ``device`` (None: whole image)."""
    if spec.tiling is Tiling.WHOLE_IMAGE:
        return None
    if not spec.learned:
        return BASELINE_TILE
    return CPU_TILE if device.spec == "cpu" else GPU_TILE


def plan_for(
    spec: ModelSpec,
    device: DeviceInfo,
    *,
    tile: int | None = None,
    context: int | None = None,
    dtype: str = "fp32",
) -> TilePlan:
    """A ``TilePlan`` for ``spec``: explicit ``tile``/``context`` win, else the defaults; the tile is
    rounded down to the model's ``tile_multiple``. ``dtype`` must be fp32 or one of ``spec.half_dtypes``."""
    if dtype != "fp32" and dtype not in spec.half_dtypes:
        allowed = ", ".join(("fp32", *spec.half_dtypes))
        raise ValueError(f"{spec.id} does not run in {dtype}; allowed: {allowed}")
    chosen = tile if tile is not None else auto_tile(spec, device)
    if chosen is not None:
        chosen = _round_to_multiple(chosen, spec.tile_multiple)
    return TilePlan(
        tile=chosen,
        context=spec.context if context is None else context,
        multiple=spec.tile_multiple,
        scale=spec.scale,
        device=device.spec,
        dtype=dtype,
    )
