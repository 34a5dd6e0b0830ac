"""The user's model library: weight files the training panel (or ``irstudio train --export``) wrote.

A library model is a ``.safetensors`` file in ``paths.user_library_dir()`` whose metadata is ours
(``format`` = "irstudio") and names a registry ``preset``. ``library_models(folder)`` lists them
(reading headers only); ``library_spec(model)`` is the registry-style ``ModelSpec`` under which the
command line knows it: its id is the file's stem (``irstudio restore --model my-denoiser``), its
name the one given at export. ``find_library_model(folder, model_id)`` finds one by that id (or by
``library:<file name>``, the app's key) and ``resolve_model`` is what the command line calls: a
registry id first, then the library. Files that are not ours are skipped, with a log line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safetensors import safe_open

from irstudio.models.catalog import REGISTRY, require_scale, resolve_id
from irstudio.models.loading import FORMAT_TAG
from irstudio.models.registry import UnknownModelError
from irstudio.models.spec import ModelSpec

_log = logging.getLogger(__name__)

LIBRARY_PREFIX = "library:"


@dataclass(frozen=True)
class LibraryModel:
    """A weight file of the user's library: its path, base preset and metadata values (JSON-decoded)."""

    path: Path
    spec: ModelSpec
    name: str
    task: str
    scale: int
    metadata: Mapping[str, object]

    @property
    def id(self) -> str:
        """The id the command line knows it by: the file's stem."""
        return self.path.stem


def _decoded(metadata: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, raw in metadata.items():
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def _library_entry(path: Path) -> LibraryModel | None:
    """The library model in ``path``, or None (logged) when it is not one of ours."""
    try:
        with safe_open(str(path), framework="pt") as handle:  # header only, no tensors read
            metadata = dict(handle.metadata() or {})
    except Exception as error:
        _log.warning("%s: not a readable safetensors file (%s)", path, error)
        return None
    if metadata.get("format") != FORMAT_TAG or metadata.get("preset") not in REGISTRY:
        _log.warning("%s: no IR Studio metadata naming a known preset; skipped", path)
        return None
    spec = REGISTRY.get(metadata["preset"])
    values = _decoded(metadata)
    task = str(values.get("task") or spec.tasks[0].value)
    scale = values.get("scale", spec.scale)
    return LibraryModel(
        path=path,
        spec=spec,
        name=str(values.get("name") or path.stem),
        task=task,
        scale=int(scale) if isinstance(scale, int | float | str) else spec.scale,
        metadata=values,
    )


def library_models(folder: Path) -> list[LibraryModel]:
    """The user's models in ``folder`` (``*.safetensors`` with our metadata), sorted by name."""
    if not folder.is_dir():
        return []
    entries = (_library_entry(path) for path in sorted(folder.glob("*.safetensors")))
    return sorted((e for e in entries if e is not None), key=lambda e: e.name.lower())


def library_spec(model: LibraryModel) -> ModelSpec:
    """The preset's spec under the library model's id and name, with no shipped weights of its own
    (the library file is loaded instead)."""
    return dataclasses.replace(
        model.spec, id=model.id, name=model.name, weights=None, description=f"your model ({model.path.name})"
    )


def find_library_model(folder: Path, model_id: str) -> LibraryModel | None:
    """The library model whose id is ``model_id`` (or ``library:<file name>``), or None."""
    wanted = model_id.removeprefix(LIBRARY_PREFIX)
    for model in library_models(folder):
        if wanted in (model.id, model.path.name):
            return model
    return None


def resolve_model(model_id: str, scale: int | None, folder: Path) -> tuple[ModelSpec, Path | None]:
    """The spec for ``model_id`` and the library file to load into it (None for registry models).

    Registry ids come first (``catalog.resolve_id``, which also checks ``scale``); an unknown id is
    looked up in the user's library in ``folder``. Raises ``UnknownModelError`` when neither knows
    it, ``ValueError`` for a scale the model does not have.
    """
    try:
        return resolve_id(model_id, scale), None
    except UnknownModelError:
        found = find_library_model(folder, model_id)
        if found is None:
            raise
    return require_scale(library_spec(found), scale), found.path
