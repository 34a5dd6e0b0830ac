"""Peak memory of a 24-megapixel restore is bounded by the tile, not a multiple of the image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# VmHWM is the child's own high-water mark since exec (ru_maxrss would include the forked pytest).
MEASURE = """
import re, sys
from irstudio.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("VmHWM", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM")
def test_6000x4000_identity_restore_stays_under_1_5_gb(tmp_path: Path) -> None:
    y, x = np.mgrid[0:4000, 0:6000].astype(np.uint16)
    pixels = np.stack([x * 255 // 6000, y * 255 // 4000, (x + y) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=90)
    del pixels, x, y
    args = [str(tmp_path / "big.jpg"), "--model", "identity", "--tile", "512"]
    result = subprocess.run([sys.executable, "-c", MEASURE, "restore", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    peak_mib = int(result.stdout.split("VmHWM")[-1]) / 1024
    assert peak_mib < 1.5 * 1024, f"peak RSS {peak_mib:.0f} MiB"
    assert Image.open(tmp_path / "big_identity.png").size == (6000, 4000)
