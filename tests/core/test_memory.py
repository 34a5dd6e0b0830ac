"""``core.memory.release_free_heap``: freed heap pages go back to the system (glibc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from irstudio.core.memory import release_free_heap


def test_it_never_fails() -> None:
    assert release_free_heap() in (True, False)


SCENARIO = """
import ctypes, numpy as np
from pathlib import Path
from irstudio.core.memory import release_free_heap

def resident_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

first = np.ones(3 * 2**20, np.float32)  # 12 MiB: mmapped; freeing it raises glibc's mmap threshold
del first
blocks, pins = [], []
for _ in range(8):  # now from the heap (96 MiB), each followed by a small live block
    blocks.append(np.ones(3 * 2**20, np.float32))
    pins.append(np.ones(8192, np.uint8))
del blocks
freed = resident_mib()  # still resident: the pins keep the heap from shrinking on its own
trimmed = release_free_heap()
print(trimmed, freed, resident_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim is Linux-only")
def test_freed_tile_sized_blocks_leave_the_resident_set() -> None:
    """After a large block is freed, glibc serves same-sized blocks from the heap and keeps them
    resident once freed; trimming returns them (the runner calls it after every tile). Run in a
    fresh interpreter: the heap of a long test session is shaped by everything before."""
    done = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, check=True)
    trimmed, freed, after = done.stdout.split()
    if trimmed != "True":
        pytest.skip("not glibc")
    assert float(after) < float(freed) - 48, (freed, after)
