"""THE registry: every model IR Studio knows, written out by hand, in display order.

Adding an architecture: one file in archs/ (ending with its ``ArchDescriptor``), listed in
architectures.py, one block here per preset, one test file. Nothing is scanned.
Figures (parameters, MACs for a 1280x720 output) are measured; tests/models/test_catalog.py
re-measures them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from torch import nn

from irstudio.models import baselines
from irstudio.models.architectures import ASID, AST, COMPACTER, LIR
from irstudio.models.descriptor import ArchDescriptor
from irstudio.models.loading import ShippedWeights, WeightsError, read_manifest
from irstudio.models.registry import Registry
from irstudio.models.spec import ModelSpec, Task

_RESTORE = (Task.DENOISE, Task.JPEG, Task.DERAIN, Task.REALPHOTO)
_UPSCALE = (Task.SR, Task.REALPHOTO)


def _arch_spec(
    arch: ArchDescriptor[Any],
    preset: str,
    *,
    name: str,
    tasks: tuple[Task, ...],
    scale: int,
    params: int,
    macs_720p: int | None,
    context: int = 32,
    description: str = "",
) -> ModelSpec:
    """A registry entry for a preset of one of our architectures (random weights until trained): what
    the descriptor knows, with the figures and tasks written here."""
    config = arch.config(preset)
    return ModelSpec(
        id=preset,
        name=name,
        arch=arch.name,
        tasks=tasks,
        scale=scale,
        build=arch.builder(preset),
        params=params,
        macs_720p=macs_720p,
        tile_multiple=arch.tile_multiple(config),
        context=context,
        half_dtypes=arch.half_dtypes,
        attention_modules=arch.attention_modules(config),
        hparams=arch.hparams(preset),
        from_official=arch.from_official,
        description=description,
    )


def _baseline(
    model_id: str,
    name: str,
    tasks: tuple[Task, ...],
    scale: int,
    build: Callable[[], nn.Module],
    description: str,
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=name,
        arch="classical",
        tasks=tasks,
        scale=scale,
        build=build,
        learned=False,
        half_dtypes=(),
        description=description,
    )


BASELINES = (
    _baseline(
        "identity",
        "Identity (input as is)",
        (*_RESTORE, Task.SR),
        1,
        baselines.Identity,
        "Returns the input unchanged: the reference every model must beat.",
    ),
    _baseline(
        "bicubic-x2",
        "Bicubic x2 (MATLAB)",
        (Task.SR,),
        2,
        lambda: baselines.Bicubic(scale=2),
        "MATLAB-compatible bicubic upscaling, the SR papers' baseline.",
    ),
    _baseline(
        "bicubic-x3",
        "Bicubic x3 (MATLAB)",
        (Task.SR,),
        3,
        lambda: baselines.Bicubic(scale=3),
        "MATLAB-compatible bicubic upscaling, the SR papers' baseline.",
    ),
    _baseline(
        "bicubic-x4",
        "Bicubic x4 (MATLAB)",
        (Task.SR,),
        4,
        lambda: baselines.Bicubic(scale=4),
        "MATLAB-compatible bicubic upscaling, the SR papers' baseline.",
    ),
    _baseline(
        "nlmeans",
        "Non-local means (OpenCV)",
        (Task.DENOISE, Task.REALPHOTO),
        1,
        baselines.NLMeans,
        "OpenCV's colour non-local means, h = 10: the classical denoiser.",
    ),
    *(
        _baseline(
            f"nlmeans-bicubic-x{scale}",
            f"Non-local means + bicubic x{scale}",
            (Task.REALPHOTO,),
            scale,
            partial(baselines.NLMeansBicubic, scale=scale),
            f"Non-local means (h = 10), then MATLAB bicubic x{scale}: the classical chain for a small,"
            " noisy photo.",
        )
        for scale in (2, 4)
    ),
)

ARCH_PRESETS = (
    _arch_spec(
        COMPACTER,
        "compacter-x1",
        name="Compacter (restoration, x1)",
        tasks=_RESTORE,
        scale=1,
        params=396_423,
        macs_720p=431_906_031_360,
        description="CASA attention + DSGM gate; one body for denoising, JPEG and deraining.",
    ),
    _arch_spec(
        COMPACTER,
        "compacter-x2",
        name="Compacter x2",
        tasks=_UPSCALE,
        scale=2,
        params=400_320,
        macs_720p=108_872_328_960,
        description="Compacter with a x2 pixel-shuffle head.",
    ),
    _arch_spec(
        COMPACTER,
        "compacter-x3",
        name="Compacter x3",
        tasks=_UPSCALE,
        scale=3,
        params=406_815,
        macs_720p=49_664_413_440,
        description="Compacter with a x3 pixel-shuffle head.",
    ),
    _arch_spec(
        COMPACTER,
        "compacter-x4",
        name="Compacter x4",
        tasks=_UPSCALE,
        scale=4,
        params=415_908,
        macs_720p=28_738_656_000,
        description="Compacter with a x4 pixel-shuffle head.",
    ),
    _arch_spec(
        ASID,
        "asid-x2",
        name="ASID x2",
        tasks=_UPSCALE,
        scale=2,
        params=297_516,
        macs_720p=77_793_121_656,
        description="Information distillation with shared attention.",
    ),
    _arch_spec(
        ASID,
        "asid-x3",
        name="ASID x3",
        tasks=_UPSCALE,
        scale=3,
        params=304_011,
        macs_720p=35_677_434_744,
        description="Information distillation with shared attention.",
    ),
    _arch_spec(
        ASID,
        "asid-x4",
        name="ASID x4",
        tasks=_UPSCALE,
        scale=4,
        params=313_104,
        macs_720p=20_794_782_840,
        description="Information distillation with shared attention.",
    ),
    _arch_spec(
        ASID,
        "asidd8-x4",
        name="ASID-D8 x4",
        tasks=_UPSCALE,
        scale=4,
        params=747_734,
        macs_720p=49_560_043_840,
        description="ASID with eight distillation groups.",
    ),
    _arch_spec(
        AST,
        "ast-t",
        name="AST-T",
        tasks=_RESTORE,
        scale=1,
        params=6_645_347,
        macs_720p=201_649_029_120,
        description="U-shaped adaptive sparse transformer (C=16).",
    ),
    _arch_spec(
        AST,
        "ast-b",
        name="AST-B",
        tasks=_RESTORE,
        scale=1,
        params=65_362_455,
        macs_720p=1_647_464_939_520,
        description="U-shaped adaptive sparse transformer (C=32).",
    ),
    _arch_spec(
        LIR,
        "lir",
        name="LIR",
        tasks=_RESTORE,
        scale=1,
        params=7_310_915,
        macs_720p=844_323_218_752,
        description="LAA blocks: adaptive edge filter, patch attention, SimpleGate.",
    ),
)


def shipped_specs(entries: Iterable[ShippedWeights]) -> tuple[ModelSpec, ...]:
    """Registry entries for trained weights described in weights/manifest.json: each is its preset
    with the manifest's id, name, task(s) and weight file. An unknown preset raises ``WeightsError``."""
    presets = {spec.id: spec for spec in ARCH_PRESETS}
    specs = []
    for shipped in entries:
        preset = presets.get(shipped.preset)
        if preset is None:
            raise WeightsError(f"manifest entry '{shipped.id}': unknown preset '{shipped.preset}'")
        entry = shipped.entry
        names = entry.get("tasks", [entry.get("task", preset.tasks[0].value)])
        if not isinstance(names, list):  # a number or null raised TypeError, which stopped the app
            raise WeightsError(f"manifest entry '{shipped.id}': 'tasks' must be a list of task names")
        tasks = tuple(Task(task) for task in names)
        specs.append(
            replace(
                preset,
                id=shipped.id,
                name=str(entry.get("name", shipped.id)),
                tasks=tasks,
                weights=shipped.path.name,
                description=str(entry.get("description", preset.description)),
            )
        )
    return tuple(specs)


def _manifest_specs() -> tuple[ModelSpec, ...]:
    try:
        return shipped_specs(read_manifest().entries)
    except (WeightsError, ValueError) as error:  # a broken manifest must not stop the app
        logging.getLogger(__name__).warning("shipped weights ignored: %s", error)
        return ()


SHIPPED = _manifest_specs()

REGISTRY = Registry([*SHIPPED, *BASELINES, *ARCH_PRESETS])

ALIASES = {"bicubic": "bicubic-x{scale}"}
"""Ids that stand for a family and resolve by the requested scale (``bicubic`` + scale 4 -> bicubic-x4)."""


def resolve_id(model_id: str, scale: int | None = None) -> ModelSpec:
    """The spec for ``model_id``; family aliases (``bicubic``) take ``scale`` (default 2).

    Raises ``UnknownModelError`` for an unknown id and ``ValueError`` when ``scale`` is given for a
    model of another, fixed scale (``asid-x4-sr`` with scale 2 would silently write a x4 image).
    """
    if model_id in ALIASES:
        return REGISTRY.get(ALIASES[model_id].format(scale=scale or 2))
    return require_scale(REGISTRY.get(model_id), scale)


def require_scale(spec: ModelSpec, scale: int | None) -> ModelSpec:
    """``spec``, when ``scale`` is None or its own; else ``ValueError`` saying which scale it has."""
    if scale is not None and scale != spec.scale:
        raise ValueError(
            f"{spec.id} enlarges x{spec.scale}, not x{scale}: leave out --scale, or pick a x{scale} model "
            "('irstudio models' lists them)"
        )
    return spec


__all__ = ["REGISTRY", "resolve_id"]
