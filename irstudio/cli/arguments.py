"""Argument types that refuse impossible numbers at parse time (a usage error, exit 2, one line).

``--tile 0``, ``--scale 0``, ``--sigma -5``, ``--photo-mp 0`` or ``--repeat 0`` never reach the work:
argparse prints ``irstudio COMMAND: error: argument --tile: must be a whole number >= 1, got '0'``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer type accepting ``minimum``..``maximum`` (no upper bound when None)."""
    bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, got {text!r}")
        return value

    parse.__name__ = f"whole number {bounds}"
    return parse


def number(*, above: float | None = None, at_least: float | None = None) -> Callable[[str], float]:
    """A finite float type: ``> above`` or ``>= at_least``."""
    bounds = f"> {above:g}" if above is not None else f">= {at_least:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text!r}") from None
        too_small = (above is not None and value <= above) or (at_least is not None and value < at_least)
        if not math.isfinite(value) or too_small:
            raise argparse.ArgumentTypeError(f"must be a finite number {bounds}, got {text!r}")
        return value

    parse.__name__ = f"number {bounds}"
    return parse


POSITIVE = whole(1)
NON_NEGATIVE = whole(0)
SEED = whole(0, 2**32 - 1)
QUALITY = whole(1, 100)
POSITIVE_NUMBER = number(above=0)
NON_NEGATIVE_NUMBER = number(at_least=0)
