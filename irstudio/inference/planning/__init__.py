"""Planning: how a model runs over a photo (backend, precision, tile side, context), in one package.

A newcomer asking "why this tile?" reads ``plan.py``: ``auto_plan`` takes this computer's calibration
record (``calibration.py``) or the committed plan for the architecture (``known.py``) on the CPU,
fitted to the memory free now, and measures only on request or on a GPU (``precision.py``: the
reduced-precision probe; ``autotile.py``: the memory probe; ``cpu_tile.py``: the timed CPU tile side;
the backend race lives with the backends). Memory itself is measured in ``core/memory.py``.
"""

from irstudio.inference.planning.plan import (
    BASELINE_TILE,
    CPU_TILE,
    GPU_TILE,
    AutoPlan,
    auto_plan,
    auto_tile,
    fit_tile,
    plan_for,
    read_side,
)

__all__ = [
    "BASELINE_TILE",
    "CPU_TILE",
    "GPU_TILE",
    "AutoPlan",
    "auto_plan",
    "auto_tile",
    "fit_tile",
    "plan_for",
    "read_side",
]
