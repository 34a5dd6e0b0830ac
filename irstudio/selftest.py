"""``irstudio --self-test``: check that this installation works, and say what was checked.

What is checked, in order (each check is independent: one failing does not stop the others):

1. Devices: every device ``core.device.list_devices`` finds (the CPU always) runs a small tensor op.
2. The built-in sample image (``resources/sample.png``, found through ``irstudio.paths``, so inside
   a PyInstaller bundle too) decodes to float32 RGB.
3. Models. With shipped weights (entries in ``weights/manifest.json``): each file's sha256 matches
   the manifest, the weights load into their registry preset, and the model restores the sample
   image tile by tile (output of the expected size, finite). With no shipped weights: every
   classical baseline restores the sample, and the smallest random-init preset of each
   architecture a 48x48 crop of it, instead (the identity baseline must return the sample bit for
   bit), and the report says so.

The report goes to ``stream`` line by line as the checks run; ``run_self_test`` returns a
``SelfTestReport`` whose ``passed`` is True only when every check passed. Nothing here imports Qt:
the app's Help menu shows the same report. No check raises: a failure becomes a FAIL line naming
the error.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from irstudio import __version__, paths
from irstudio.core import DeviceInfo, list_devices, resolve_device
from irstudio.core.image_io import read_image
from irstudio.inference import plan_for, restore
from irstudio.models import REGISTRY, ModelSpec, resolve_id
from irstudio.models.loading import ShippedWeights, load_model, read_manifest, verify_weights
from irstudio.qt_platform import install_hint, missing_qt_libraries, uses_xcb

__all__ = ["SAMPLE_NAME", "CheckResult", "SelfTestReport", "run_self_test", "smallest_presets"]

SAMPLE_NAME = "sample.png"
"""The built-in test image in resources/: 128x96 8-bit RGB, made with numpy (docs/HARDENING.md)."""

SELFTEST_TILE = 64
"""Tile side used on the sample, so that the tiled path (several tiles, seams) is exercised too."""

RANDOM_INIT_CROP = 48
"""Side of the centre crop that random-init presets restore (they only prove the code runs; the
larger transformers take seconds per 64x64 on a 2-core CPU)."""


@dataclass(frozen=True)
class CheckResult:
    """One check: a short ``name``, whether it ``passed``, a one-line ``detail``, wall ``seconds``."""

    name: str
    passed: bool
    detail: str
    seconds: float

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        return f"  {mark}  {self.name}: {self.detail} ({self.seconds:.2f} s)"


@dataclass
class SelfTestReport:
    """Header lines, notes and checks, in the order they were printed."""

    lines: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when at least one check ran and every check passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        total = len(self.checks)
        if self.passed:
            return f"self-test passed: {total} of {total} checks"
        return f"self-test FAILED: {len(self.failures)} of {total} checks failed"

    def text(self) -> str:
        return "\n".join([*self.lines, self.summary()])


class _Recorder:
    """Runs checks, catching every exception, and echoes each line to ``stream`` as it is made."""

    def __init__(self, stream: TextIO | None) -> None:
        self.report = SelfTestReport()
        self.stream = stream

    def say(self, line: str) -> None:
        self.report.lines.append(line)
        self.echo(line)

    def echo(self, line: str) -> None:
        if self.stream is not None:
            print(line, file=self.stream, flush=True)

    def check(self, name: str, body: Callable[[], str]) -> bool:
        """Run ``body`` (returns the detail, raises on failure) and record the outcome."""
        started = time.perf_counter()
        try:
            detail, passed = body(), True
        except Exception as error:  # a self-test reports, it never crashes
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            detail, passed = f"{type(error).__name__}: {message}", False
        result = CheckResult(name, passed, detail, time.perf_counter() - started)
        self.report.checks.append(result)
        self.say(result.line())
        return passed


def _header() -> list[str]:
    bundled = "yes" if getattr(sys, "frozen", False) else "no"
    return [
        f"IR Studio {__version__} self-test",
        f"  Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"{platform.system()} {platform.machine()}, bundled: {bundled}",
        f"  install root: {paths.install_root()}",
    ]


def _device_works(device: DeviceInfo) -> str:
    """A small matmul on ``device`` gives the known answer."""
    a = torch.arange(12, dtype=torch.float32, device=device.spec).reshape(3, 4)
    product = (a @ a.T).sum().item()
    if product != 1134.0:
        raise RuntimeError(f"a 3x4 matmul gave {product}, expected 1134")
    return device.describe()


def _load_sample(sample: Path) -> np.ndarray:
    loaded = read_image(sample)
    rgb = loaded.rgb
    if rgb.dtype != np.float32 or rgb.ndim != 3 or rgb.shape[2] != 3 or not np.isfinite(rgb).all():
        raise ValueError(f"{sample.name} decoded to {rgb.dtype} {rgb.shape}, expected float32 (H, W, 3)")
    return rgb


def _restore_sample(model: torch.nn.Module, spec: ModelSpec, device: DeviceInfo, rgb: np.ndarray) -> str:
    """Restore ``rgb`` tiled; check size and finiteness; return a detail line."""
    plan = plan_for(spec, device, tile=max(SELFTEST_TILE, spec.tile_multiple))
    started = time.perf_counter()
    output = restore(model, rgb, plan)
    seconds = time.perf_counter() - started
    expected = (rgb.shape[0] * spec.scale, rgb.shape[1] * spec.scale, 3)
    if output.shape != expected:
        raise ValueError(f"output shape {output.shape}, expected {expected}")
    if not np.isfinite(output).all():
        raise ValueError("output holds NaN or infinite values")
    if spec.id == "identity" and not np.array_equal(output, rgb):
        raise ValueError("the identity baseline changed the image")
    height, width = rgb.shape[:2]
    return f"{width}x{height} -> {expected[1]}x{expected[0]} on {device.spec} in {seconds:.2f} s"


def smallest_presets(specs: Iterable[ModelSpec]) -> list[ModelSpec]:
    """The untrained learned preset (no shipped weights) with the fewest parameters of each
    architecture, in registry order."""
    best: dict[str, ModelSpec] = {}
    for spec in specs:
        untrained = spec.learned and spec.weights is None
        if untrained and (spec.arch not in best or spec.params < best[spec.arch].params):
            best[spec.arch] = spec
    return list(best.values())


def _check_shipped(recorder: _Recorder, entry: ShippedWeights, device: DeviceInfo, rgb: np.ndarray) -> None:
    def body() -> str:
        verify_weights(entry.path, entry.sha256)
        spec = resolve_id(entry.preset)
        model = load_model(spec, entry.path)
        return f"sha256 ok, loads into {spec.id}, " + _restore_sample(model, spec, device, rgb)

    recorder.check(f"model {entry.id}", body)


def _centre_crop(rgb: np.ndarray, side: int) -> np.ndarray:
    top, left = max(0, (rgb.shape[0] - side) // 2), max(0, (rgb.shape[1] - side) // 2)
    return np.ascontiguousarray(rgb[top : top + side, left : left + side])


def _check_unshipped(recorder: _Recorder, spec: ModelSpec, device: DeviceInfo, rgb: np.ndarray) -> None:
    """A baseline on the whole sample; a random-init preset (code check only) on a small crop."""
    kind = "baseline" if not spec.learned else "random-init preset"
    image = rgb if not spec.learned else _centre_crop(rgb, RANDOM_INIT_CROP)

    def body() -> str:
        return _restore_sample(load_model(spec), spec, device, image)

    recorder.check(f"{kind} {spec.id}", body)


def _check_models(
    recorder: _Recorder, manifest: Path, device: DeviceInfo | None, rgb: np.ndarray | None
) -> None:
    entries: list[ShippedWeights] = []
    if not recorder.check("weights manifest", lambda: _describe_manifest(manifest, entries)):
        return
    if device is None or rgb is None:
        recorder.say("  note: models not run (no usable device or no sample image)")
        return
    if entries:
        for entry in entries:
            _check_shipped(recorder, entry, device, rgb)
        return
    recorder.say(
        "  note: no shipped weights in the manifest; checking every classical baseline and the "
        "smallest random-init preset of each architecture instead"
    )
    baselines = [spec for spec in REGISTRY if not spec.learned]
    for spec in [*baselines, *smallest_presets(REGISTRY)]:
        _check_unshipped(recorder, spec, device, rgb)


def _describe_manifest(manifest: Path, entries: list[ShippedWeights]) -> str:
    entries.extend(read_manifest(manifest).entries)
    where = manifest if manifest.is_file() else f"{manifest} (absent)"
    return f"{len(entries)} shipped model(s) listed in {where}"


def _qt_libraries() -> str:
    """Raises naming the missing libraries and their packages (the app could not open a window)."""
    if not uses_xcb():
        return f"not needed (Qt platform: {os.environ.get('QT_QPA_PLATFORM') or 'native'})"
    missing = missing_qt_libraries()
    if missing:
        raise RuntimeError(install_hint(missing))
    return "the libraries Qt's xcb plugin needs are present"


def run_self_test(
    *,
    device: str = "auto",
    manifest: str | os.PathLike[str] | None = None,
    sample: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
) -> SelfTestReport:
    """Run every check; print each line to ``stream`` (None: silent); return the report.

    ``device``: where models run ("auto" picks as the app does). ``manifest``: a weights manifest
    (default: the installation's). ``sample``: the test image (default: resources/sample.png).
    """
    recorder = _Recorder(stream)
    for line in _header():
        recorder.say(line)
    for found in list_devices():
        recorder.check(f"device {found.spec}", lambda found=found: _device_works(found))
    chosen: DeviceInfo | None = None

    def choose() -> str:
        nonlocal chosen
        chosen = resolve_device(device)
        return f"models run on {chosen.spec}"

    recorder.check("device choice", choose)
    recorder.check("Qt platform libraries", _qt_libraries)
    sample_path = Path(sample) if sample is not None else paths.resources_dir() / SAMPLE_NAME
    rgb: np.ndarray | None = None

    def sample_check() -> str:
        nonlocal rgb
        rgb = _load_sample(sample_path)
        return f"{sample_path} ({rgb.shape[1]}x{rgb.shape[0]})"

    recorder.check("sample image", sample_check)
    manifest_path = Path(manifest) if manifest is not None else paths.manifest_path()
    _check_models(recorder, manifest_path, chosen, rgb)
    recorder.echo(recorder.report.summary())
    return recorder.report


def main(stream: TextIO | None = None) -> int:
    """The ``--self-test`` entry point: print the report to stdout; 0 when all passed, else 1."""
    report = run_self_test(stream=stream or sys.stdout)
    return 0 if report.passed else 1
