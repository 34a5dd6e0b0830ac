"""Architectures, classical baselines, the registry, weight files and the models the user can pick.

The face below is what the app and the command line use; each name is imported from its module on
first use (``core.lazy``):

- The registry: ``ModelSpec``, ``Task`` (``spec``); ``REGISTRY``, ``resolve_id`` (``catalog``);
  ``UnknownModelError`` (``registry``).
- Weights: ``open_model``, ``WeightsError``, and the shipped weights' manifest: ``read_manifest``
  (the one, strict reader), ``Manifest``, ``ShippedWeights`` (``loading``).
- The user's library: ``LibraryModel``, ``library_models``, ``resolve_model`` (``library``).
- What the user can pick (shared by the app's model lists and ``irstudio models``, ``choices``):
  ``TaskChoice``, ``TASKS``, ``task_choice``; ``ModelChoice``, ``all_choices``, ``choices_for``,
  ``manifest_records``, ``model_card``; the kinds ``SHIPPED``, ``LIBRARY``, ``BASELINE``,
  ``UNTRAINED`` (``KINDS`` in list order, ``KIND_TITLES``).

Architecture code (``archs``, ``descriptor``, ``architectures``, ``layers``) and the maintainers'
manifest editing (``manifest_doc``) are imported by module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irstudio.core.lazy import lazy_face

EXPORTS = {
    "irstudio.models.catalog": ("REGISTRY", "resolve_id"),
    "irstudio.models.choices": (
        "BASELINE",
        "KINDS",
        "KIND_TITLES",
        "LIBRARY",
        "SHIPPED",
        "TASKS",
        "UNTRAINED",
        "ModelChoice",
        "TaskChoice",
        "all_choices",
        "choices_for",
        "manifest_records",
        "model_card",
        "task_choice",
    ),
    "irstudio.models.library": ("LibraryModel", "library_models", "resolve_model"),
    "irstudio.models.loading": ("Manifest", "ShippedWeights", "WeightsError", "open_model", "read_manifest"),
    "irstudio.models.registry": ("UnknownModelError",),
    "irstudio.models.spec": ("ModelSpec", "Task"),
}
"""The face: defining module -> names (``__all__`` lists the same names)."""

__getattr__, __dir__ = lazy_face(__name__, EXPORTS)

if TYPE_CHECKING:
    from irstudio.models.catalog import REGISTRY, resolve_id
    from irstudio.models.choices import (
        BASELINE,
        KIND_TITLES,
        KINDS,
        LIBRARY,
        SHIPPED,
        TASKS,
        UNTRAINED,
        ModelChoice,
        TaskChoice,
        all_choices,
        choices_for,
        manifest_records,
        model_card,
        task_choice,
    )
    from irstudio.models.library import LibraryModel, library_models, resolve_model
    from irstudio.models.loading import Manifest, ShippedWeights, WeightsError, open_model, read_manifest
    from irstudio.models.registry import UnknownModelError
    from irstudio.models.spec import ModelSpec, Task

__all__ = [
    "BASELINE",
    "KINDS",
    "KIND_TITLES",
    "LIBRARY",
    "REGISTRY",
    "SHIPPED",
    "TASKS",
    "UNTRAINED",
    "LibraryModel",
    "Manifest",
    "ModelChoice",
    "ModelSpec",
    "ShippedWeights",
    "Task",
    "TaskChoice",
    "UnknownModelError",
    "WeightsError",
    "all_choices",
    "choices_for",
    "library_models",
    "manifest_records",
    "model_card",
    "open_model",
    "read_manifest",
    "resolve_id",
    "resolve_model",
    "task_choice",
]
