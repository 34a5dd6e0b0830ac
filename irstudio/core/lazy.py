"""Package faces that import on first use (PEP 562), so a face costs nothing until a name is used.

A package's ``__init__`` lists its public names by defining module (``{"irstudio.core.cancel":
("CancelToken", ...)}``) and installs ``__getattr__, __dir__ = lazy_face(__name__, exports)``; for
type checkers it imports the same names under ``if TYPE_CHECKING:``. ``from irstudio.core import
CancelToken`` then imports ``irstudio.core.cancel`` only, exactly as the deep import did: importing
a light module of the package (``irstudio.core.signals``) never loads a heavy one (torch), and no
import cycle can start in a face.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["exported_names", "lazy_face"]


def exported_names(exports: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """name -> defining module, from module -> names; a name listed twice raises ``ValueError``."""
    owners: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in owners:
                raise ValueError(f"{name} is exported from both {owners[name]} and {module}")
            owners[name] = module
    return owners


def lazy_face(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``'s face: a listed name is imported from its
    module on first access and kept in the package's namespace; any other raises ``AttributeError``."""
    owners = exported_names(exports)

    def __getattr__(name: str) -> object:
        module = owners.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*owners, *vars(sys.modules[package])})

    return __getattr__, __dir__
