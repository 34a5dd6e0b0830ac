"""The lowest layer: image I/O, tiling maths, devices and memory, precisions, cancel tokens, files.

The face below is what the app and the command line use; each name is imported from its module on
first use (``core.lazy``), so ``import irstudio.core.signals`` (the console entry point, before torch
loads) stays light:

- Cancelling: ``CancelToken``, ``Cancelled``, ``NEVER_CANCELLED`` (``cancel``); SIGTERM as
  ``Terminated`` and ``interrupted_exit`` (``signals``).
- Devices and memory: ``DeviceInfo``, ``DeviceError``, ``list_devices``, ``resolve_device``,
  ``is_out_of_memory``, ``default_cpu_threads`` (``device``); ``resident_bytes``,
  ``release_free_heap`` (``memory``).
- Precisions: ``Precision`` and ``PRECISION_NAMES`` (``precision``, the one vocabulary of fp32 /
  bf16 / fp16 with their torch dtypes and display names).
- Geometry and files: ``Region`` (``tiling``), ``atomic_write`` (``atomic``).

Images have a face of their own, ``irstudio.core.image_io`` (read, probe, write, formats, sample
types); import image names from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irstudio.core.lazy import lazy_face

EXPORTS = {
    "irstudio.core.atomic": ("atomic_write",),
    "irstudio.core.cancel": ("NEVER_CANCELLED", "CancelToken", "Cancelled"),
    "irstudio.core.device": (
        "DeviceError",
        "DeviceInfo",
        "default_cpu_threads",
        "is_out_of_memory",
        "list_devices",
        "resolve_device",
    ),
    "irstudio.core.memory": ("release_free_heap", "resident_bytes"),
    "irstudio.core.precision": ("PRECISION_NAMES", "Precision"),
    "irstudio.core.signals": ("Terminated", "interrupted_exit"),
    "irstudio.core.tiling": ("Region",),
}
"""The face: defining module -> names (``__all__`` lists the same names)."""

__getattr__, __dir__ = lazy_face(__name__, EXPORTS)

if TYPE_CHECKING:
    from irstudio.core.atomic import atomic_write
    from irstudio.core.cancel import NEVER_CANCELLED, Cancelled, CancelToken
    from irstudio.core.device import (
        DeviceError,
        DeviceInfo,
        default_cpu_threads,
        is_out_of_memory,
        list_devices,
        resolve_device,
    )
    from irstudio.core.memory import release_free_heap, resident_bytes
    from irstudio.core.precision import PRECISION_NAMES, Precision
    from irstudio.core.signals import Terminated, interrupted_exit
    from irstudio.core.tiling import Region

__all__ = [
    "NEVER_CANCELLED",
    "PRECISION_NAMES",
    "CancelToken",
    "Cancelled",
    "DeviceError",
    "DeviceInfo",
    "Precision",
    "Region",
    "Terminated",
    "atomic_write",
    "default_cpu_threads",
    "interrupted_exit",
    "is_out_of_memory",
    "list_devices",
    "release_free_heap",
    "resident_bytes",
    "resolve_device",
]
