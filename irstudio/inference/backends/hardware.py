"""What machine a measurement ran on: physical cores, CPU thread policy, a one-line hardware name.

``physical_cores()`` counts distinct (package, core) pairs in /proc/cpuinfo on Linux, asks sysctl on
macOS, and otherwise assumes two hardware threads per core when there are 4 or more logical CPUs.
``bench_threads()`` is the policy for measurements: one intra-op thread per physical core (the GUI
uses ``core.device.default_cpu_threads``, one fewer, so the desktop stays responsive).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import torch

from irstudio.core.device import DeviceInfo
from irstudio.inference.backends.cache import environment_stamp


def _count_physical_cores(cpuinfo: str) -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo text; None when it lists no core ids."""
    pairs = set()
    for block in cpuinfo.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "core id" in fields:
            pairs.add((fields.get("physical id", "0"), fields["core id"]))
    return len(pairs) or None


def _linux_physical_cores() -> int | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return _count_physical_cores(cpuinfo.read())
    except OSError:
        return None


def _macos_physical_cores() -> int | None:
    try:
        found = subprocess.run(
            ["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True, timeout=5, check=True
        )
        return int(found.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def physical_cores() -> int:
    """Physical CPU cores of this machine (at least 1)."""
    found = None
    if sys.platform.startswith("linux"):
        found = _linux_physical_cores()
    elif sys.platform == "darwin":
        found = _macos_physical_cores()
    if found:
        return min(found, os.cpu_count() or found)
    logical = os.cpu_count() or 1
    return max(1, logical // 2) if logical >= 4 else logical


def bench_threads() -> int:
    """Intra-op threads for measurements: one per physical core."""
    return physical_cores()


def use_threads(count: int) -> None:
    """Set torch's intra-op threads (ONNX Runtime sessions take ``count`` when created)."""
    torch.set_num_threads(max(1, count))


def describe_hardware(device: DeviceInfo) -> str:
    """E.g. ``"cpu: Intel(R) Xeon(R) Processor, 2 physical cores, 2 threads; torch 2.13.0+cpu"``."""
    parts = [device.describe()]
    if device.spec == "cpu":
        parts.append(f"{physical_cores()} physical cores, {torch.get_num_threads()} threads")
    parts.append(f"{platform.system()} {platform.machine()}")
    parts.append(environment_stamp())
    return "; ".join(parts)
