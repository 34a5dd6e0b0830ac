"""Reduced precision per model on GPUs: probe bf16/fp16 against fp32 on a test crop, cache the verdict.

A reduced precision passes the probe when the model's output under ``torch.autocast`` on the test crop
is finite everywhere and within ``MIN_PSNR_DB`` (45 dB) of the fp32 output (PSNR over [0, 1]).
Passing candidates are then timed against fp32 (on the crop repeated to 512 px on GPUs), and the
fastest of them is chosen, or fp32 when none is faster. Only precisions the model allows
(``ModelSpec.half_dtypes``) and the device supports are probed; Swin-family models overflow fp16
(../shared/docs/performance.md §5), which is why each model allows only what its architecture
tolerates and the probe checks anyway. Precision names and their torch dtypes are
``core.precision.Precision``.

On the CPU the policy is fp32 under torch, without probing: autocast gains little there and costs
visible 8-bit error (docs/PERFORMANCE.md, "Reduced precision"); a CPU with native bf16 gets it
through OpenVINO's bf16 graph instead, checked per graph (``backends.openvino_rt``).
``probe_precision`` itself runs on any device, so it can be tested and used explicitly there.

Verdicts are cached in ``paths.user_state_dir() / "precision-cache.json"`` per (model, weights
fingerprint, device and its name, allowed precisions): trained weights can overflow where random
ones did not, so new weights are probed again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.precision import REDUCED_PRECISION_NAMES, Precision
from irstudio.inference.backends.cache import (
    PRECISION_CACHE_NAME,
    VerdictCache,
    default_cache_path,
    make_key,
)
from irstudio.inference.backends.exported import weights_fingerprint
from irstudio.inference.backends.timing import interleaved_medians

MIN_PSNR_DB = 45.0
PROBE_SIDE = 128
TIMING_SIDE = 512


@dataclass(frozen=True)
class PrecisionVerdict:
    """The precision to run, what each probed candidate scored, and why the others were rejected.

    ``psnr_db``: candidate -> PSNR against fp32 on the crop (inf when identical). ``speedup``:
    candidate -> fp32 seconds / candidate seconds (only for candidates that passed). ``note``: why
    no probe ran, when none did.
    """

    dtype: str
    psnr_db: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    speedup: dict[str, float] = field(default_factory=dict)
    note: str = ""
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "psnr_db": {k: (v if math.isfinite(v) else "inf") for k, v in self.psnr_db.items()},
            "rejected": self.rejected,
            "speedup": self.speedup,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> PrecisionVerdict:
        return cls(
            dtype=str(entry["dtype"]),
            psnr_db={k: float(v) for k, v in entry.get("psnr_db", {}).items()},
            rejected=dict(entry.get("rejected", {})),
            speedup={k: float(v) for k, v in entry.get("speedup", {}).items()},
            note=str(entry.get("note", "")),
            cached=True,
        )


def psnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR of ``test`` against ``reference`` (same shape, values on a [0, 1] scale); inf when equal."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _synthetic_crop(side: int) -> np.ndarray:
    """Gradients, hard edges, fine stripes and mild noise: smooth and busy areas in one crop."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / max(1, side - 1)
    noise = np.random.default_rng(0).normal(0.0, 0.03, (side, side, 3)).astype(np.float32)
    red = 0.2 + 0.6 * x
    green = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.09, 0.85, 0.15).astype(np.float32)
    blue = 0.5 + 0.4 * np.sin(40.0 * x * y).astype(np.float32)
    return np.clip(np.stack([red, green, blue], axis=-1) + noise, 0.0, 1.0)


def probe_crop(side: int = PROBE_SIDE) -> np.ndarray:
    """The test crop, (side, side, 3) float32 in [0, 1]: the bundled sample photo resized to ``side``
    when it is readable, else a synthetic pattern."""
    try:
        import cv2
        from PIL import Image

        from irstudio.paths import resources_dir

        with Image.open(resources_dir() / "sample.png") as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC).clip(0, 1))
    except (OSError, ValueError):
        return _synthetic_crop(side)


def supported_half_dtypes(device: str) -> tuple[str, ...]:
    """Reduced precisions the device runs under autocast: CUDA bf16 (when supported) and fp16; MPS
    fp16 and bf16; none on the CPU (policy: fp32 there)."""
    kind = torch.device(device).type
    if kind == "cuda" and torch.cuda.is_available():
        bf16, fp16 = Precision.BF16.value, Precision.FP16.value
        return (bf16, fp16) if torch.cuda.is_bf16_supported() else (fp16,)
    if kind == "mps":
        return (Precision.FP16.value, Precision.BF16.value)
    return ()


def _forward(model: nn.Module, x: torch.Tensor, device: str, dtype: str) -> torch.Tensor:
    with torch.inference_mode(), Precision(dtype).autocast(device):
        return model(x).float()


def probe_precision(model: nn.Module, device: str, dtype: str, crop: np.ndarray) -> tuple[float, str | None]:
    """(PSNR of ``dtype`` vs fp32 on ``crop``, None if it passes else why it fails).

    ``model``: eval mode on ``device``; ``crop``: (H, W, C) float32 in [0, 1]. Fails on any NaN/Inf in
    the reduced-precision output or PSNR below ``MIN_PSNR_DB``; an error raised by the reduced-precision
    run (an op without a half kernel) fails it too, with the error as the reason.
    """
    x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None].to(device)
    reference = _forward(model, x, device, Precision.FP32).cpu().numpy()
    try:
        reduced = _forward(model, x, device, dtype).cpu().numpy()
    except (RuntimeError, NotImplementedError, TypeError) as error:
        return math.nan, f"{dtype} failed to run: {str(error).splitlines()[0][:200]}"
    if not np.isfinite(reduced).all():
        bad = int(np.size(reduced) - np.isfinite(reduced).sum())
        return math.nan, f"{dtype} output has {bad} NaN/Inf values"
    score = psnr_db(np.clip(reference, 0, 1), np.clip(reduced, 0, 1))
    if score < MIN_PSNR_DB:
        return score, f"{dtype} is {score:.1f} dB from fp32 (< {MIN_PSNR_DB:g} dB)"
    return score, None


def _fastest(
    model: nn.Module, device: str, passing: Sequence[str], crop: np.ndarray, repeat: int
) -> tuple[str, dict[str, float]]:
    x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None].to(device)
    names = [Precision.FP32.value, *passing]
    runs = [(name, (lambda name=name: _forward(model, x, device, name))) for name in names]
    seconds = interleaved_medians(runs, device, repeat=repeat, warmup=1)
    speedup = {name: seconds[Precision.FP32] / seconds[name] for name in passing}
    best = min(names, key=seconds.__getitem__)
    return best, speedup


def _timing_crop(crop: np.ndarray, device: str) -> np.ndarray:
    """The crop repeated to at least ``TIMING_SIDE`` on GPUs, where a 128-px crop is too small to keep
    the device busy (launch overhead would hide the difference); the crop itself on the CPU."""
    if torch.device(device).type == "cpu":
        return crop
    reps = max(1, -(-TIMING_SIDE // min(crop.shape[:2])))
    return np.ascontiguousarray(np.tile(crop, (reps, reps, 1)))


def precision_key(model_id: str, fingerprint: str, device: DeviceInfo, candidates: Sequence[str]) -> str:
    return make_key(
        model=model_id,
        weights=fingerprint[:16],
        device=device.spec,
        device_name=device.name,
        candidates=",".join(candidates) or "-",
    )


def choose_precision(
    model: nn.Module,
    *,
    model_id: str,
    allowed: Sequence[str],
    device: DeviceInfo,
    candidates: Sequence[str] | None = None,
    crop: np.ndarray | None = None,
    cache: VerdictCache | None = None,
    repeat: int = 3,
    time_candidates: bool = True,
) -> PrecisionVerdict:
    """The precision ``model`` should run in on ``device``: "fp32", "bf16" or "fp16".

    ``allowed``: what the model tolerates (``ModelSpec.half_dtypes``). ``candidates``: override the
    device's supported list (e.g. to probe on the CPU). With ``time_candidates`` the passing
    candidates must also be faster than fp32; otherwise the best-scoring passing one is chosen.
    ``model`` must be in eval mode on ``device``. Cached per model, weights, device and candidates.
    """
    pool = supported_half_dtypes(device.spec) if candidates is None else tuple(candidates)
    probed = [name for name in pool if name in allowed and name in REDUCED_PRECISION_NAMES]
    if not probed:
        if candidates is None and device.spec == "cpu":
            why = "the CPU runs fp32"
        else:
            why = f"no reduced precision both allowed for {model_id} and run on {device.spec}"
        return PrecisionVerdict(Precision.FP32.value, note=why)
    cache = cache if cache is not None else VerdictCache(default_cache_path(PRECISION_CACHE_NAME))
    key = precision_key(model_id, weights_fingerprint(model), device, probed)
    entry = cache.get(key)
    if entry is not None:
        return PrecisionVerdict.from_json(entry)
    crop = probe_crop() if crop is None else crop
    scores: dict[str, float] = {}
    rejected: dict[str, str] = {}
    for name in probed:
        scores[name], reason = probe_precision(model, device.spec, name, crop)
        if reason is not None:
            rejected[name] = reason
    passing = [name for name in probed if name not in rejected]
    speedup: dict[str, float] = {}
    if not passing:
        chosen = Precision.FP32.value
    elif time_candidates:
        chosen, speedup = _fastest(model, device.spec, passing, _timing_crop(crop, device.spec), repeat)
    else:
        chosen = max(passing, key=scores.__getitem__)
    verdict = PrecisionVerdict(chosen, scores, rejected, speedup)
    cache.put(key, verdict.to_json())
    return verdict
