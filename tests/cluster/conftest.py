"""Fixtures of the cluster tests: a private Ray on loopback (when Ray is installed), small photos.

``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set before anything imports Ray, so the test cluster's
node address is loopback (nothing listens on the network)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

PHOTOS = 6


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    """A local Ray of 2 CPUs on loopback for the module, shut down after it; the ``ray`` module."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install irstudio[cluster])")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=True)
    try:
        yield ray
    finally:
        ray.shutdown()


def make_photos(folder: Path, count: int = PHOTOS, *, names: tuple[str, ...] = ()) -> list[Path]:
    """``count`` small noisy RGB PNGs (sizes differ) in ``folder`` (then ``names``, if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    stems = names or tuple(f"photo{n}" for n in range(count))
    paths = []
    for n, stem in enumerate(stems):
        pixels = rng.integers(0, 256, (40 + 4 * n, 52, 3), dtype=np.uint8)
        path = folder / f"{stem}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths
