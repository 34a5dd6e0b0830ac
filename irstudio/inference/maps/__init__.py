"""Look inside a model: attention maps, feature energy, spectra and error maps (no Qt here).

Public API:

- ``compute_maps(request, token, *, spec=None, model=None, models=None)``: generator of progress
  strings returning a ``MapsResult`` (see ``compute``; ``models``: the caller's ``ModelCache``).
  ``layer_choices(spec)``, ``has_attention_maps(spec)``.
- Data: ``MapRequest``, ``MapKind``, ``MapsResult``, ``MapImage``, ``Chart``, ``Series``, ``LayerChoice``.
- Spectra helpers (``spectrum``): ``log_magnitude``, ``radial_profile``, ``high_frequency_ratio``,
  ``HF_CUTOFF``; geometry (``geometry``): ``choose_crop``, ``window_token``, ``grid_token``.
- PNG rendering without Qt or matplotlib (``render``): ``render_map``, ``render_chart`` (also here).

Per architecture (forward hooks on the modules ``ModelSpec.attention_modules`` names):
``compacter_maps``, ``ast_maps``, ``lir_maps``, ``asid_maps``; any learned model: ``energy``.
"""

from __future__ import annotations

from irstudio.inference.maps.compute import compute_maps, has_attention_maps, layer_choices
from irstudio.inference.maps.render import render_chart, render_map
from irstudio.inference.maps.spectrum import HF_CUTOFF, high_frequency_ratio, log_magnitude, radial_profile
from irstudio.inference.maps.types import (
    Chart,
    LayerChoice,
    MapImage,
    MapKind,
    MapRequest,
    MapsResult,
    Series,
)

__all__ = [
    "HF_CUTOFF",
    "Chart",
    "LayerChoice",
    "MapImage",
    "MapKind",
    "MapRequest",
    "MapsResult",
    "Series",
    "compute_maps",
    "has_attention_maps",
    "high_frequency_ratio",
    "layer_choices",
    "log_magnitude",
    "radial_profile",
    "render_chart",
    "render_map",
]
