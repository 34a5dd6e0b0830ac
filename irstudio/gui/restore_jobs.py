"""Restoration as ``TaskRunner`` work: an immutable request in, a restored image out (no Qt here).

``restore_work(request, cache)`` returns the ``Work`` the device lane runs: resolve the device,
plan the tiles (``inference.planning.plan_for``), fetch the model from the ``ModelCache``, then
``yield from run_tiled(...)`` (one ``TileProgress`` per tile, cancel checked before each) and
return a ``RestoreOutcome``. With ``request.region`` only that region is restored (the same
tiles and pixels as the full run) and the outcome's image shows the input, resized to the output
size, everywhere else.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from irstudio.core.cancel import CancelToken
from irstudio.core.device import resolve_device
from irstudio.core.tiling import Region
from irstudio.gui.model_choices import ModelChoice
from irstudio.inference.planning import plan_for
from irstudio.inference.runner import TilePlan, run_tiled
from irstudio.models.loading import open_model

__all__ = ["ModelCache", "RestoreOutcome", "RestoreRequest", "RunOptions", "restore_work", "with_region"]

UNTRAINED_SEED = 0
"""Untrained presets are built from this seed, so their random weights are the same on every load."""


@dataclass(frozen=True)
class RunOptions:
    """How to run: ``device`` ("auto" or a spec), ``precision`` ("fp32", "bf16", "fp16"), ``tile``
    and ``context`` in input pixels (None: the model's defaults)."""

    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None
    context: int | None = None


@dataclass(frozen=True)
class RestoreRequest:
    """A snapshot taken on the main thread: ``image`` float32 HxWx3 [0, 1] (read-only), the model
    choice, the options, the state's image generation and an optional region (input pixels)."""

    choice: ModelChoice
    image: np.ndarray
    options: RunOptions
    generation: int
    region: Region | None = None


@dataclass(frozen=True)
class RestoreOutcome:
    """``image``: float32 (H * scale, W * scale, 3) in [0, 1]; for a region request only the region
    is restored. ``seconds``: time in the tiled runner (model loading excluded)."""

    request: RestoreRequest
    image: np.ndarray
    plan: TilePlan
    device: str
    seconds: float

    def details(self) -> str:
        plan = self.plan
        tiles = f"tile {plan.tile}, context {plan.context}" if plan.tile else "whole image"
        return f"{self.device}, {plan.dtype}, {tiles}, {self.seconds:.2f} s"


class ModelCache:
    """Built models by (choice, device), the ``size`` most recent kept. Not thread-safe: used only
    on the device lane's thread."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._models: OrderedDict[tuple[str, str, str], nn.Module] = OrderedDict()

    def get(self, choice: ModelChoice, device: str) -> nn.Module:
        key = (choice.key, str(choice.weights), device)
        model = self._models.get(key)
        if model is None:
            model = self._load(choice).to(device)
            self._models[key] = model
            while len(self._models) > self._size:
                self._models.popitem(last=False)
        self._models.move_to_end(key)
        return model

    @staticmethod
    def _load(choice: ModelChoice) -> nn.Module:
        if choice.weights is not None or not choice.untrained:
            return open_model(choice.spec, choice.weights)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(UNTRAINED_SEED)
            return open_model(choice.spec)

    def clear(self) -> None:
        self._models.clear()


def with_region(original: np.ndarray, restored: np.ndarray, region: Region, scale: int) -> np.ndarray:
    """The input resized to the output size (bicubic, clipped) with ``restored`` pasted at ``region``."""
    height, width = original.shape[0] * scale, original.shape[1] * scale
    if scale == 1:
        canvas = original.copy()
    else:
        canvas = cv2.resize(original, (width, height), interpolation=cv2.INTER_CUBIC)
        np.clip(canvas, 0.0, 1.0, out=canvas)
    r = region.scaled(scale)
    canvas[r.y0 : r.y1, r.x0 : r.x1] = restored
    return canvas


def restore_work(request: RestoreRequest, cache: ModelCache):
    """The device-lane work for ``request``: yields ``TileProgress``, returns a ``RestoreOutcome``."""

    def work(token: CancelToken):
        token.raise_if_cancelled()
        spec, options = request.choice.spec, request.options
        device = resolve_device(options.device)
        plan = plan_for(spec, device, tile=options.tile, context=options.context, dtype=options.precision)
        model = cache.get(request.choice, device.spec)
        token.raise_if_cancelled()
        started = time.perf_counter()
        pixels = yield from run_tiled(model, request.image, plan, token, region=request.region)
        seconds = time.perf_counter() - started
        if request.region is not None:
            pixels = with_region(request.image, pixels, request.region, plan.scale)
        return RestoreOutcome(request, pixels, plan, device.spec, seconds)

    return work
