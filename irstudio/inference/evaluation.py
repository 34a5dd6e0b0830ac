"""Benchmark evaluation: build (input, target) pairs for a task, restore, measure as the papers do.

Protocol (core/metrics): outputs are rounded to uint8; SR crops ``scale`` pixels at each border and
measures Y (BT.601 studio range); JPEG and deraining measure Y with no crop; colour denoising
measures RGB. The blind real-photo test degrades each clean image with the second-order real-photo
pipeline (``Degradation.for_task("realphoto", scale)``) seeded by ``seed + index``, and measures RGB
(colour noise is part of what it restores), cropping ``scale`` pixels when it enlarges. Gray
sources (Set12, Classic5) are measured on their gray channel against the output's BT.601 luma.
Degradations are seeded per image (``seed + index``), so runs repeat exactly.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.core.image_io import READ_SUFFIXES, read_image, to_uint8
from irstudio.core.metrics import psnr, ssim
from irstudio.data.degradations import add_gaussian_noise, bicubic_downscale, jpeg_compress
from irstudio.data.pipeline import Degradation, degrade
from irstudio.inference.runner import TilePlan, restore
from irstudio.models.spec import Task


class EvalDataError(ValueError):
    """The evaluation folder does not hold what the task needs; the message says what was expected."""


@dataclass(frozen=True)
class EvalProtocol:
    """How one benchmark is degraded and measured. ``metric_space`` None: the task's default."""

    task: Task
    scale: int = 1
    sigma: float = 25.0
    quality: int = 10
    seed: int = 0
    metric_space: str | None = None

    @property
    def space(self) -> str:
        if self.metric_space is not None:
            return self.metric_space
        return "rgb" if self.task in (Task.DENOISE, Task.REALPHOTO) else "y"

    @property
    def crop(self) -> int:
        return self.scale if self.task in (Task.SR, Task.REALPHOTO) and self.scale > 1 else 0

    def describe(self) -> str:
        what = {
            Task.SR: f"x{self.scale}, LR = MATLAB bicubic",
            Task.DENOISE: f"AWGN σ={self.sigma:g} (seed {self.seed})",
            Task.JPEG: f"JPEG q={self.quality} (OpenCV)",
            Task.DERAIN: "rainy/norain pairs",
            Task.REALPHOTO: (
                f"real-photo degradation{f' x{self.scale}' if self.scale > 1 else ''} "
                f"(second order, seed {self.seed} + image index)"
            ),
        }[self.task]
        return f"{what}; PSNR/SSIM on {self.space.upper()}, crop {self.crop}, uint8 outputs"


@dataclass(frozen=True)
class EvalCase:
    """One benchmark image: the clean target and, when the set provides it, the degraded input."""

    name: str
    target: Path
    given_input: Path | None = None


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float


@dataclass(frozen=True)
class EvalSummary:
    protocol: str
    scores: tuple[ImageScore, ...] = field(default_factory=tuple)

    @property
    def psnr(self) -> float:
        return float(np.mean([s.psnr for s in self.scores]))

    @property
    def ssim(self) -> float:
        return float(np.mean([s.ssim for s in self.scores]))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_SUFFIXES and p.is_file())


def _number_key(path: Path) -> str:
    digits = re.findall(r"\d+", path.stem)
    return digits[-1].lstrip("0") if digits else path.stem


def _sr_cases(data: Path, scale: int) -> list[EvalCase]:
    hr_dir = data / "HR" if (data / "HR").is_dir() else data
    lr_dir = data / "LR_bicubic" / f"X{scale}"
    cases = []
    for hr in _images_in(hr_dir):
        lr = lr_dir / f"{hr.stem}x{scale}{hr.suffix}"
        cases.append(EvalCase(hr.stem, hr, lr if lr.is_file() else None))
    return cases


def _derain_cases(data: Path) -> list[EvalCase]:
    rainy_dir, clean_dir = data / "rainy", data / "norain"
    if not (rainy_dir.is_dir() and clean_dir.is_dir()):
        raise EvalDataError(f"{data}: a deraining set needs rainy/ and norain/ folders")
    clean_by_key = {_number_key(p): p for p in _images_in(clean_dir)}
    cases = []
    for rainy in _images_in(rainy_dir):
        clean = clean_by_key.get(_number_key(rainy))
        if clean is None:
            raise EvalDataError(f"{rainy.name}: no matching image in {clean_dir}")
        cases.append(EvalCase(clean.stem, clean, rainy))
    return cases


def find_cases(data: str | Path, protocol: EvalProtocol, ids: Sequence[str] | None = None) -> list[EvalCase]:
    """The benchmark images in ``data`` for ``protocol.task``; ``ids`` keeps only those stems."""
    data = Path(data)
    if not data.is_dir():
        raise EvalDataError(f"{data}: no such folder")
    if protocol.task is Task.SR:
        cases = _sr_cases(data, protocol.scale)
    elif protocol.task is Task.DERAIN:
        cases = _derain_cases(data)
    else:
        folder = data / "HR" if (data / "HR").is_dir() else data
        cases = [EvalCase(p.stem, p) for p in _images_in(folder)]
    if ids is not None:
        wanted = set(ids)
        cases = [c for c in cases if c.name in wanted]
        missing = wanted - {c.name for c in cases}
        if missing:
            raise EvalDataError(f"{data}: ids not found: {', '.join(sorted(missing)[:5])}")
    if not cases:
        raise EvalDataError(f"{data}: no images found for task '{protocol.task.value}'")
    return cases


def make_pair(case: EvalCase, protocol: EvalProtocol, index: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(input, target, target_is_gray) for one case, float32 HxWx3 in [0, 1]."""
    target = read_image(case.target)
    clean = target.rgb
    is_gray = target.info.mode in {"L", "LA", "I;16", "I"}
    rng = np.random.default_rng(protocol.seed + index)
    if protocol.task is Task.SR:
        s = protocol.scale
        clean = clean[: clean.shape[0] - clean.shape[0] % s, : clean.shape[1] - clean.shape[1] % s]
        degraded = read_image(case.given_input).rgb if case.given_input else bicubic_downscale(clean, s)
    elif protocol.task is Task.DENOISE:
        degraded = add_gaussian_noise(clean, protocol.sigma, rng)
    elif protocol.task is Task.JPEG:
        degraded = jpeg_compress(clean, protocol.quality)
    elif protocol.task is Task.REALPHOTO:
        degraded, clean = degrade(clean, Degradation.for_task(Task.REALPHOTO, protocol.scale), rng)
    else:
        degraded = read_image(case.given_input).rgb
    return degraded, clean, is_gray


def _luma_uint8(rgb: np.ndarray) -> np.ndarray:
    """BT.601 full-range luma of a [0,1] RGB image, rounded to uint8 (for gray benchmarks)."""
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return to_uint8(luma)


def score(
    output: np.ndarray, target: np.ndarray, protocol: EvalProtocol, is_gray: bool
) -> tuple[float, float]:
    """(PSNR, SSIM) of ``output`` against ``target`` under ``protocol`` (both [0,1] HxWx3)."""
    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} differ in size")
    if is_gray and protocol.space == "y":
        out_u8, ref_u8, space = _luma_uint8(output), to_uint8(target[..., 0]), "y"
    else:
        out_u8, ref_u8, space = to_uint8(output), to_uint8(target), protocol.space
    kwargs = {"crop": protocol.crop, "space": space}
    return psnr(out_u8, ref_u8, **kwargs), ssim(out_u8, ref_u8, **kwargs)


def evaluate(
    model: nn.Module,
    cases: Sequence[EvalCase],
    protocol: EvalProtocol,
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Generator[ImageScore, None, EvalSummary]:
    """Restore and score every case; yields each ``ImageScore``, returns the ``EvalSummary``."""
    scores = []
    for index, case in enumerate(cases):
        cancel.raise_if_cancelled()
        result = score_case(model, case, index, protocol, plan, cancel)
        scores.append(result)
        yield result
    return EvalSummary(protocol.describe(), tuple(scores))


def score_case(
    model: nn.Module,
    case: EvalCase,
    index: int,
    protocol: EvalProtocol,
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ImageScore:
    """Degrade ``case`` (seeded by ``protocol.seed + index``: ``index`` is its place in the
    benchmark), restore it and score it. The same numbers wherever it runs (``evaluate``, or a
    cluster worker given the same index)."""
    degraded, clean, is_gray = make_pair(case, protocol, index)
    output = restore(model, degraded, plan, cancel)
    psnr_value, ssim_value = score(output, clean, protocol, is_gray)
    return ImageScore(case.name, psnr_value, ssim_value)
