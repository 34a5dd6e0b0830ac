"""The one un-wrapper of authors' checkpoints: the flat state dict inside a trainer's wrappers.

Papers ship their weights as a bare ``state_dict``, or wrapped by their trainer: BasicSR's
``{"params": ..., "params_ema": ...}``, a plain training checkpoint ``{"epoch", "state_dict",
"optimizer"}``, ``{"model": ...}`` / ``{"net": ...}``, with keys prefixed ``module.`` by
DataParallel / DistributedDataParallel. ``unwrap_checkpoint`` removes all of that; each
architecture's ``from_official_state_dict`` then checks and renames the keys it finds.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MODULE_PREFIX", "WRAPPER_KEYS", "unwrap_checkpoint"]

WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net")
"""Keys whose value (a mapping) holds the weights, in order of preference: BasicSR's EMA weights
(what the authors' test scripts load) before its raw ones, then the usual trainer wrappers."""

MODULE_PREFIX = "module."
"""DataParallel's prefix; DistributedDataParallel around DataParallel stacks two."""


def unwrap_checkpoint(checkpoint: Mapping[str, object]) -> dict[str, object]:
    """The flat state dict inside ``checkpoint``: a new dict, values untouched (not copied).

    Wrappers are peeled as long as one of ``WRAPPER_KEYS`` holds a mapping, the first of them in
    that order each time (so ``{"state_dict": {"params_ema": ...}}`` works). Every key loses each
    leading ``module.`` (keys without one are kept as they are). Values are not checked (callers
    check that they are tensors). Raises ``ValueError`` when ``checkpoint`` is not a mapping, a key
    is not a string, two keys are the same once stripped, or the wrappers nest in a cycle.
    """
    flat = _peel(checkpoint)
    result: dict[str, object] = {}
    for key, value in flat.items():
        if not isinstance(key, str):
            raise ValueError(f"checkpoint key {key!r} is a {type(key).__name__}, not a string")
        name = _strip_prefix(key)
        if name in result:
            raise ValueError(f"checkpoint has '{name}' twice (with and without '{MODULE_PREFIX}')")
        result[name] = value
    return result


def _peel(checkpoint: object) -> Mapping[object, object]:
    """The innermost mapping reached through ``WRAPPER_KEYS``."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"expected a mapping of tensors, got {type(checkpoint).__name__}")
    current: Mapping[object, object] = checkpoint
    seen: set[int] = set()
    while id(current) not in seen:
        seen.add(id(current))
        inner = next((value for k in WRAPPER_KEYS if isinstance(value := current.get(k), Mapping)), None)
        if inner is None:
            return current
        current = inner
    raise ValueError("checkpoint wrappers nest in a cycle")


def _strip_prefix(key: str) -> str:
    while key.startswith(MODULE_PREFIX):
        key = key[len(MODULE_PREFIX) :]
    return key
