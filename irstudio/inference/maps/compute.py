"""Compute the maps of a ``MapRequest``: the entry point for the GUI worker and the command line.

``compute_maps(request, token)`` is a generator: it yields short progress strings, checks ``token``
between steps (a forward pass itself is not interruptible), and returns a ``MapsResult``. Attention and
energy maps run the model once on a crop of the region shown (at most ``request.max_side`` per side,
aligned to the model's window grid, containing the query pixel) with forward hooks on the named
modules; spectra and error maps use the given output, or run the model (tiled, cancellable) on a crop
of at most ``request.spectrum_side`` output pixels per side.

The model is the caller's (``model=``), else taken from the caller's ``models`` cache (an
``inference.ModelCache``: the app lends the one its restores use, so clicking pixel after pixel, or
looking inside the model just run, does not open it again), else opened for this request only
(``model_cache.open_on``; the command line computes once). Nothing is cached here. A model is used by
one computation at a time (the app runs maps on the lane its restores run on).
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from types import ModuleType

import numpy as np
import torch
from torch import nn

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.core.device import resolve_device
from irstudio.core.metrics import psnr
from irstudio.core.resize import imresize
from irstudio.core.tiling import Region
from irstudio.inference.maps import asid_maps, ast_maps, compacter_maps, lir_maps
from irstudio.inference.maps.energy import energy_maps
from irstudio.inference.maps.geometry import choose_crop
from irstudio.inference.maps.spectrum import (
    HF_CUTOFF,
    grid_peak_contrast,
    high_frequency_ratio,
    log_magnitude,
    luma,
    periodicity_spectrum,
    radial_profile,
)
from irstudio.inference.maps.types import (
    Chart,
    LayerChoice,
    MapImage,
    MapKind,
    MapParts,
    MapRequest,
    MapsResult,
    Series,
)
from irstudio.inference.model_cache import ModelCache, open_on
from irstudio.inference.planning import plan_for
from irstudio.inference.runner import run_tiled
from irstudio.models.architectures import ASID, AST, COMPACTER, LIR
from irstudio.models.catalog import resolve_id
from irstudio.models.spec import ModelSpec

__all__ = ["compute_maps", "has_attention_maps", "layer_choices"]

_EXTRACTORS: dict[str, ModuleType] = {
    COMPACTER.name: compacter_maps,
    AST.name: ast_maps,
    LIR.name: lir_maps,
    ASID.name: asid_maps,
}
"""The maps module of each architecture, by descriptor name (``ModelSpec.arch``)."""


def has_attention_maps(spec: ModelSpec) -> bool:
    """True when ``spec``'s architecture has attention maps (Compacter, AST, LIR, ASID)."""
    return spec.arch in _EXTRACTORS and bool(spec.attention_modules)


def layer_choices(spec: ModelSpec, model: nn.Module | None = None) -> tuple[LayerChoice, ...]:
    """The layer selector's entries for ``spec`` (empty for models without attention maps).

    Without ``model`` the network is built on the ``meta`` device (no weights, no memory) once per spec.
    """
    if not has_attention_maps(spec):
        return ()
    if model is None:
        return _choices_of(spec)
    return _EXTRACTORS[spec.arch].layer_choices(spec, model)


@functools.lru_cache(maxsize=32)
def _choices_of(spec: ModelSpec) -> tuple[LayerChoice, ...]:
    with torch.device("meta"):
        model = spec.build()
    return _EXTRACTORS[spec.arch].layer_choices(spec, model)


def compute_maps(
    request: MapRequest,
    token: CancelToken = NEVER_CANCELLED,
    *,
    spec: ModelSpec | None = None,
    model: nn.Module | None = None,
    models: ModelCache | None = None,
) -> Generator[str, None, MapsResult]:
    """Compute what ``request`` asks for (see the module doc); yields progress text, returns the result.

    ``spec`` defaults to the registry entry of ``request.model_id``; ``model`` to the one in ``models``
    (opened there on a miss), or without a cache to a model opened for this request only.
    Raises ValueError for requests that cannot be served (no attention maps for this model, unknown
    layer, error map without a reference, arrays of the wrong shape) and ``Cancelled`` via ``token``.
    """
    spec = spec or resolve_id(request.model_id)
    _check_image(request.image, "image")
    kind = MapKind(request.kind)
    token.raise_if_cancelled()
    if kind in (MapKind.ATTENTION, MapKind.ENERGY):
        return (yield from _network_maps(request, kind, spec, (model, models), token))
    return (yield from _image_maps(request, kind, spec, (model, models), token))


def _check_image(image: np.ndarray | None, what: str, shape: tuple[int, ...] | None = None) -> None:
    if image is None:
        return
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"the {what} must be an HxWx3 RGB array, got shape {image.shape}")
    if shape is not None and image.shape != shape:
        raise ValueError(f"the {what} is {image.shape[1]}x{image.shape[0]}, expected {shape[1]}x{shape[0]}")


def _device(request: MapRequest) -> str:
    return resolve_device(request.device).spec


_Source = tuple[nn.Module | None, ModelCache | None]
"""Where the model comes from: the caller's model, or the caller's cache (either may be None)."""


def _model_for(
    request: MapRequest, spec: ModelSpec, source: _Source, device: str
) -> Generator[str, None, nn.Module]:
    model, models = source
    if model is not None:
        return model
    yield f"opening {spec.id}"
    if models is not None:
        return models.get(spec, request.weights, device)
    return open_on(spec, request.weights, device)


def _network_maps(
    request: MapRequest, kind: MapKind, spec: ModelSpec, source: _Source, token: CancelToken
) -> Generator[str, None, MapsResult]:
    if kind is MapKind.ATTENTION and not has_attention_maps(spec):
        raise ValueError(f"{spec.id} has no attention maps (Compacter, AST, LIR and ASID have them)")
    if not spec.learned:
        raise ValueError(f"{spec.id} is a classical method: it has no layers to look into")
    device = _device(request)
    model = yield from _model_for(request, spec, source, device)
    token.raise_if_cancelled()
    height, width = request.image.shape[:2]
    crop = choose_crop(height, width, request.region, request.pixel, request.max_side, spec.tile_multiple)
    pixel = request.pixel or _centre(request.region, height, width)
    crop_image = np.ascontiguousarray(request.image[crop.y0 : crop.y1, crop.x0 : crop.x1], dtype=np.float32)
    query = (pixel[0] - crop.x0, pixel[1] - crop.y0)
    choices = layer_choices(spec, model) if kind is MapKind.ATTENTION else ()
    yield f"running {spec.id} on a {crop.width}x{crop.height} crop"
    token.raise_if_cancelled()
    if kind is MapKind.ATTENTION:
        layer = _chosen_layer(request.layer, choices, spec)
        parts = _EXTRACTORS[spec.arch].attention_maps(spec, model, crop_image, layer, query, device)
    else:
        layer = None
        parts = energy_maps(spec, model, crop_image, device)
    token.raise_if_cancelled()
    head = min(max(request.head or 0, 0), parts.heads - 1)
    query = pixel if kind is MapKind.ATTENTION else None  # energy has no query, only a crop centre
    return _result(
        request, kind, spec, crop, query, parts, crop_image, layer=layer, head=head, layers=choices
    )


def _centre(region: Region | None, height: int, width: int) -> tuple[int, int]:
    region = (region or Region(0, 0, height, width)).intersection(Region(0, 0, height, width))
    region = region or Region(0, 0, height, width)
    return (region.x0 + region.x1 - 1) // 2, (region.y0 + region.y1 - 1) // 2


def _chosen_layer(layer: str | None, choices: tuple[LayerChoice, ...], spec: ModelSpec) -> str:
    names = [choice.name for choice in choices]
    if layer is None:
        return names[0]
    if layer not in names:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise ValueError(f"{spec.id} has no map layer {layer!r}; choose one of {shown}")
    return layer


def _result(
    request: MapRequest,
    kind: MapKind,
    spec: ModelSpec,
    crop: Region,
    pixel: tuple[int, int] | None,
    parts: MapParts,
    background: np.ndarray,
    *,
    layer: str | None = None,
    head: int | None = None,
    layers: tuple[LayerChoice, ...] = (),
) -> MapsResult:
    return MapsResult(
        kind=kind,
        model_id=spec.id,
        crop=crop,
        scale=spec.scale,
        pixel=pixel,
        layer=layer,
        head=head,
        heads=parts.heads,
        layers=layers,
        background=background,
        maps=tuple(parts.maps),
        charts=tuple(parts.charts),
        numbers=dict(parts.numbers),
        notes=tuple(parts.notes),
    )


# ------------------------------------------------------------------------------ spectra and errors


def _image_maps(
    request: MapRequest, kind: MapKind, spec: ModelSpec, source: _Source, token: CancelToken
) -> Generator[str, None, MapsResult]:
    height, width = request.image.shape[:2]
    scale = spec.scale
    full_output = (height * scale, width * scale, 3)
    _check_image(request.output, "output", full_output)
    _check_image(request.reference, "reference", full_output)
    if kind is MapKind.ERROR and request.reference is None:
        raise ValueError("the error map needs a reference (ground truth) image")
    side = max(2, request.spectrum_side // scale)
    crop = choose_crop(height, width, request.region, request.pixel, side)
    crop_image = np.ascontiguousarray(request.image[crop.y0 : crop.y1, crop.x0 : crop.x1], dtype=np.float32)
    output = yield from _output_crop(request, spec, source, crop, token)
    reference = None if request.reference is None else _scaled_crop(request.reference, crop, scale)
    token.raise_if_cancelled()
    if kind is MapKind.ERROR:
        assert reference is not None
        parts = error_parts(output, reference)
    else:
        yield "computing spectra"
        parts = spectrum_parts(crop_image, output, reference, scale)
    return _result(request, kind, spec, crop, request.pixel, parts, crop_image)


def _scaled_crop(image: np.ndarray, crop: Region, scale: int) -> np.ndarray:
    r = crop.scaled(scale)
    return np.ascontiguousarray(image[r.y0 : r.y1, r.x0 : r.x1], dtype=np.float32)


def _output_crop(
    request: MapRequest, spec: ModelSpec, source: _Source, crop: Region, token: CancelToken
) -> Generator[str, None, np.ndarray]:
    """The model output over ``crop`` (output pixels): cut from ``request.output`` or computed tiled."""
    if request.output is not None:
        return _scaled_crop(request.output, crop, spec.scale)
    device_info = resolve_device(request.device)
    model = yield from _model_for(request, spec, source, device_info.spec)
    plan = plan_for(spec, device_info)
    steps = run_tiled(model, request.image, plan, token, region=crop)
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            return finished.value
        yield f"running {spec.id}: tile {step.index + 1}/{step.total}"


def _spectrum_map(
    key: str, title: str, values: np.ndarray, limits: tuple[float, float], note: str
) -> MapImage:
    """A log10-magnitude spectrum map; ``limits`` (vmin, vmax), the range kept non-empty."""
    vmin, vmax = limits
    return MapImage(
        key=key,
        title=title,
        values=values,
        vmin=vmin,
        vmax=max(vmax, vmin + 1e-6),
        units="log10 magnitude",
        grid="spectrum",
        note=note,
    )


def spectrum_parts(
    source: np.ndarray, output: np.ndarray, reference: np.ndarray | None, scale: int
) -> MapParts:
    """Log-magnitude spectra, radial power curves and HF ratios of input, output, reference, difference.

    ``source`` is the input crop; for SR (``scale`` > 1) it is upscaled with MATLAB bicubic to the
    output's size first, so every spectrum has the same frequency axis (cycles per output pixel).
    ``difference`` is output - input (what the model changed). Periodicity spectra (of the gradient
    magnitude) of input and output show block grids and tile seams as lines; "8x8 grid peaks" measure
    JPEG's grid in each image's own pixels (``grid_peak_contrast``, decades).
    """
    upscaled = source if scale == 1 else imresize(source, output_shape=output.shape[:2])
    input_label = "input" if scale == 1 else f"input (bicubic x{scale})"
    signals: dict[str, np.ndarray] = {input_label: upscaled, "output": output}
    if reference is not None:
        signals["reference"] = reference
    difference = luma(output) - luma(upscaled)
    spectra = {name: log_magnitude(image) for name, image in signals.items()}
    spectra["difference"] = log_magnitude(difference)
    photo_values = np.concatenate([spectra[name].ravel() for name in signals])
    low, high = float(np.percentile(photo_values, 1.0)), float(photo_values.max())
    parts = MapParts()
    for name, values in spectra.items():
        own = name == "difference"
        vmin = float(np.percentile(values, 1.0)) if own else low
        vmax = float(values.max()) if own else high
        parts.maps.append(
            _spectrum_map(
                f"fft/{name.split()[0]}",
                f"log10 |FFT| of Y, {name}",
                values,
                (vmin, vmax),
                "centred: zero frequency in the middle; Hann window",
            )
        )
    for name, image in ((input_label, source), ("output", output)):
        periodic = periodicity_spectrum(upscaled if image is source else image)
        vmin, vmax = float(np.percentile(periodic, 1.0)), float(periodic.max())
        parts.maps.append(
            _spectrum_map(
                f"grid/{name.split()[0]}",
                f"log10 |FFT| of the gradient magnitude, {name} (block grids, tile seams)",
                periodic,
                (vmin, vmax),
                "periodic edges (JPEG 8x8 blocks, tile seams) show as lines of dots at k / period",
            )
        )
        parts.numbers[f"8x8 grid peaks, {name.split()[0]} (decades)"] = grid_peak_contrast(image, 8)
    curves = []
    for name, image in (*signals.items(), ("difference", difference)):
        frequencies, power = radial_profile(image)
        with np.errstate(divide="ignore"):
            curves.append(Series(name, np.where(power > 0, np.log10(power), np.nan)))  # NaN: no power
        parts.numbers[f"HF ratio, {name}"] = high_frequency_ratio(image)
    parts.charts.append(
        Chart(
            key="radial",
            title="Radially averaged power spectrum of Y",
            style="curves",
            series=tuple(curves),
            x=frequencies,
            x_label="cycles / pixel",
            y_label="log10 power",
            vline=HF_CUTOFF,
        )
    )
    parts.notes.append(
        f"High-frequency ratio: power above {HF_CUTOFF} cycles/pixel (half the Nyquist frequency) over "
        "all non-DC power, on the Hann-windowed, mean-removed luma. 8x8 grid peaks: how far the gradient "
        "spectrum stands out at k/8 cycles/pixel, in decades (~0: no grid, ~1: a strong JPEG grid)."
    )
    return parts


def error_parts(output: np.ndarray, reference: np.ndarray) -> MapParts:
    """|output - reference| (mean over RGB) with its range, the signed luma error, and summary numbers."""
    absolute = np.abs(output.astype(np.float32) - reference.astype(np.float32)).mean(axis=2)
    signed = (luma(output) - luma(reference)).astype(np.float32)
    peak = float(absolute.max())
    bound = float(max(np.abs(signed).max(), 1e-6))
    parts = MapParts()
    parts.maps.append(
        MapImage(
            key="error/abs",
            title="|output - reference| (mean over R, G, B)",
            values=absolute,
            vmin=0.0,
            vmax=max(peak, 1e-6),
            units="absolute error (0-1 scale)",
            note=f"range 0 .. {peak:.4f} ({peak * 255:.1f} / 255)",
        )
    )
    parts.maps.append(
        MapImage(
            key="error/signed",
            title="output - reference, luma (red: too bright, blue: too dark)",
            values=signed,
            vmin=-bound,
            vmax=bound,
            cmap="coolwarm",
            units="signed error (0-1 scale)",
        )
    )
    parts.numbers["mean |error|"] = float(absolute.mean())
    parts.numbers["max |error|"] = peak
    parts.numbers["PSNR RGB (dB)"] = psnr(np.clip(output, 0, 1), np.clip(reference, 0, 1), space="rgb")
    return parts
