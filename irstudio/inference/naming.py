"""Output names that never collide: every input gets its own output file.

``output_names(sources, model_id)`` names the outputs of sources that share one output folder:
``<stem>_<model>.png``; sources with the same stem (``a.png``, ``a.jpg``) get ``<stem>-<ext>``; a name
still taken by an earlier source (``a-png.png`` beside ``a.png`` and ``a.jpg``), compared without case
(macOS and Windows folders ignore it), gets ``-2``, ``-3``, ... The same sorted sources always get
the same names, so a rerun finds its earlier outputs. Names longer than ``MAX_NAME_BYTES`` are
shortened, with a hash of the full stem so that two long names stay apart.

``unique_labels(names)`` does the ``-2``, ``-3`` step for folder names (two input folders called
``photos`` restored into one ``--out``).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

MAX_NAME_BYTES = 255
OUTPUT_SUFFIX = ".png"


def output_names(sources: Sequence[Path], model_id: str) -> list[str]:
    """One output file name per source, in order, all different (ignoring case)."""
    stems = Counter(source.stem.casefold() for source in sources)
    bases = [
        f"{source.stem}-{source.suffix.lstrip('.')}" if stems[source.stem.casefold()] > 1 else source.stem
        for source in sources
    ]
    ending = f"_{model_id}{OUTPUT_SUFFIX}"
    return [base + ending for base in unique_labels(bases, reserve=len(os.fsencode(ending)))]


def unique_labels(labels: Sequence[str], *, reserve: int = 0) -> list[str]:
    """``labels`` made unique without case by appending ``-2``, ``-3``, ... to later repeats, each
    fitted to ``MAX_NAME_BYTES - reserve`` bytes (``reserve``: what the caller appends)."""
    budget = MAX_NAME_BYTES - reserve
    taken = {_fit(label, budget).casefold() for label in labels}
    seen: set[str] = set()
    result = []
    for label in labels:
        candidate, number = _fit(label, budget), 1
        # a repeat counts on past the names already given and those another label has of its own
        while candidate.casefold() in seen or (number > 1 and candidate.casefold() in taken):
            number += 1
            candidate = _fit(f"{label}-{number}", budget)
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def _fit(label: str, budget: int) -> str:
    """``label`` when it fits ``budget`` bytes, else its start and ``~`` and 8 hex digits of its hash."""
    encoded = os.fsencode(label)
    if len(encoded) <= budget:
        return label
    digest = hashlib.sha256(encoded).hexdigest()[:8]
    start = encoded[: budget - 9].decode("utf-8", errors="ignore")
    return f"{start}~{digest}"
