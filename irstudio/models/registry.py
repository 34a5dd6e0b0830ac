"""The registry type: an ordered, explicit collection of ``ModelSpec`` entries (see catalog.py)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from irstudio.models.spec import ModelSpec, Task


class UnknownModelError(KeyError):
    """No model has the requested id; the message suggests close ids."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class Registry:
    """Models by id, in the order they were listed. A duplicate id raises ``ValueError``."""

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ModelSpec) -> None:
        if spec.id in self._specs:
            raise ValueError(f"duplicate model id '{spec.id}' in the registry")
        self._specs[spec.id] = spec

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._specs[model_id]
        except KeyError:
            close = difflib.get_close_matches(model_id, list(self._specs), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownModelError(
                f"unknown model '{model_id}'{hint} ('irstudio models' lists them)"
            ) from None

    def for_task(self, task: Task, scale: int | None = None) -> list[ModelSpec]:
        """Models that serve ``task`` (and ``scale`` when given), in registry order."""
        return [s for s in self if task in s.tasks and (scale is None or s.scale == scale)]

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)
