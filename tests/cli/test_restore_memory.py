"""Peak memory of a 24-megapixel restore: the 8-bit photo in and out plus the tile, never float32 copies."""

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
import irstudio.cli.restore_cmd

def kib(key):
    return re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)

print("VmRSS", kib("VmRSS"))
code = main(sys.argv[1:])
print("VmHWM", kib("VmHWM"))
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM")
def test_6000x4000_identity_restore_adds_less_than_one_float32_photo(tmp_path: Path) -> None:
    """From decoding to writing, the restore adds less than one float32 copy of the photo (275 MiB):
    measured about 230 MiB, most of it Pillow's JPEG decoding (4 bytes a pixel, then the array).
    With float32 input and output arrays it added about 660 MiB."""
    y, x = np.mgrid[0:4000, 0:6000].astype(np.uint16)
    pixels = np.stack([x * 255 // 6000, y * 255 // 4000, (x + y) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=90)
    del pixels, x, y
    args = [str(tmp_path / "big.jpg"), "--model", "identity", "--tile", "512"]
    result = subprocess.run([sys.executable, "-c", MEASURE, "restore", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    before = int(result.stdout.split("VmRSS")[1].split()[0])
    peak = int(result.stdout.split("VmHWM")[-1])
    added = (peak - before) * 1024
    assert added < 6000 * 4000 * 3 * 4, f"the restore added {added / 2**20:.0f} MiB"
    assert Image.open(tmp_path / "big_identity.png").size == (6000, 4000)
