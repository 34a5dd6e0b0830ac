"""Opened models kept in memory for the next run: ``ModelCache``, bounded, least recently used out first.

A model is opened once per (model id, weights file, device) and kept while it is among the ``size``
most recently used; the app restores with many models in one session, so nothing else is kept.

Rules:

- Ownership: a cache has one owner, who creates it and passes it to the code that needs it; there is
  no module-level cache. The app's window owns one for its interactive work (whole-image runs, region
  previews and the Inside view's maps share it: they run one after another on the device lane); the
  batch dialog owns another for its own lane; a command-line run opens its model and needs none.
- Bound and eviction: at most ``size`` models are held, also while one is being opened: on a miss
  with the cache full, the least recently used model (the one whose last ``get`` is the oldest) is
  dropped first, then the new one is opened. ``on_evict(key)`` is called after each removal, so an
  owner can drop what it keeps per model (measured plans, engines). ``clear()`` drops every model.
- Opening: ``open_on`` (``models.open_model`` in eval mode on the device; shipped weights checked
  against the manifest). An untrained preset (a learned model without weights) is built from
  ``UNTRAINED_SEED``, so its random weights are the same on every load, in every view.
- Threads: ``get`` and ``clear`` hold a lock, so the bookkeeping is safe from any thread; a model
  itself must be used by one computation at a time (its owner runs them on one thread).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from irstudio.models.loading import open_model
from irstudio.models.spec import ModelSpec

__all__ = ["UNTRAINED_SEED", "ModelCache", "ModelKey", "model_key", "open_on"]

UNTRAINED_SEED = 0
"""Untrained presets are built from this seed, so their random weights are the same on every load."""

ModelKey = tuple[str, str | None, str]
"""(model id, weights file as a string or None, device spec)."""


def model_key(spec: ModelSpec, weights: str | Path | None, device: str) -> ModelKey:
    """The cache key of ``spec`` with ``weights`` on ``device``."""
    return (spec.id, None if weights is None else str(weights), device)


def open_on(spec: ModelSpec, weights: str | Path | None, device: str) -> nn.Module:
    """``spec``'s model in eval mode on ``device``: ``weights`` loaded, else its shipped weights, else
    (an untrained preset) random weights drawn from ``UNTRAINED_SEED``; the global RNG is left as it was."""
    if weights is not None or spec.weights is not None or not spec.learned:
        return open_model(spec, weights).to(device).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return open_model(spec).to(device).eval()


class ModelCache:
    """The ``size`` most recently used models, opened on demand (module doc: ownership, eviction).

    ``size``: models held at most (>= 1). ``on_evict``: called with the key of each model removed.
    ``opener``: how a model is opened (default ``open_on``; tests pass a counting one).
    """

    def __init__(
        self,
        size: int = 2,
        *,
        on_evict: Callable[[ModelKey], None] | None = None,
        opener: Callable[[ModelSpec, str | None, str], nn.Module] = open_on,
    ) -> None:
        if size < 1:
            raise ValueError(f"a model cache holds at least one model, got size {size}")
        self.size = size
        self._on_evict = on_evict
        self._opener = opener
        self._lock = threading.RLock()  # on_evict may look at the cache
        self._models: OrderedDict[ModelKey, nn.Module] = OrderedDict()

    def get(self, spec: ModelSpec, weights: str | Path | None, device: str) -> nn.Module:
        """The model for (``spec``, ``weights``, ``device``), opened on a miss (evicting first when
        full); it becomes the most recently used. Errors of opening propagate; nothing is kept then."""
        key = model_key(spec, weights, device)
        with self._lock:
            model = self._models.get(key)
            if model is None:
                while len(self._models) >= self.size:
                    self._evict_oldest()
                model = self._opener(spec, key[1], device)
                self._models[key] = model
            self._models.move_to_end(key)
            return model

    def peek(self, key: ModelKey) -> nn.Module | None:
        """The model held under ``key``, or None; does not change the order."""
        with self._lock:
            return self._models.get(key)

    def keys(self) -> list[ModelKey]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._models)

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._models

    def clear(self) -> None:
        """Drop every model (``on_evict`` for each, oldest first)."""
        with self._lock:
            while self._models:
                self._evict_oldest()

    def _evict_oldest(self) -> None:
        key, model = self._models.popitem(last=False)
        del model  # the cache's reference goes before the owner is told
        if self._on_evict is not None:
            self._on_evict(key)
