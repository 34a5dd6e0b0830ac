"""The named benchmarks shipped weights are scored on, each as one ``irstudio eval`` command.

``benchmarks_for(task, scale)`` lists them: SR → Set5, Set14, B100 at the scale; colour denoising →
CBSD68 (the 68 ids of ``bench/denoise/CBSD68_ids.txt`` taken from ``bench/sr/B100/HR``) at
σ 15/25/50; JPEG → Classic5 at quality 10/20/30/40; deraining → Rain12; real photos (blind) →
CBSD68 at x1, Set14 and B100 at x2/x4, each image degraded by the seeded real-photo pipeline.
``Benchmark.argv(model)`` gives the ``eval`` arguments with paths under a data root (default
``../shared/data``, as the README's commands are run from the repository root),
``Benchmark.command(model)`` the line to print. The baseline each is compared with: bicubic for SR,
the classical chain for real photos (non-local means, + bicubic when enlarging), else the degraded
input itself (``identity``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from irstudio.models.spec import Task

DEFAULT_DATA_ROOT = "../shared/data"


@dataclass(frozen=True)
class Benchmark:
    """One scored setting: ``folder`` (relative to the data root) with the task's parameters."""

    name: str
    task: Task
    folder: str
    scale: int = 1
    sigma: float | None = None
    quality: int | None = None
    ids: str | None = None

    def argv(self, model_id: str, data_root: str = DEFAULT_DATA_ROOT) -> list[str]:
        """``eval`` arguments (without the program name) that score ``model_id`` here."""
        root = PurePosixPath(data_root)
        args = ["eval", "--model", model_id, "--data", str(root / self.folder), "--task", self.task.value]
        if self.task is Task.SR or self.scale > 1:
            args += ["--scale", str(self.scale)]
        if self.sigma is not None:
            args += ["--sigma", f"{self.sigma:g}"]
        if self.quality is not None:
            args += ["--quality", str(self.quality)]
        if self.ids is not None:
            args += ["--ids", str(root / self.ids)]
        return args

    def command(self, model_id: str, data_root: str = DEFAULT_DATA_ROOT) -> str:
        """The shell line that reproduces the score, e.g. ``irstudio eval --model m --data ...``."""
        return shlex.join(["irstudio", *self.argv(model_id, data_root)])

    @property
    def baseline(self) -> str:
        """The registry id every learned model here is compared with: bicubic for SR, the classical
        chain for real photos (non-local means, then bicubic when it enlarges), else the input."""
        if self.task is Task.REALPHOTO:
            return "nlmeans" if self.scale == 1 else f"nlmeans-bicubic-x{self.scale}"
        return f"bicubic-x{self.scale}" if self.task is Task.SR else "identity"


def _sr(scale: int) -> tuple[Benchmark, ...]:
    return tuple(
        Benchmark(f"{name} x{scale}", Task.SR, f"bench/sr/{name}", scale=scale)
        for name in ("Set5", "Set14", "B100")
    )


def _denoise() -> tuple[Benchmark, ...]:
    return tuple(
        Benchmark(
            f"CBSD68 σ{sigma}",
            Task.DENOISE,
            "bench/sr/B100",
            sigma=float(sigma),
            ids="bench/denoise/CBSD68_ids.txt",
        )
        for sigma in (15, 25, 50)
    )


def _jpeg() -> tuple[Benchmark, ...]:
    return tuple(
        Benchmark(f"Classic5 q{quality}", Task.JPEG, "bench/jpeg/Classic5", quality=quality)
        for quality in (10, 20, 30, 40)
    )


def _real_photo(scale: int) -> tuple[Benchmark, ...]:
    if scale == 1:
        return (
            Benchmark(
                "CBSD68 real photo", Task.REALPHOTO, "bench/sr/B100", ids="bench/denoise/CBSD68_ids.txt"
            ),
        )
    return tuple(
        Benchmark(f"{name} real photo x{scale}", Task.REALPHOTO, f"bench/sr/{name}", scale=scale)
        for name in ("Set14", "B100")
    )


def benchmarks_for(task: Task | str, scale: int = 1) -> tuple[Benchmark, ...]:
    """The benchmarks a model for ``task`` (at ``scale`` for SR and real photos) is scored on, in
    report order."""
    task = Task(task)
    if task is Task.SR:
        return _sr(scale)
    if task is Task.REALPHOTO:
        return _real_photo(scale)
    if task is Task.DENOISE:
        return _denoise()
    if task is Task.JPEG:
        return _jpeg()
    return (Benchmark("Rain12", Task.DERAIN, "bench/derain/Rain12"),)
