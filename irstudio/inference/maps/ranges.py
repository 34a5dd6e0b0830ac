"""Colour ranges for maps: the data's own range (legends state it), never empty.

Random-weight or nearly uniform maps vary little; a fixed range (0 .. 1 for a gate, 0 .. max for a
softmax row) would paint them one flat colour, so maps use their data range and say so in the legend.
"""

from __future__ import annotations

import numpy as np

__all__ = ["data_range", "signed_or_data_range"]

_MIN_SPAN = 1e-9


def data_range(values: np.ndarray, low: float = 0.0, high: float = 100.0) -> tuple[float, float]:
    """(vmin, vmax) = the ``low``/``high`` percentiles of the finite values; vmin < vmax always."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin = float(np.percentile(finite, low)) if low > 0 else float(finite.min())
    vmax = float(np.percentile(finite, high)) if high < 100 else float(finite.max())
    if vmax - vmin < _MIN_SPAN * max(1.0, abs(vmax)):
        pad = max(abs(vmax) * 1e-3, 1e-6)
        return vmin - pad, vmax + pad
    return vmin, vmax


def signed_or_data_range(values: np.ndarray) -> tuple[float, float, str]:
    """For unbounded signed data: (-m, m, "coolwarm") centred on 0 when values take both signs, else the
    data range with "viridis"."""
    vmin, vmax = data_range(values)
    if vmin < 0 < vmax:
        bound = max(-vmin, vmax)
        return -bound, bound, "coolwarm"
    return vmin, vmax, "viridis"
