"""Plans known to be good, committed with the code: how each architecture runs on a CPU with nothing
measured on this computer.

The first restore of a model must start at once, so the CPU path never calibrates on the user's
critical path: it takes the backend and tile side from ``KNOWN_CPU_PLANS`` (one forward per tile side
and backend on the 2-core reference machine; docs/PERFORMANCE.md has the figures), shrinks the tile
until the plan's memory estimate fits ``MEMORY_SHARE`` of the memory free now, and runs. A
calibration record measured on this computer (``calibration.py``) wins over the table when there is
one.

Memory estimate: ``base_mib + mib_per_read_mpx * read pixels / 1e6``: what a restore adds to the
process at that read side (the backend's arenas and one tile's working set), fitted to peaks measured
at two read sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from irstudio.inference.backends.chooser import OPENVINO_BF16

MIB = 2**20
MEMORY_SHARE = 0.5
"""A restore may plan for at most this share of the memory free when it starts (the app, the photo and
the rest of the desktop need the rest)."""
MIN_CPU_TILE = 128


@dataclass(frozen=True)
class KnownPlan:
    """How an architecture runs on a CPU when this computer has not been measured.

    ``backend``: a name from ``backends.ALL_BACKENDS`` (``openvino-bf16`` falls back to fp32 where the
    CPU has no bf16 or the quality check fails). ``tile``: core side in input pixels.
    ``base_mib``/``mib_per_read_mpx``: the memory estimate (module doc).
    """

    backend: str
    tile: int
    base_mib: float
    mib_per_read_mpx: float

    def estimate_bytes(self, read_side: int) -> int:
        """Bytes a restore at ``read_side`` (input pixels, square read) is expected to add."""
        return int((self.base_mib + self.mib_per_read_mpx * read_side * read_side / 1e6) * MIB)


KNOWN_CPU_PLANS: dict[str, KnownPlan] = {
    "compacter": KnownPlan(OPENVINO_BF16, tile=256, base_mib=350.0, mib_per_read_mpx=4700.0),
    "asid": KnownPlan(OPENVINO_BF16, tile=256, base_mib=410.0, mib_per_read_mpx=5300.0),
    "ast": KnownPlan(OPENVINO_BF16, tile=512, base_mib=460.0, mib_per_read_mpx=2800.0),
    "lir": KnownPlan(OPENVINO_BF16, tile=256, base_mib=850.0, mib_per_read_mpx=1900.0),
}
"""Chosen from one forward per tile side and backend on the reference machine (docs/PERFORMANCE.md,
"Known CPU plans"): the larger tile only where it is cheaper per pixel without doubling the memory."""
FALLBACK_CPU_PLAN = KnownPlan(OPENVINO_BF16, tile=256, base_mib=850.0, mib_per_read_mpx=5300.0)
"""For an architecture the table does not list (a model brought by the user)."""


def known_cpu_plan(arch: str) -> KnownPlan:
    """The committed CPU plan for ``arch`` (``FALLBACK_CPU_PLAN`` when it is not listed)."""
    return KNOWN_CPU_PLANS.get(arch, FALLBACK_CPU_PLAN)
