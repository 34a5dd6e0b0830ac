"""What a model is, as data: the registry's entries (``ModelSpec``) and the enums they use.

A ``ModelSpec`` describes one preset of one architecture (or a classical baseline): the task it
serves, its scale, how the tiled runner must treat it, and how to build the ``nn.Module``.
Every built module takes ``(N, 3, H, W)`` float32 RGB in [0, 1] and returns
``(N, 3, H * scale, W * scale)``, nominally in [0, 1] (the caller clamps); any H, W >= 1.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import Tensor, nn

from irstudio.core.precision import Precision


class Task(str, enum.Enum):
    """What a model restores. The value is the command line's spelling."""

    DENOISE = "denoise"
    SR = "sr"
    JPEG = "jpeg"
    DERAIN = "derain"
    REALPHOTO = "realphoto"  # blind: the mixed, unknown degradations of real photos (any scale)


class Tiling(str, enum.Enum):
    """How the tiled runner may split an image for this model."""

    SUPPORTED = "supported"  # tiles with context match whole-image output
    WHOLE_IMAGE = "whole_image"  # the model needs the whole image (global statistics); never tile


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    ``tile_multiple``: tile origins and sizes are kept on multiples of it (window size times any
    internal downsampling), so tiled output matches whole-image output. ``context``: pixels of real
    image read around each tile (input scale). ``half_dtypes``: reduced precisions allowed for it,
    e.g. ``("bf16",)``. ``attention_modules``: dotted module names the map view can hook.
    ``params``: trainable parameters (non-persistent buffers excluded); ``macs_720p``: multiply-adds
    for an output of 1280x720 (None when not measured, e.g. classical baselines). ``weights``: file
    name under weights/ (described in weights/manifest.json), or None for random-init presets and
    classical baselines. ``learned``: False for classical baselines (no weights to load).
    ``from_official``: maps the paper authors' checkpoint layout to ours (raises ValueError when the
    layout is not theirs).
    """

    id: str
    name: str
    arch: str
    tasks: tuple[Task, ...]
    scale: int
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    params: int = 0
    macs_720p: int | None = None
    in_channels: int = 3
    out_channels: int = 3
    tile_multiple: int = 1
    context: int = 16
    tiling: Tiling = Tiling.SUPPORTED
    half_dtypes: tuple[str, ...] = ()
    attention_modules: tuple[str, ...] = ()
    hparams: dict[str, object] = field(default_factory=dict, compare=False)
    learned: bool = True
    weights: str | None = None
    from_official: Callable[[Mapping[str, object]], dict[str, Tensor]] | None = field(
        default=None, repr=False, compare=False
    )
    description: str = ""

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions it may run in: "fp32" first, then its ``half_dtypes`` (``core.precision``)."""
        return (Precision.FP32.value, *self.half_dtypes)
