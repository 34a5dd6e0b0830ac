"""Training and demo data: seeded, composable degradations and folder datasets.

``degradations``: single operations (noise, MATLAB bicubic, JPEG, rain, blur); ``pipeline``: the
frozen, seeded ``Degradation`` pipeline of them with parameter ranges; ``images``: folders, checked
and held in RAM, bad files reported and skipped; ``datasets``: random training patches (resumable
draws, distributed sampler) and fixed validation crops.
"""

from __future__ import annotations

from irstudio.data.datasets import (
    MIN_VALIDATION_SIDE,
    CleanSource,
    DrawSampler,
    PairedSource,
    TrainPatches,
    ValidationCrops,
    preview_pairs,
    validation_crops,
)
from irstudio.data.degradations import (
    add_gaussian_noise,
    add_rain,
    bicubic_downscale,
    gaussian_blur,
    jpeg_compress,
    motion_blur,
    motion_kernel,
    rain_layer,
)
from irstudio.data.images import (
    DatasetError,
    ImageStore,
    SkippedFile,
    list_images,
    match_pairs,
    split_train_val,
)
from irstudio.data.pipeline import (
    STEP_TYPES,
    Degradation,
    Downscale,
    GaussianBlur,
    Jpeg,
    MotionBlur,
    Noise,
    Rain,
    Range,
    RealPhoto,
    Step,
    degrade,
)

__all__ = [
    "MIN_VALIDATION_SIDE",
    "STEP_TYPES",
    "CleanSource",
    "DatasetError",
    "Degradation",
    "Downscale",
    "DrawSampler",
    "GaussianBlur",
    "ImageStore",
    "Jpeg",
    "MotionBlur",
    "Noise",
    "PairedSource",
    "Rain",
    "Range",
    "RealPhoto",
    "SkippedFile",
    "Step",
    "TrainPatches",
    "ValidationCrops",
    "add_gaussian_noise",
    "add_rain",
    "bicubic_downscale",
    "degrade",
    "gaussian_blur",
    "jpeg_compress",
    "list_images",
    "match_pairs",
    "motion_blur",
    "motion_kernel",
    "preview_pairs",
    "rain_layer",
    "split_train_val",
    "validation_crops",
]
