"""Every architecture IR Studio builds, as descriptors (``ArchDescriptor``), in registry order.

The one list: the catalog's preset blocks, the map view's extractor table (keyed by
``ArchDescriptor.name``) and the training benchmark (presets the registry lacks) read it. Adding
an architecture: its file in archs/ ends with its ``ARCH``; list it here, give it blocks in
catalog.py (and a maps module, if the map view should show it). Names and preset ids are unique
across the list (checked on import).
"""

from __future__ import annotations

from typing import Any

from irstudio.models.archs import asid, ast, compacter, lir
from irstudio.models.descriptor import ArchDescriptor

__all__ = ["ARCHITECTURES", "ASID", "AST", "COMPACTER", "LIR", "architecture", "architecture_of_preset"]

COMPACTER = compacter.ARCH
ASID = asid.ARCH
AST = ast.ARCH
LIR = lir.ARCH

ARCHITECTURES: tuple[ArchDescriptor[Any], ...] = (COMPACTER, ASID, AST, LIR)


def _check_unique(archs: tuple[ArchDescriptor[Any], ...]) -> None:
    """Raise ``ValueError`` naming a repeated architecture name or preset id."""
    names = [arch.name for arch in archs]
    presets = [preset for arch in archs for preset in arch.presets]
    for kind, values in (("architecture name", names), ("preset id", presets)):
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{kind} listed twice: {', '.join(repeated)}")


_check_unique(ARCHITECTURES)


def architecture(name: str) -> ArchDescriptor[Any]:
    """The descriptor called ``name`` (``ModelSpec.arch``); ``KeyError`` listing the known names."""
    for arch in ARCHITECTURES:
        if arch.name == name:
            return arch
    raise KeyError(f"unknown architecture '{name}' ({', '.join(a.name for a in ARCHITECTURES)})")


def architecture_of_preset(preset: str) -> ArchDescriptor[Any] | None:
    """The descriptor whose presets include ``preset``, or None."""
    return next((arch for arch in ARCHITECTURES if preset in arch.presets), None)
