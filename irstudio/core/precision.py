"""The precisions a model runs in: one vocabulary for the runner, the planner, the backends and the models.

``Precision`` is a ``str`` enum, so a member equals its name ("fp32", "bf16", "fp16") and plain names
keep working where precisions are stored or compared (``TilePlan.dtype``, JSON verdicts, command-line
options). Each member knows its torch dtype (``torch_dtype``), whether it is reduced (``reduced``),
its display name (``label``, what menus and model cards show; ``description`` for tooltips) and the
context a forward pass runs under (``autocast(device)``: nothing for fp32, ``torch.autocast`` for the
reduced ones; the model's own parameters are never cast).

Torch is imported only when a dtype or an autocast context is asked for, so models/descriptor.py
can check precision names without loading it.
"""

from __future__ import annotations

import contextlib
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISION_NAMES", "REDUCED_PRECISION_NAMES", "Precision"]


class Precision(str, Enum):
    """A precision by its name; ``Precision("bf16") is Precision.BF16``."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"

    def __str__(self) -> str:
        return self.value

    @property
    def reduced(self) -> bool:
        """True for the reduced precisions (run under autocast, allowed per architecture)."""
        return self is not Precision.FP32

    @property
    def label(self) -> str:
        """The name shown in menus, model cards and run descriptions: the value itself."""
        return self.value

    @property
    def description(self) -> str:
        """One line for tooltips: the number format and what it is for."""
        return _DESCRIPTIONS[self]

    @property
    def torch_dtype(self) -> torch.dtype:
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.value]

    def autocast(self, device: str | torch.device) -> contextlib.AbstractContextManager[object]:
        """The context a forward pass in this precision runs under on ``device`` (a torch device or
        its string): ``torch.autocast`` for a reduced precision, a null context for fp32."""
        if not self.reduced:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=torch.device(device).type, dtype=self.torch_dtype)

    @classmethod
    def parse(cls, name: str) -> Precision:
        """The member named ``name``; ``ValueError`` listing the known names otherwise."""
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"unknown precision {name!r} (known: {', '.join(PRECISION_NAMES)})") from None


_DESCRIPTIONS = {
    Precision.FP32: "32-bit float: full precision, every device",
    Precision.BF16: "bfloat16: fp32's range, 8-bit mantissa (CPUs with AMX, recent GPUs)",
    Precision.FP16: "float16: 10-bit mantissa, small range (GPUs; window attention can overflow it)",
}

PRECISION_NAMES: tuple[str, ...] = tuple(precision.value for precision in Precision)
"""Every precision name, full precision first: ("fp32", "bf16", "fp16")."""
REDUCED_PRECISION_NAMES: tuple[str, ...] = tuple(p.value for p in Precision if p.reduced)
"""The reduced precisions an architecture may allow (``ModelSpec.half_dtypes``): ("bf16", "fp16")."""
