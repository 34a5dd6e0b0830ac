"""What an architecture is, as data: ``ArchDescriptor``, one frozen value per arch module (its ``ARCH``).

Everything the rest of IR Studio needs to know about an architecture, in one typed value: its
name (``ModelSpec.arch``), config type and presets, how to build a preset, the tile alignment,
the hookable attention modules, the reduced precisions it allows and the authors' checkpoint key
map. The catalog (models/catalog.py), the map view's extractor table and the training benchmark
read descriptors (the list is models/architectures.py) instead of reaching into arch modules.

A descriptor is checked when it is defined (``__post_init__``), so a bad one fails on importing
its own module, naming the architecture and the fault: name, presets, callables, precisions,
and every preset's tile multiple and attention module names.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from torch import Tensor, nn

from irstudio.core.precision import REDUCED_PRECISION_NAMES

__all__ = ["ArchDescriptor"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PRESET_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_CALLABLES = ("build", "tile_multiple", "attention_modules", "from_official")

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, eq=False)
class ArchDescriptor(Generic[ConfigT]):
    """One architecture (compared by identity: each arch module defines one).

    ``name``: lower-case identifier, ``ModelSpec.arch`` of its presets ("compacter").
    ``config_type``: its frozen config dataclass. ``presets``: preset id -> config, at least one
    (kept as a read-only copy). ``build(config)``: a fresh ``nn.Module`` mapping (N, 3, H, W) RGB
    in [0, 1] to (N, 3, sH, sW), any H, W >= 1, on the default device. ``tile_multiple(config)``:
    the tile alignment, an int >= 1. ``attention_modules(config)``: the dotted names of the modules
    the map view hooks (distinct, non-empty strings). ``half_dtypes``: the reduced precisions it
    allows, a subset of ``core.precision.REDUCED_PRECISION_NAMES``. ``from_official(state_dict)``:
    the authors' checkpoint (wrapped or not) -> our state dict; ``ValueError`` when it is not theirs.
    """

    name: str
    config_type: type[ConfigT]
    presets: Mapping[str, ConfigT]
    build: Callable[[ConfigT], nn.Module] = field(repr=False)
    tile_multiple: Callable[[ConfigT], int] = field(repr=False)
    attention_modules: Callable[[ConfigT], tuple[str, ...]] = field(repr=False)
    half_dtypes: tuple[str, ...]
    from_official: Callable[[Mapping[str, object]], dict[str, Tensor]] = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"architecture name {self.name!r} is not a lower-case identifier")
        object.__setattr__(self, "presets", MappingProxyType(dict(self._checked_presets())))
        self._check_callables()
        self._check_half_dtypes()
        for preset, config in self.presets.items():
            self._check_preset(preset, config)

    def _fail(self, problem: str) -> ValueError:
        return ValueError(f"architecture '{self.name}': {problem}")

    def _checked_presets(self) -> Mapping[str, ConfigT]:
        """``presets``, after checking the config type and every preset's id and config."""
        config_type = self.config_type
        if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
            raise self._fail(f"config_type {config_type!r} is not a dataclass")
        if not config_type.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # not in typeshed's DataclassInstance
            raise self._fail(f"config_type {config_type.__name__} is not frozen")
        if not isinstance(self.presets, Mapping) or not self.presets:
            raise self._fail("needs at least one preset")
        for preset, config in self.presets.items():
            if not isinstance(preset, str) or not _PRESET_ID.match(preset):
                raise self._fail(f"preset id {preset!r} is not lower-case letters, digits, '.', '_', '-'")
            if not isinstance(config, config_type):
                raise self._fail(
                    f"preset '{preset}' is a {type(config).__name__}, not a {config_type.__name__}"
                )
        return self.presets

    def _check_callables(self) -> None:
        missing = [name for name in _CALLABLES if not callable(getattr(self, name))]
        if missing:
            raise self._fail(f"{', '.join(missing)} must be callable")

    def _check_half_dtypes(self) -> None:
        dtypes = self.half_dtypes
        if not isinstance(dtypes, tuple) or len(set(dtypes)) != len(dtypes):
            raise self._fail(f"half_dtypes must be a tuple without repeats, got {dtypes!r}")
        unknown = [dtype for dtype in dtypes if dtype not in REDUCED_PRECISION_NAMES]
        if unknown:
            known = ", ".join(REDUCED_PRECISION_NAMES)
            raise self._fail(f"unknown half_dtypes {unknown} (known: {known})")

    def _check_preset(self, preset: str, config: ConfigT) -> None:
        """Each preset's tile multiple (an int >= 1) and attention module names (distinct, non-empty)."""
        multiple = self.tile_multiple(config)
        if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1:
            raise self._fail(f"preset '{preset}': tile_multiple {multiple!r} is not an int >= 1")
        names = self.attention_modules(config)
        if not isinstance(names, tuple) or not all(isinstance(n, str) and n for n in names):
            raise self._fail(f"preset '{preset}': attention_modules must be a tuple of names")
        if len(set(names)) != len(names):
            raise self._fail(f"preset '{preset}': attention_modules names a module twice")

    def config(self, preset: str) -> ConfigT:
        """The config of ``preset``; ``KeyError`` naming the architecture's presets for another id."""
        try:
            return self.presets[preset]
        except KeyError:
            raise KeyError(f"'{preset}' is not a {self.name} preset ({', '.join(self.presets)})") from None

    def builder(self, preset: str) -> Callable[[], nn.Module]:
        """A function of no arguments building ``preset`` afresh on each call (``ModelSpec.build``)."""
        return functools.partial(self.build, self.config(preset))

    def hparams(self, preset: str) -> dict[str, object]:
        """``preset``'s config as a plain dict, field by field (``ModelSpec.hparams``)."""
        return dict(vars(self.config(preset)))
