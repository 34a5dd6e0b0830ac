"""``core.memory.release_free_heap``: freed heap pages go back to the system (glibc)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from irstudio.core.memory import release_free_heap


def _resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_it_never_fails() -> None:
    assert release_free_heap() in (True, False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim is Linux-only")
def test_freed_tile_sized_blocks_leave_the_resident_set() -> None:
    """After a large block is freed, glibc serves same-sized blocks from the heap and keeps them
    resident once freed; trimming returns them (the runner calls it after every tile)."""
    if not release_free_heap():
        pytest.skip("not glibc")
    first = np.ones(3 * 2**20, np.float32)  # 12 MiB: mmapped, and freeing it raises the threshold
    del first
    blocks, pins = [], []
    for _ in range(8):  # now from the heap (96 MiB), each followed by a small live block
        blocks.append(np.ones(3 * 2**20, np.float32))
        pins.append(np.ones(8192, np.uint8))
    del blocks
    freed = _resident_mib()  # still resident: the pins keep the heap from shrinking on its own
    release_free_heap()
    after = _resident_mib()
    assert after < freed - 48, (freed, after)
    assert pins
