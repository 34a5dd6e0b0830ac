"""Crash safety of ``irstudio restore``: a batch killed with SIGKILL midway leaves only complete
outputs (no partial file under an output name, no temporary file), and running the same command
again skips the finished files untouched and completes the rest."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irstudio.core.image_io import read_image
from tests.hardening.corpus import listing

REPO = Path(__file__).resolve().parents[2]
SIZES = {"a": 48, "b": 256, "c": 48}  # b runs ~64 tiles of NL-means: seconds, a window to kill in


def _inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(3)
    paths = []
    for stem, side in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{stem}.png")
        paths.append(folder / f"{stem}.png")
    return paths


def _command(inputs: list[Path], out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "irstudio",
        "restore",
        *map(str, inputs),
        "-m",
        "nlmeans",
        "--tile",
        "32",
        "-o",
        str(out),
    ]


def _wait_for(process: subprocess.Popen, marker: bytes, timeout: float) -> bytes:
    """Read the process's stderr until ``marker`` appears; return what was read."""
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            raise AssertionError(f"{marker!r} never appeared on stderr; got {seen[-2000:]!r}")
        ready, _, _ = select.select([process.stderr], [], [], min(remaining, 0.5))
        if ready:
            seen += os.read(process.stderr.fileno(), 65536)
    return seen


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_batch_killed_midway_leaves_only_complete_outputs_and_resumes(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(_command(inputs, out), stderr=subprocess.PIPE, env=environment)
    try:
        _wait_for(process, b"b.png [", timeout=120)  # a is written, b is between tiles
    finally:
        process.kill()  # SIGKILL: no handler, no cleanup
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert listing(out) == ["a_nlmeans.png"]  # nothing partial, no temporary file
    finished = out / "a_nlmeans.png"
    assert read_image(finished).rgb.shape == (48, 48, 3)
    before = (finished.read_bytes(), finished.stat().st_mtime_ns)

    rerun = subprocess.run(
        _command(inputs, out), capture_output=True, text=True, env=environment, timeout=240
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "a_nlmeans.png: exists, skipped" in rerun.stderr
    assert (finished.read_bytes(), finished.stat().st_mtime_ns) == before  # not redone
    assert listing(out) == ["a_nlmeans.png", "b_nlmeans.png", "c_nlmeans.png"]
    for stem, side in SIZES.items():
        assert read_image(out / f"{stem}_nlmeans.png").rgb.shape == (side, side, 3)
