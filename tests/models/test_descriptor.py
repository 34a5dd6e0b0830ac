"""Architecture descriptors: checked when defined, and the one list the registry is built from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from torch import nn

from irstudio.core.precision import REDUCED_PRECISION_NAMES
from irstudio.models.architectures import (
    ARCHITECTURES,
    architecture,
    architecture_of_preset,
)
from irstudio.models.archs import asid, ast, compacter, lir
from irstudio.models.catalog import REGISTRY
from irstudio.models.descriptor import ArchDescriptor


@dataclass(frozen=True)
class ToyConfig:
    width: int = 4


@dataclass
class MutableConfig:
    width: int = 4


def _toy_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "toy",
        "config_type": ToyConfig,
        "presets": {"toy-a": ToyConfig(), "toy-b": ToyConfig(width=8)},
        "build": lambda config: nn.Conv2d(3, 3, 1),
        "tile_multiple": lambda config: 8,
        "attention_modules": lambda config: ("body.attn",),
        "half_dtypes": ("bf16",),
        "from_official": lambda state_dict: dict(state_dict),
    }
    fields.update(changes)
    return fields


def test_a_valid_descriptor_answers_for_its_presets() -> None:
    toy = ArchDescriptor(**_toy_fields())
    assert toy.config("toy-b") == ToyConfig(width=8)
    assert toy.hparams("toy-b") == {"width": 8}
    first, second = toy.builder("toy-a")(), toy.builder("toy-a")()
    assert isinstance(first, nn.Conv2d) and first is not second
    with pytest.raises(KeyError, match="toy-a, toy-b"):
        toy.config("toy-c")


def test_presets_are_a_read_only_copy() -> None:
    presets = {"toy-a": ToyConfig()}
    toy = ArchDescriptor(**_toy_fields(presets=presets))
    presets["toy-z"] = ToyConfig()
    assert list(toy.presets) == ["toy-a"]
    with pytest.raises(TypeError):
        toy.presets["toy-x"] = ToyConfig()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Toy Net"}, "lower-case identifier"),
        ({"name": ""}, "lower-case identifier"),
        ({"presets": {}}, "at least one preset"),
        ({"presets": {"Toy A": ToyConfig()}}, "preset id"),
        ({"presets": {"toy-a": {"width": 4}}}, "not a ToyConfig"),
        ({"config_type": dict}, "not a dataclass"),
        ({"config_type": MutableConfig, "presets": {"toy-a": MutableConfig()}}, "not frozen"),
        ({"build": None}, "build must be callable"),
        ({"from_official": "ours"}, "from_official must be callable"),
        ({"half_dtypes": ("bf16", "int8")}, "unknown half_dtypes"),
        ({"half_dtypes": ["bf16"]}, "tuple"),
        ({"half_dtypes": ("bf16", "bf16")}, "repeats"),
        ({"tile_multiple": lambda config: 0}, "tile_multiple 0"),
        ({"tile_multiple": lambda config: 8.0}, "tile_multiple 8.0"),
        ({"attention_modules": lambda config: ["body.attn"]}, "tuple of names"),
        ({"attention_modules": lambda config: ("a", "")}, "tuple of names"),
        ({"attention_modules": lambda config: ("a", "a")}, "twice"),
    ],
)
def test_a_bad_descriptor_raises_when_defined(changes: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ArchDescriptor(**_toy_fields(**changes))


def test_each_architecture_module_defines_its_descriptor() -> None:
    modules = (compacter, asid, ast, lir)
    assert tuple(module.ARCH for module in modules) == ARCHITECTURES
    for module in modules:
        arch = module.ARCH
        assert arch.name == module.__name__.rsplit(".", 1)[-1]
        assert dict(arch.presets) == module.PRESETS
        assert arch.build is module.build and arch.from_official is module.from_official_state_dict
        assert arch.half_dtypes == module.HALF_DTYPES
        assert set(arch.half_dtypes) <= set(REDUCED_PRECISION_NAMES)


def test_lookups_by_name_and_by_preset() -> None:
    assert architecture("lir") is lir.ARCH
    assert architecture_of_preset("asidd8-x4") is asid.ARCH
    assert architecture_of_preset("bicubic-x2") is None
    with pytest.raises(KeyError, match="compacter, asid, ast, lir"):
        architecture("swinir")


def test_every_learned_registry_entry_is_what_its_descriptor_says() -> None:
    for spec in REGISTRY:
        if not spec.learned:
            continue
        arch = architecture(spec.arch)
        preset = spec.id if spec.id in arch.presets else None
        if preset is None:  # shipped weights: a preset under another id, same hparams
            preset = next(p for p in arch.presets if arch.hparams(p) == spec.hparams)
        config = arch.config(preset)
        assert spec.tile_multiple == arch.tile_multiple(config)
        assert spec.attention_modules == arch.attention_modules(config)
        assert spec.half_dtypes == arch.half_dtypes
        assert spec.from_official is arch.from_official
