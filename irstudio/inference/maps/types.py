"""Plain data of the map view: what is asked for (``MapRequest``) and what comes back (``MapsResult``).

Everything here is numpy + metadata, no torch tensors and no Qt, so results cross threads and go to the
GUI, the command line and tests alike.

Coordinates: ``MapImage.grid == "image"`` arrays are in pixels of the *crop* that was computed
(``MapsResult.crop``, input-image pixels; for SR models the input scale, not the output's), row 0 at
the top. ``"feature"`` arrays cover the same crop at a network stage's own resolution (stretch them
to the crop to overlay). ``"matrix"`` arrays are abstract (rows x columns, e.g. channels).
``"spectrum"`` arrays are centred 2-D spectra (zero frequency in the middle, ``fftshift`` order).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from irstudio.core.tiling import Region

__all__ = [
    "Chart",
    "LayerChoice",
    "MapImage",
    "MapKind",
    "MapParts",
    "MapRequest",
    "MapsResult",
    "Series",
]


class MapKind(str, enum.Enum):
    """What to compute. The value is the command line's spelling."""

    ATTENTION = "attention"  # architecture-specific attention / gate / filter maps at a clicked pixel
    ENERGY = "energy"  # feature-map energy per top-level stage (any learned model)
    FFT = "fft"  # log-magnitude spectra, radial power spectra, high-frequency energy ratios
    ERROR = "error"  # |output - reference| (needs a reference)


@dataclass(frozen=True)
class LayerChoice:
    """One entry of the layer selector.

    ``name``: the dotted module prefix the maps of this choice hook under (passed back as
    ``MapRequest.layer``); ``label``: what a person reads; ``heads``: how many attention heads the choice
    has (1 when heads do not apply).
    """

    name: str
    label: str
    heads: int = 1


@dataclass(frozen=True, eq=False)
class MapImage:
    """One 2-D map with what is needed to draw it and its legend.

    ``values``: float32 (h, w); NaN marks "no value here" (outside an attention window, padding), which
    viewers draw as the dimmed photo (``grid == "image"``) or dark grey. ``vmin``/``vmax``: the colour
    range of the legend (finite, ``vmin < vmax``). ``cmap``: "inferno", "viridis" or "coolwarm" (signed
    data centred on 0). ``units``: what a value means. ``head``: the attention head it belongs to, None
    for maps shared by all heads. ``marker``: (x, y) in array coordinates worth marking (the query).
    ``focus``: (x0, y0, x1, y1), half-open, in array coordinates: the part worth zooming to (an attention
    window), None for the whole map. ``row_label``/``col_label``: axis names of matrices.
    """

    key: str
    title: str
    values: np.ndarray
    vmin: float
    vmax: float
    cmap: str = "inferno"
    units: str = ""
    grid: str = "image"
    head: int | None = None
    marker: tuple[int, int] | None = None
    focus: tuple[int, int, int, int] | None = None
    note: str = ""
    row_label: str = ""
    col_label: str = ""


@dataclass(frozen=True, eq=False)
class Series:
    """One named line or bar series: ``values`` float64 (n,), aligned with the chart's x."""

    name: str
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class Chart:
    """A small chart. ``style``: "bars" (``categories`` label the bars; several series = grouped bars)
    or "curves" (``x`` gives the abscissa). ``vline``: an x position to mark (e.g. a cut-off), None for
    none. ``log_y``: values are already log10 and the axis says so in ``y_label``."""

    key: str
    title: str
    style: str
    series: tuple[Series, ...]
    categories: tuple[str, ...] = ()
    x: np.ndarray | None = None
    x_label: str = ""
    y_label: str = ""
    vline: float | None = None
    note: str = ""


@dataclass(frozen=True, eq=False)
class MapRequest:
    """An immutable snapshot of what the map view wants computed (safe to hand to a worker thread).

    ``image``: the whole input, float32 (H, W, 3) in [0, 1] (not copied: nobody may write to it).
    ``region``: the part shown on screen, input pixels; None = the whole image. ``pixel``: the query
    (x, y) in input pixels; None = the centre of the region. ``layer``: a ``LayerChoice.name``; None =
    the first. ``head``: the head to show (all heads are computed; None = head 0). ``output``: the whole
    model output already computed for ``image`` ((H * scale, W * scale, 3)), or None to run the model on
    the crop. ``reference``: ground truth at output size, or None. ``weights``: a weight file for the
    model (None = shipped weights or random init). ``device``: "cpu", "cuda", "auto", ...
    ``max_side``: largest crop side (input px) for attention/energy (the model runs on it);
    ``spectrum_side``: largest crop side for fft/error.
    """

    kind: MapKind
    model_id: str
    image: np.ndarray
    region: Region | None = None
    pixel: tuple[int, int] | None = None
    layer: str | None = None
    head: int | None = None
    output: np.ndarray | None = None
    reference: np.ndarray | None = None
    weights: str | None = None
    device: str = "cpu"
    max_side: int = 128
    spectrum_side: int = 512


@dataclass(frozen=True, eq=False)
class MapsResult:
    """What one computation produced.

    ``crop``: the input-pixel rectangle the maps cover; ``pixel``: the query in input pixels (None for
    kinds without one); ``scale``: the model's output scale; ``background``: the crop of the input,
    float32 (h, w, 3), for drawing maps over the photo. ``layers``: the choices for the selector;
    ``heads``: heads of the computed layer. ``numbers``: named scalars in display order (ratios,
    row sums, error statistics). ``notes``: sentences worth showing (cut-offs, what a map means).
    """

    kind: MapKind
    model_id: str
    crop: Region
    scale: int = 1
    pixel: tuple[int, int] | None = None
    layer: str | None = None
    head: int | None = None
    heads: int = 1
    layers: tuple[LayerChoice, ...] = ()
    background: np.ndarray | None = None
    maps: tuple[MapImage, ...] = ()
    charts: tuple[Chart, ...] = ()
    numbers: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def maps_for_head(self, head: int | None) -> tuple[MapImage, ...]:
        """The maps to show for ``head``: shared maps plus that head's (head 0 when None)."""
        wanted = 0 if head is None else head
        return tuple(m for m in self.maps if m.head is None or m.head == wanted)

    def map(self, key: str) -> MapImage:
        """The map with ``key``; KeyError when there is none."""
        for candidate in self.maps:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    def chart(self, key: str) -> Chart:
        """The chart with ``key``; KeyError when there is none."""
        for candidate in self.charts:
            if candidate.key == key:
                return candidate
        raise KeyError(key)


@dataclass
class MapParts:
    """What one extractor contributes to a result (maps, charts, numbers, notes); merged by ``compute``."""

    maps: list[MapImage] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    heads: int = 1
