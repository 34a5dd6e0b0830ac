"""Wall-clock timing that waits for the device: median of N runs after warm-up.

GPU work is asynchronous; ``synchronize(device)`` waits for CUDA/MPS before the clock is read, so a
timing covers the work and not just its launch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch


def synchronize(device: str | torch.device) -> None:
    """Wait for queued work on ``device`` (no-op on CPU)."""
    kind = torch.device(device).type
    if kind == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(torch.device(device))
    elif kind == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()


def time_once(fn: Callable[[], object], device: str | torch.device = "cpu") -> float:
    """Seconds one call of ``fn`` takes, device work included."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def median_seconds(
    fn: Callable[[], object], device: str | torch.device = "cpu", *, repeat: int = 3, warmup: int = 1
) -> float:
    """Median seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return statistics.median(time_once(fn, device) for _ in range(max(1, repeat)))


def interleaved_medians(
    candidates: Sequence[tuple[str, Callable[[], object]]],
    device: str | torch.device = "cpu",
    *,
    repeat: int = 3,
    warmup: int = 1,
) -> dict[str, float]:
    """Median seconds per named candidate, timed round-robin so that background load on a shared
    machine falls on every candidate alike rather than on whichever ran during a busy spell."""
    for _ in range(warmup):
        for _, fn in candidates:
            fn()
    samples: dict[str, list[float]] = {name: [] for name, _ in candidates}
    for _ in range(max(1, repeat)):
        for name, fn in candidates:
            samples[name].append(time_once(fn, device))
    return {name: statistics.median(values) for name, values in samples.items()}
