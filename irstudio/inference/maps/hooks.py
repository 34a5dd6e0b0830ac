"""Forward hooks on named modules: the only way the map view looks inside a model.

``run_with_taps(model, crop, taps, device)`` runs one forward pass of a (1, 3, h, w) crop with a forward
hook on every named module of ``taps``; each hook calls its tap ``tap(module, inputs, output)`` and keeps
what the tap returns (taps slice what they need right away, so the big attention tensors of a layer are
never stored). The hooks are removed when the pass ends, also on errors. ``forward`` is never changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["Tap", "TapError", "forward_hooks", "run_with_taps", "to_numpy"]

Tap = Callable[[nn.Module, tuple[Any, ...], Any], Any]
"""Called inside a forward hook with (module, positional inputs, output); its return value is kept."""


class TapError(RuntimeError):
    """A hooked module was never called, or its tensors do not have the documented layout."""


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of ``tensor`` (any device or dtype), detached."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()


@contextlib.contextmanager
def forward_hooks(model: nn.Module, taps: Mapping[str, Tap]) -> Iterator[dict[str, Any]]:
    """Hook the modules named in ``taps`` for the duration; yields the dict their taps fill (name -> value).

    A module called more than once keeps the value of its last call. Unknown names raise TapError.
    """
    captured: dict[str, Any] = {}
    handles = []
    try:
        for name, tap in taps.items():
            try:
                module = model.get_submodule(name)
            except AttributeError as error:
                raise TapError(f"the model has no module named {name!r}") from error
            handles.append(module.register_forward_hook(_hook(name, tap, captured)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _hook(name: str, tap: Tap, captured: dict[str, Any]) -> Callable[..., None]:
    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        captured[name] = tap(module, inputs, output)

    return hook


def run_with_taps(
    model: nn.Module, crop: np.ndarray, taps: Mapping[str, Tap], device: str | torch.device = "cpu"
) -> tuple[np.ndarray, dict[str, Any]]:
    """One forward pass of ``crop`` (float32 (h, w, 3) in [0, 1]) with ``taps`` hooked.

    Returns (output float32 (h * s, w * s, 3), not clipped; what each tap returned). The model runs in
    eval mode under ``torch.inference_mode`` on ``device`` (moved there in place); its train/eval mode is
    restored afterwards. Raises TapError when a tapped module did not run.
    """
    was_training = model.training
    model.to(device).eval()
    batch = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None].to(device, torch.float32)
    try:
        with forward_hooks(model, taps) as captured, torch.inference_mode():
            output = model(batch)
    finally:
        model.train(was_training)
    missing = [name for name in taps if name not in captured]
    if missing:
        raise TapError(f"hooked modules did not run: {', '.join(missing)}")
    return to_numpy(output[0]).transpose(1, 2, 0), captured
