"""Tiny models, folders and configs for the training tests (fast on 2 CPU cores)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from irstudio.models import catalog
from irstudio.models.archs import compacter
from irstudio.models.registry import Registry
from irstudio.models.spec import ModelSpec, Task
from irstudio.training import (
    DataSection,
    ModelSection,
    OptimSection,
    RuntimeSection,
    TrainConfig,
    TrainSection,
)

TINY_COMPACTER = compacter.CompacterConfig(
    upscale=1, embed_dim=8, depths=(1,), num_heads=2, window_size=4, gate_reduction=2
)
TINY_COMPACTER_X2 = replace(TINY_COMPACTER, upscale=2)


class NaNNet(nn.Module):
    """A restoration net whose output is NaN once its scale parameter is (as after a diverged step)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.scale = nn.Parameter(torch.tensor(float("nan")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) * self.scale


class DropoutNet(nn.Module):
    """A small residual net with dropout: training draws from torch's RNG (as AST's drop-path does)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Dropout(0.3), nn.Conv2d(8, 3, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _spec(
    model_id: str,
    build,
    *,
    scale: int,
    tasks: tuple[Task, ...],
    arch: str = "compacter",
    hparams: dict | None = None,
    half_dtypes: tuple[str, ...] = (),
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=model_id,
        arch=arch,
        tasks=tasks,
        scale=scale,
        build=build,
        hparams=hparams or {},
        half_dtypes=half_dtypes,
    )


TINY_SPECS = (
    _spec(
        "tiny-compacter",
        lambda: compacter.build(TINY_COMPACTER),
        scale=1,
        tasks=(Task.DENOISE, Task.JPEG, Task.DERAIN),
        hparams=dict(vars(TINY_COMPACTER)),
    ),
    _spec(
        "tiny-compacter-x2",
        lambda: compacter.build(TINY_COMPACTER_X2),
        scale=2,
        tasks=(Task.SR,),
        hparams=dict(vars(TINY_COMPACTER_X2)),
    ),
    _spec(  # as the shipped Compacters: bf16 allowed
        "tiny-compacter-bf16",
        lambda: compacter.build(TINY_COMPACTER),
        scale=1,
        tasks=(Task.DENOISE,),
        hparams=dict(vars(TINY_COMPACTER)),
        half_dtypes=("bf16",),
    ),
    _spec("nan-net", NaNNet, scale=1, tasks=(Task.DENOISE,), arch="nan-net"),
    _spec("dropout-net", DropoutNet, scale=1, tasks=(Task.DENOISE,), arch="dropout-net"),
)


def install_tiny_models(monkeypatch) -> None:
    """Put the tiny models in the registry for one test (``resolve_id`` reads ``catalog.REGISTRY``)."""
    monkeypatch.setattr(catalog, "REGISTRY", Registry([*catalog.REGISTRY, *TINY_SPECS]))


def drain(generator) -> tuple[list, object]:
    """Run a progress generator to the end: (everything it yielded, what it returned)."""
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as finished:
            return events, finished.value


def make_folder(folder: Path, count: int = 6, size: tuple[int, int] = (40, 48), seed: int = 0) -> Path:
    """``count`` smooth-ish random RGB PNGs (height, width = ``size``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        coarse = rng.integers(0, 256, (size[0] // 4 + 1, size[1] // 4 + 1, 3)).astype(np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((size[1], size[0]), Image.BILINEAR))
        Image.fromarray(image).save(folder / f"img_{index:02d}.png")
    return folder


def tiny_config(tmp_path: Path, *, model: str = "tiny-compacter", steps: int = 6, **sections) -> TrainConfig:
    """A config that trains ``model`` on a fresh tiny folder in ``tmp_path`` (patch 16, batch 2, 1 thread)."""
    folder = tmp_path / "images"
    if not folder.is_dir():
        make_folder(folder)
    data = sections.pop(
        "data",
        DataSection(clean=folder, patch=16, batch_size=2, num_workers=0, val_fraction=0.2, val_patch=32),
    )
    return TrainConfig(
        name=sections.pop("name", "run"),
        model=ModelSection(id=model),
        data=data,
        optim=sections.pop("optim", OptimSection(lr=1e-3, warmup_steps=2)),
        train=sections.pop(
            "train", TrainSection(steps=steps, validate_every=steps, checkpoint_every=steps, log_every=1)
        ),
        runtime=sections.pop("runtime", RuntimeSection(device="cpu", cpu_threads=1, deterministic=True)),
        output_dir=tmp_path / "runs",
        **sections,
    )
