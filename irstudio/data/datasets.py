"""Training data from folders: random patches for training, fixed crops for validation.

Sources
    ``CleanSource``: a folder of clean photos; the input is synthesised on the fly by a ``Degradation``
    (its scale is the SR factor). ``PairedSource``: an ``input`` folder and a ``target`` folder matched
    by relative path without suffix (``in/a.jpg`` ↔ ``gt/a.png``); each target must be exactly
    ``scale`` times its input.

Images
    come from ``images.ImageStore`` (bad and too-small files reported and skipped; decoded images held
    in RAM as uint8 when they fit the budget).

Draws (reproducible, resumable, independent of worker count)
    ``TrainPatches[k]`` is the k-th *draw* of a run: epoch ``e = k // n`` visits the n images in a
    permutation seeded by ``(seed, e)``, and draw k's crop, dihedral augmentation (flips and 90°
    rotations) and degradation come from a Generator seeded by ``(seed, k)``. A run that resumes at
    draw k therefore sees exactly the batches it would have seen. ``DrawSampler`` hands each process
    of a distributed run its share of every global batch.

Tensors are float32 CHW in [0, 1] (noisy inputs may leave it slightly: noise is not clipped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from irstudio.core.image_io import ImageError
from irstudio.data.images import DatasetError, ImageStore, SkippedFile, list_images
from irstudio.data.pipeline import Degradation, degrade

_log = logging.getLogger(__name__)

_EPOCH_TAG = 1  # SeedSequence entropy tags keep the streams of permutations, draws and crops apart
_VALIDATION_TAG = 2
_PREVIEW_TAG = 3
MIN_VALIDATION_SIDE = 16  # SSIM needs 11x11 after any border crop


# --------------------------------------------------------------------------------------------------
# Sources: (input, target) pairs from one image


def _dihedral(image: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 flips/rotations of the square's symmetry group (code 0 is the identity)."""
    out = np.rot90(image, k=code % 4)
    return np.ascontiguousarray(out[:, ::-1] if code >= 4 else out)


def _random_window(rng: np.random.Generator, height: int, width: int, size: int) -> tuple[int, int]:
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


class CleanSource:
    """Clean photos degraded on the fly; ``scale`` is the degradation's downscale factor."""

    def __init__(self, store: ImageStore, degradation: Degradation) -> None:
        self.store = store
        self.degradation = degradation
        self.scale = degradation.scale

    def __len__(self) -> int:
        return len(self.store)

    def name(self, index: int) -> str:
        return self.store.paths[index].name

    def random_pair(
        self, index: int, rng: np.random.Generator, patch: int, augment: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """A random ``patch``-sized input (target ``patch * scale``) from image ``index``."""
        size = patch * self.scale
        height, width = self.store.shape(index)
        top, left = _random_window(rng, height, width, size)
        crop = self.store.image(index)[top : top + size, left : left + size]
        if augment:
            crop = _dihedral(crop, int(rng.integers(8)))
        return degrade(crop.astype(np.float32) / 255.0, self.degradation, rng)

    def fixed_pair(self, index: int, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The centre crop (input at most ``patch`` square) of image ``index``, degraded with ``rng``."""
        height, width = self.store.shape(index)
        crop_h = min(patch * self.scale, height) // self.scale * self.scale
        crop_w = min(patch * self.scale, width) // self.scale * self.scale
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        crop = self.store.image(index)[top : top + crop_h, left : left + crop_w]
        return degrade(crop.astype(np.float32) / 255.0, self.degradation, rng)


class PairedSource:
    """Aligned input/target images; the target is ``scale`` times the input in both dimensions."""

    def __init__(
        self, pairs: Sequence[tuple[Path, Path]], *, scale: int, ram_budget: int, min_patch: int
    ) -> None:
        self.scale = scale
        share = 1.0 / (1 + scale * scale)
        self.inputs = ImageStore(
            [p for p, _ in pairs], ram_budget=int(ram_budget * share), min_size=(min_patch, min_patch)
        )
        self.targets = ImageStore(
            [t for _, t in pairs],
            ram_budget=int(ram_budget * (1 - share)),
            min_size=(min_patch * scale, min_patch * scale),
        )
        input_index = {path: i for i, path in enumerate(self.inputs.paths)}
        target_index = {path: i for i, path in enumerate(self.targets.paths)}
        skipped = list(self.inputs.skipped) + list(self.targets.skipped)
        self._pairs: list[tuple[int, int]] = []
        for source, target in pairs:
            if source not in input_index or target not in target_index:
                continue
            i, t = input_index[source], target_index[target]
            (h, w), (th, tw) = self.inputs.shape(i), self.targets.shape(t)
            if (th, tw) != (h * scale, w * scale):
                skipped.append(SkippedFile(source, f"target {tw}x{th} is not x{scale} of the input {w}x{h}"))
                continue
            self._pairs.append((i, t))
        self.skipped: tuple[SkippedFile, ...] = tuple(skipped)

    def __len__(self) -> int:
        return len(self._pairs)

    def name(self, index: int) -> str:
        return self.inputs.paths[self._pairs[index][0]].name

    def _images(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        i, t = self._pairs[index]
        return self.inputs.image(i), self.targets.image(t)

    def random_pair(
        self, index: int, rng: np.random.Generator, patch: int, augment: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        i, _ = self._pairs[index]
        height, width = self.inputs.shape(i)
        top, left = _random_window(rng, height, width, patch)
        source, target = self._images(index)
        s = self.scale
        lq = source[top : top + patch, left : left + patch]
        gt = target[top * s : (top + patch) * s, left * s : (left + patch) * s]
        if augment:
            code = int(rng.integers(8))
            lq, gt = _dihedral(lq, code), _dihedral(gt, code)
        return lq.astype(np.float32) / 255.0, gt.astype(np.float32) / 255.0

    def fixed_pair(self, index: int, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        i, _ = self._pairs[index]
        height, width = self.inputs.shape(i)
        crop_h, crop_w = min(patch, height), min(patch, width)
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        source, target = self._images(index)
        s = self.scale
        lq = source[top : top + crop_h, left : left + crop_w]
        gt = target[top * s : (top + crop_h) * s, left * s : (left + crop_w) * s]
        return lq.astype(np.float32) / 255.0, gt.astype(np.float32) / 255.0


Source = CleanSource | PairedSource


# --------------------------------------------------------------------------------------------------
# Training draws and the sampler


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


class TrainPatches(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Draw number → ``(input, target)`` float32 CHW tensors (see the module docstring).

    ``patch`` is the *input* side (the target is ``patch * scale``), as in the SR papers.
    """

    def __init__(self, source: Source, *, patch: int, seed: int, augment: bool = True) -> None:
        if len(source) == 0:
            raise DatasetError("no usable training images")
        self.source = source
        self.patch = patch
        self.seed = seed
        self.augment = augment
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.source)

    def image_for_draw(self, draw: int) -> int:
        epoch, position = divmod(draw, len(self.source))
        if self._order is None or self._order[0] != epoch:
            order = np.random.default_rng([self.seed, epoch, _EPOCH_TAG]).permutation(len(self.source))
            self._order = (epoch, order)
        return int(self._order[1][position])

    def __getitem__(self, draw: int) -> tuple[torch.Tensor, torch.Tensor]:
        if draw < 0:
            raise IndexError(f"draw numbers start at 0, got {draw}")
        rng = np.random.default_rng([self.seed, int(draw)])
        index = self.image_for_draw(int(draw))
        try:
            lq, gt = self.source.random_pair(index, rng, self.patch, self.augment)
        except ImageError as error:  # a file that changed on disk since it was checked
            _log.warning("skipping draw %d: %s", draw, error)
            fallback = (index + 1) % len(self.source)
            lq, gt = self.source.random_pair(fallback, rng, self.patch, self.augment)
        return _to_tensor(lq), _to_tensor(gt)


class DrawSampler(Sampler[int]):
    """Draw numbers for one process over ``steps`` steps from ``first_draw``.

    Step ``i`` uses the global batch ``first_draw + i * batch * world_size`` onwards; process ``rank``
    takes its ``batch`` consecutive draws of it. Together the processes see each draw once.
    """

    def __init__(
        self, *, first_draw: int, steps: int, batch_size: int, world_size: int = 1, rank: int = 0
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside a world of {world_size}")
        self.first_draw = first_draw
        self.steps = steps
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank

    def __len__(self) -> int:
        return self.steps * self.batch_size

    def __iter__(self) -> Iterator[int]:
        global_batch = self.batch_size * self.world_size
        for step in range(self.steps):
            start = self.first_draw + step * global_batch + self.rank * self.batch_size
            yield from range(start, start + self.batch_size)


# --------------------------------------------------------------------------------------------------
# Validation crops and previews


@dataclass(frozen=True)
class ValidationCrops:
    """Fixed validation pairs: float32 HxWx3 inputs and targets (target = scale x input), with names."""

    names: tuple[str, ...]
    inputs: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.names)


def validation_crops(source: Source, *, patch: int, seed: int) -> ValidationCrops:
    """The centre crop (input side at most ``patch``) of every image, degraded with a per-image seed:
    the same crops for every run with this ``seed``, whatever happens during training."""
    names, inputs, targets = [], [], []
    for index in range(len(source)):
        rng = np.random.default_rng([seed, index, _VALIDATION_TAG])
        try:
            lq, gt = source.fixed_pair(index, patch, rng)
        except ImageError as error:
            _log.warning("validation image skipped: %s", error)
            continue
        names.append(source.name(index))
        inputs.append(lq)
        targets.append(gt)
    return ValidationCrops(tuple(names), tuple(inputs), tuple(targets))


def preview_pairs(
    folder: str | Path, degradation: Degradation, *, patch: int = 96, count: int = 4, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``count`` training pairs from a clean folder, as training would make them, for a live
    preview: ``(input, target)`` float32 HxWx3, images spread evenly over the folder. Reads only
    the images it shows; unreadable or too small files are passed over."""
    paths = list_images(folder)
    if not paths:
        return []
    step = max(1, len(paths) // max(1, count))
    picked = paths[::step][: max(count * 2, count)]
    size = patch * degradation.scale
    source = CleanSource(ImageStore(picked, ram_budget=0, min_size=(size, size)), degradation)
    pairs = []
    for index in range(min(count, len(source))):
        rng = np.random.default_rng([seed, index, _PREVIEW_TAG])
        try:
            pairs.append(source.random_pair(index, rng, patch, augment=False))
        except ImageError:
            continue
    return pairs
