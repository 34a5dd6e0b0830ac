"""From a ``TrainConfig`` to data: the training source and the fixed validation crops.

Clean data: the folder is split into training and validation images (seeded, fixed) unless
``data.val_clean`` names a validation folder; inputs are degraded on the fly. Paired data: the
``input``/``target`` pairs are split the same way unless ``val_input``/``val_target`` are given.
Files that cannot be used are collected in ``skipped`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from irstudio.data import (
    MIN_VALIDATION_SIDE,
    CleanSource,
    DatasetError,
    Degradation,
    ImageStore,
    PairedSource,
    SkippedFile,
    ValidationCrops,
    list_images,
    match_pairs,
    split_train_val,
    validation_crops,
)
from irstudio.training.config import ConfigError, TrainConfig

_MIB = 1 << 20


@dataclass(frozen=True)
class RunData:
    """Training source, validation crops (empty on processes that do not validate), skipped files."""

    source: CleanSource | PairedSource
    validation: ValidationCrops
    skipped: tuple[SkippedFile, ...]


def largest_patch(config: TrainConfig) -> int:
    return max([config.data.patch, *(stage.patch for stage in config.train.progressive)])


def check_degradation(degradation: Degradation, scale: int, model_id: str) -> None:
    if degradation.scale != scale:
        raise ConfigError(
            f"the degradation downscales x{degradation.scale} but {model_id} upscales x{scale}: "
            f"use one downscale step of scale {scale}"
            if scale > 1
            else f"the degradation downscales x{degradation.scale} but {model_id} does not upscale"
        )


def build_run_data(
    config: TrainConfig, *, task: str, scale: int, model_id: str, with_validation: bool = True
) -> RunData:
    """Scan, split, check and (within the RAM budget) decode the images ``config.data`` names."""
    if config.data.paired:
        return _paired_data(config, scale, with_validation)
    degradation = config.degradation_for(task, scale)
    check_degradation(degradation, scale, model_id)
    return _clean_data(config, degradation, with_validation)


def _no_images(folder: Path, skipped: list[SkippedFile]) -> DatasetError:
    detail = f"; {len(skipped)} skipped, e.g. {skipped[0]}" if skipped else ""
    return DatasetError(f"{folder}: no usable training images{detail}")


def _clean_data(config: TrainConfig, degradation: Degradation, with_validation: bool) -> RunData:
    data = config.data
    assert data.clean is not None
    paths = [path for folder in (data.clean, *data.more_clean) for path in list_images(folder)]
    if data.val_clean is not None:
        train_paths, val_paths = paths, list_images(data.val_clean)
    else:
        train_idx, val_idx = split_train_val(
            len(paths), val_fraction=data.val_fraction, val_max=data.val_max_images, seed=config.seed
        )
        train_paths, val_paths = [paths[i] for i in train_idx], [paths[i] for i in val_idx]
    side = largest_patch(config) * degradation.scale
    store = ImageStore(train_paths, ram_budget=data.ram_budget_mb * _MIB, min_size=(side, side))
    skipped = list(store.skipped)
    if len(store) == 0:
        raise _no_images(data.clean, skipped)
    validation = ValidationCrops((), (), ())
    if with_validation and val_paths:
        val_side = MIN_VALIDATION_SIDE * degradation.scale
        val_store = ImageStore(val_paths, ram_budget=0, min_size=(val_side, val_side))
        skipped += val_store.skipped
        validation = validation_crops(
            CleanSource(val_store, degradation), patch=data.val_patch, seed=config.seed
        )
    return RunData(CleanSource(store, degradation), validation, tuple(skipped))


def _paired_data(config: TrainConfig, scale: int, with_validation: bool) -> RunData:
    data = config.data
    assert data.input is not None and data.target is not None
    pairs, unmatched = match_pairs(data.input, data.target)
    skipped = list(unmatched)
    if data.val_input is not None and data.val_target is not None:
        train_pairs = pairs
        val_pairs, val_unmatched = match_pairs(data.val_input, data.val_target)
        skipped += val_unmatched
    else:
        train_idx, val_idx = split_train_val(
            len(pairs), val_fraction=data.val_fraction, val_max=data.val_max_images, seed=config.seed
        )
        train_pairs, val_pairs = [pairs[i] for i in train_idx], [pairs[i] for i in val_idx]
    source = PairedSource(
        train_pairs, scale=scale, ram_budget=data.ram_budget_mb * _MIB, min_patch=largest_patch(config)
    )
    skipped += source.skipped
    if len(source) == 0:
        raise _no_images(data.input, skipped)
    validation = ValidationCrops((), (), ())
    if with_validation and val_pairs:
        val_source = PairedSource(val_pairs, scale=scale, ram_budget=0, min_patch=MIN_VALIDATION_SIDE)
        skipped += val_source.skipped
        validation = validation_crops(val_source, patch=data.val_patch, seed=config.seed)
    return RunData(source, validation, tuple(skipped))
