"""Ground-truth mode: degrade a clean photo so restorations can be scored against it.

``GroundTruthSpec`` is the user's choice: one degradation step of ``irstudio.data.degradations``
(``Noise``, ``Downscale``, ``Jpeg`` or ``Rain``, the code training uses, with fixed parameters) and a
seed. ``make_ground_truth(clean, spec)`` applies it and returns a ``GroundTruthPair``: the degraded
model input, the reference (the clean image, cropped to a multiple of the scale for SR) and the
``EvalProtocol`` the benchmarks use for that task (core/metrics: outputs rounded to uint8; SR measures
Y with ``scale`` pixels cropped at each border, JPEG and rain measure Y, colour noise measures RGB).
``score_result(result, pair)`` gives (PSNR, SSIM) of a restored image under that protocol;
``score_input(pair)`` scores the degraded input itself (bicubic-upscaled for SR) as the baseline row;
``score_rows(pair, results)`` makes the whole table (the input row, then one row per result).

All images are float32 HxWx3 RGB in [0, 1] (the noisy input is not clipped, as in the papers). No Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from irstudio.core.resize import imresize
from irstudio.data.pipeline import Degradation, Downscale, Jpeg, Noise, Rain, RealPhoto, degrade
from irstudio.inference.evaluation import EvalProtocol, score
from irstudio.models.spec import Task

__all__ = [
    "GroundTruthPair",
    "GroundTruthSpec",
    "make_ground_truth",
    "protocol_for",
    "score_input",
    "score_result",
    "score_rows",
]

GroundTruthStep = Noise | Downscale | Jpeg | Rain | RealPhoto
_TASK_OF_STEP: dict[type, Task] = {
    Noise: Task.DENOISE,
    Downscale: Task.SR,
    Jpeg: Task.JPEG,
    Rain: Task.DERAIN,
    RealPhoto: Task.REALPHOTO,
}


@dataclass(frozen=True)
class GroundTruthSpec:
    """How to degrade a clean photo: a one-step ``Degradation`` with fixed values, and the seed of its
    randomness (noise, rain streaks). ``task``/``scale`` say which models restore it."""

    degradation: Degradation
    seed: int = 0

    def __post_init__(self) -> None:
        steps = self.degradation.steps
        if len(steps) != 1 or type(steps[0]) not in _TASK_OF_STEP:
            raise ValueError(
                "a ground-truth degradation is one step: noise, downscale, jpeg, rain or real_photo; "
                f"got {self.degradation.describe()}"
            )

    @classmethod
    def of(cls, step: GroundTruthStep, seed: int = 0) -> GroundTruthSpec:
        """Shorthand: ``GroundTruthSpec.of(Noise(sigma=25), seed=3)``."""
        return cls(Degradation((step,)), seed)

    @property
    def step(self) -> GroundTruthStep:
        return self.degradation.steps[0]  # type: ignore[return-value]

    @property
    def task(self) -> Task:
        return _TASK_OF_STEP[type(self.step)]

    @property
    def scale(self) -> int:
        return self.degradation.scale

    def describe(self) -> str:
        """e.g. ``noise σ 25 (seed 0)``, ``bicubic ÷4``."""
        text = self.degradation.describe()
        return f"{text} (seed {self.seed})" if isinstance(self.step, (Noise, Rain, RealPhoto)) else text


@dataclass(frozen=True, eq=False)
class GroundTruthPair:
    """``degraded``: the model input, float32 (H/s, W/s, 3); ``reference``: the clean image, float32
    (H, W, 3) cropped to a multiple of the scale s; ``protocol``: how results are measured against it;
    ``spec``: what made it; ``is_gray``: the photo is grey (scored on its grey channel)."""

    degraded: np.ndarray
    reference: np.ndarray
    protocol: EvalProtocol
    spec: GroundTruthSpec
    is_gray: bool = False

    @property
    def header(self) -> str:
        """What was done and how results are measured, for the score table's header, e.g.
        ``bicubic ÷4; PSNR/SSIM on Y, crop 4, uint8 outputs``."""
        p = self.protocol
        return f"{self.spec.describe()}; PSNR/SSIM on {p.space.upper()}, crop {p.crop}, uint8 outputs"


def protocol_for(spec: GroundTruthSpec) -> EvalProtocol:
    """The benchmark protocol of ``spec``'s task, carrying its parameters (sigma, quality, scale, seed)."""
    step = spec.step
    if isinstance(step, Noise):
        return EvalProtocol(Task.DENOISE, sigma=step.sigma[0], seed=spec.seed)
    if isinstance(step, Downscale):
        return EvalProtocol(Task.SR, scale=step.scale, seed=spec.seed)
    if isinstance(step, Jpeg):
        return EvalProtocol(Task.JPEG, quality=step.quality[0], seed=spec.seed)
    if isinstance(step, RealPhoto):
        return EvalProtocol(Task.REALPHOTO, scale=step.scale, seed=spec.seed)
    return EvalProtocol(Task.DERAIN, seed=spec.seed)


def make_ground_truth(clean: np.ndarray, spec: GroundTruthSpec, *, is_gray: bool = False) -> GroundTruthPair:
    """Degrade ``clean`` (float32 HxWx3 in [0, 1]) as ``spec`` says, seeded by ``spec.seed``.

    ``is_gray``: the photo is grey (scored on its grey channel, as Set12/Classic5). Raises
    ``ValueError`` when the image is smaller than the scale.
    """
    degraded, reference = degrade(clean, spec.degradation, np.random.default_rng(spec.seed))
    return GroundTruthPair(degraded, reference, protocol_for(spec), spec, is_gray)


def score_result(result: np.ndarray, pair: GroundTruthPair) -> tuple[float, float]:
    """(PSNR in dB, SSIM) of ``result`` (float32 HxWx3, the reference's size) under ``pair.protocol``.

    PSNR is ``inf`` for a perfect result. Raises ``ValueError`` when the sizes differ or the image is
    smaller than the SSIM window (11x11 after the crop).
    """
    return score(result, pair.reference, pair.protocol, pair.is_gray)


def score_input(pair: GroundTruthPair) -> tuple[str, float, float]:
    """The baseline row: (label, PSNR, SSIM) of the degraded input itself; for SR, upscaled with
    MATLAB bicubic (the papers' bicubic baseline)."""
    scale = pair.spec.scale
    if scale == 1:
        return ("input (degraded)", *score_result(pair.degraded, pair))
    upscaled = imresize(
        np.clip(pair.degraded, 0.0, 1.0).astype(np.float32), output_shape=pair.reference.shape[:2]
    )
    return (f"input (bicubic ×{scale})", *score_result(upscaled, pair))


def score_rows(
    pair: GroundTruthPair, results: Sequence[tuple[str, np.ndarray]], *, with_input: bool = True
) -> list[tuple[str, float, float]]:
    """The score table: ``(label, PSNR, SSIM)`` for the degraded input (when ``with_input``), then for
    each ``(label, restored image)`` in ``results``, in order."""
    rows = [score_input(pair)] if with_input else []
    rows += [(label, *score_result(image, pair)) for label, image in results]
    return rows
