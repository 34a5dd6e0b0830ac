"""Memory of this process and its devices: measure it, know what is free, give freed heap back.

``resident_bytes``/``peak_resident_bytes``: the process's resident size now and its high-water mark.
``PeakMeter``/``measure_peak``: the peak a block adds on a device, in bytes, on
- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (minus what was
  allocated before);
- MPS: ``torch.mps.driver_allocated_memory`` after the pass minus before (the caching allocator keeps
  the pass's blocks, so this approximates the pool's high-water mark; MPS has no peak counter);
- CPU: the process's resident high-water mark (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``)
  minus the resident size before; elsewhere a thread samples the resident size every millisecond
  (needs ``psutil``), else the CPU is not measured.
``memory_budget``: the bytes a forward pass may use on a device now.

``release_free_heap`` gives freed heap memory back to the operating system (glibc's ``malloc_trim``;
elsewhere a no-op). ``collect_garbage`` is the only way code below the GUI runs Python's cyclic
collector: on the main thread, or where automatic collection is on. The desktop app turns automatic
collection off and collects on its main thread (gui/garbage.py), because garbage Qt objects freed
on a worker thread crash Qt later; so on the app's worker lanes it does nothing.

Tiled restoration allocates and frees tile-sized arrays (model activations, tile outputs, blend
weights) over and over. glibc raises its mmap threshold after a large block is freed, so later
blocks of that size come from the heap, and freed heap pages stay resident: the process's resident
size then grows with the number of tiles instead of staying at one tile's working set (measured
with ``irstudio bench --memory``: ASID x4 at tile 256, working set 364 MiB at 0.375 MP but 938 MiB
at 1.5 MP before trimming). ``release_free_heap()`` returns those pages to the system after a tile.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import re
import sys
import threading
from collections.abc import Callable, Iterator

import torch

__all__ = [
    "PeakMeter",
    "collect_garbage",
    "measure_peak",
    "memory_budget",
    "peak_resident_bytes",
    "release_free_heap",
    "resident_bytes",
]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the running process, or None (not Linux, or not glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Return free heap pages to the operating system; True when it could (glibc), else False.

    About 1 ms; the pages it returns are faulted in again when next used (measured: restoring
    0.25 MP with ASID x4 on 1 CPU thread took 18.6 s with a trim after every tile, 17.1 s without;
    the resident peak at 1.5 MP fell from 2108 to 1524 MiB)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            found = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) if found else None


def _reset_peak_rss() -> bool:
    """Reset the Linux resident high-water mark to the current size; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def resident_bytes() -> int | None:
    """The process's resident set size now (Linux /proc, else psutil, else None)."""
    kib = _proc_status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def peak_resident_bytes() -> int | None:
    """The process's resident high-water mark (Linux VmHWM; else ru_maxrss), in bytes."""
    kib = _proc_status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@contextlib.contextmanager
def _sampled_peak(result: list[int]) -> Iterator[None]:
    """Sample the resident size every millisecond while the block runs; the maximum goes to ``result``."""
    stop = threading.Event()
    peak = [resident_bytes() or 0]

    def sample() -> None:
        while not stop.wait(0.001):
            peak[0] = max(peak[0], resident_bytes() or 0)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        result.append(max(peak[0], resident_bytes() or 0))


class PeakMeter:
    """Measures the peak memory a block adds on a device (see module doc); ``peak`` in bytes or None.

    ``baseline`` (CPU only): the resident size to measure from; default the size on entering, pass
    an earlier reading to measure several blocks against one reference.
    """

    def __init__(self, device: str, baseline: int | None = None) -> None:
        self.device = torch.device(device)
        self.baseline = baseline
        self.peak: int | None = None
        self._sampled: list[int] = []
        self._sampler: contextlib.AbstractContextManager[None] | None = None

    def __enter__(self) -> PeakMeter:
        collect_garbage()
        kind = self.device.type
        if kind == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        elif kind == "mps":
            torch.mps.empty_cache()
            self._start = torch.mps.driver_allocated_memory()
        else:
            self._start = self.baseline if self.baseline is not None else (resident_bytes() or 0)
            if not _reset_peak_rss():
                self._sampler = _sampled_peak(self._sampled)
                self._sampler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        kind = self.device.type
        if kind == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self._start
        elif kind == "mps":
            torch.mps.synchronize()
            self.peak = torch.mps.driver_allocated_memory() - self._start
        elif self._sampler is not None:
            self._sampler.__exit__(None, None, None)
            top = self._sampled[0] if self._sampled else 0
            self.peak = top - self._start if top and resident_bytes() is not None else None
        else:
            high_water = peak_resident_bytes()
            self.peak = None if high_water is None else max(0, high_water - self._start)


def measure_peak(fn: Callable[[], object], device: str, baseline: int | None = None) -> int | None:
    """Peak bytes ``fn()`` adds on ``device`` (None where this platform cannot measure it)."""
    with PeakMeter(device, baseline) as meter:
        fn()
    return meter.peak


def memory_budget(device: str) -> int | None:
    """Bytes available for a forward pass on ``device`` now: CUDA free plus torch's unused cache; MPS
    the recommended working set minus what is allocated; CPU the kernel's MemAvailable."""
    target = torch.device(device)
    if target.type == "cuda":
        free, _ = torch.cuda.mem_get_info(target)
        return int(free + torch.cuda.memory_reserved(target) - torch.cuda.memory_allocated(target))
    if target.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read(), re.MULTILINE)
        if found:
            return int(found.group(1)) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def collect_garbage() -> bool:
    """Run ``gc.collect()`` when that is safe here (module doc); True when it ran."""
    if threading.current_thread() is not threading.main_thread() and not gc.isenabled():
        return False
    gc.collect()
    return True
