"""Device policy: pick CUDA, MPS or CPU, describe it, and classify out-of-memory errors.

``resolve_device("auto")`` prefers CUDA, then MPS, then CPU; a named device (``"cuda:1"``, ``"mps"``,
``"cpu"``) is checked and refused with ``DeviceError`` when absent. Choosing MPS sets
``PYTORCH_ENABLE_MPS_FALLBACK=1`` so operators MPS lacks run on the CPU instead of failing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


class DeviceError(ValueError):
    """A requested device does not exist or is unusable; the message says which devices exist."""


@dataclass(frozen=True)
class DeviceInfo:
    """A usable device: ``spec`` is what ``torch.device`` takes; memory in bytes (None when unknown)."""

    spec: str
    name: str
    total_memory: int | None
    free_memory: int | None

    def describe(self) -> str:
        if self.free_memory is None:
            return f"{self.spec}: {self.name}"
        gib = 1024**3
        free, total = self.free_memory / gib, (self.total_memory or 0) / gib
        return f"{self.spec}: {self.name} ({free:.1f} of {total:.1f} GiB free)"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _cpu_memory() -> tuple[int | None, int | None]:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        available = os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None, None
    return pages * page_size, available * page_size


def _cpuinfo_value(key: str) -> str | None:
    """The value of the first ``key`` line of Linux's /proc/cpuinfo, or None (no such file/line)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_name() -> str:
    name = _cpuinfo_value("model name")
    if name:
        return name
    import platform

    return platform.processor() or platform.machine() or "CPU"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (x86 AVX512_BF16 or AMX-BF16 on Linux), where bf16
    matrix products run several times faster than fp32 ones; False where it cannot tell."""
    flags = set((_cpuinfo_value("flags") or "").split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def list_devices() -> list[DeviceInfo]:
    """Every usable device, CUDA devices first, then MPS, then the CPU (always present)."""
    devices: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            devices.append(DeviceInfo(f"cuda:{index}", torch.cuda.get_device_name(index), total, free))
    if _mps_available():
        devices.append(DeviceInfo("mps", "Apple GPU (Metal)", None, None))
    cpu_total, cpu_free = _cpu_memory()
    devices.append(DeviceInfo("cpu", _cpu_name(), cpu_total, cpu_free))
    return devices


def resolve_device(requested: str = "auto") -> DeviceInfo:
    """The device for ``requested`` ("auto", "cpu", "cuda", "cuda:N", "mps"); raises DeviceError if absent."""
    devices = list_devices()
    wanted = requested.strip().lower()
    if wanted == "auto":
        chosen = devices[0]
    else:
        wanted = "cuda:0" if wanted == "cuda" else wanted
        matches = [device for device in devices if device.spec == wanted]
        if not matches:
            present = ", ".join(device.spec for device in devices)
            raise DeviceError(f"device '{requested}' is not available here; available: {present}")
        chosen = matches[0]
    if chosen.spec == "mps":
        os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    return chosen


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures (which the tiled runner recovers from)."""
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and (
        "out of memory" in message
        or "failed to allocate" in message
        or "mps backend out of memory" in message
    )


def release_cached_memory(device: str) -> None:
    """Return cached allocator blocks to the driver after an out-of-memory error."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and _mps_available():
        torch.mps.empty_cache()


def default_cpu_threads() -> int:
    """Physical cores minus one (at least 1), so a desktop stays responsive during a run."""
    logical = os.cpu_count() or 1
    physical = max(1, logical // 2) if logical >= 4 else logical
    return max(1, physical - 1) if physical > 2 else physical
