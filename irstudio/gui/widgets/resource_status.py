"""``ResourceStatus``: the status bar's permanent "RAM 1.4 GB · cpu: AMD EPYC ..." readout.

The window calls ``set_device(spec)`` when the device choice changes and ``refresh()`` on a timer;
the process's resident memory comes from ``core.memory.resident_bytes`` (Linux /proc or psutil; a
dash where neither is available), GPU memory from torch when the device is a CUDA one.
"""

from __future__ import annotations

import torch
from PySide6.QtWidgets import QLabel, QWidget

from irstudio.core import DeviceError, resident_bytes, resolve_device

__all__ = ["ResourceStatus", "format_bytes"]

REFRESH_MS = 2000


def format_bytes(count: int | None) -> str:
    """``1.4 GB``, ``350 MB``; a dash for None."""
    if count is None:
        return "—"
    if count >= 1000**3:
        return f"{count / 1000**3:.1f} GB"
    return f"{count / 1000**2:.0f} MB"


class ResourceStatus(QLabel):
    """The memory this process holds and the device work runs on (main thread only)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._device_spec = "cpu"
        self._device_name = "cpu"
        self.setToolTip("Memory this app holds (resident), and the device restores run on")
        self.refresh()

    def set_device(self, choice: str) -> None:
        """The device choice ("auto", "cpu", "cuda:0", "mps"), resolved to the device used."""
        try:
            device = resolve_device(choice)
            self._device_spec, self._device_name = device.spec, device.name
        except DeviceError:
            self._device_spec, self._device_name = choice, f"{choice} (unavailable)"
        self.refresh()

    def refresh(self) -> None:
        parts = [f"RAM {format_bytes(resident_bytes())}"]
        if self._device_spec.startswith("cuda") and torch.cuda.is_available():
            parts.append(f"GPU {format_bytes(torch.cuda.memory_allocated(self._device_spec))}")
        parts.append(
            self._device_name if self._device_spec == "cpu" else f"{self._device_spec}: {self._device_name}"
        )
        self.setText(" · ".join(parts))
