"""Cluster workers that kill their own process, for the tests of lost work (imported by Ray workers).

Each dies with ``os._exit`` (no cleanup, as a crash or the out-of-memory killer would): the driver
sees the worker lost, Ray restarts its process, and the item goes to the queue again.
"""

from __future__ import annotations

import os
from pathlib import Path

from irstudio.core.atomic import atomic_write
from irstudio.inference.batch import BatchItem, ItemOutcome
from irstudio.inference.cluster import RestoreWorker

CRASH_MARKER = "crash-once"
"""A file in the output folder: the first worker to remove it dies (so exactly one crash)."""
POISON = "poison"
"""A source whose name holds this kills every worker that restores it."""


def claim(marker: Path) -> bool:
    """Whether this process removed ``marker`` (only one process can)."""
    try:
        marker.unlink()
    except FileNotFoundError:
        return False
    return True


class DiesMidWrite(RestoreWorker):
    """Dies once while writing an output: its hidden temporary is left behind, half written."""

    def restore_one(self, item: BatchItem, attempt: int) -> ItemOutcome:
        if claim(item.target.parent / CRASH_MARKER):
            item.target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(item.target, overwrite=False) as temporary:
                temporary.write_bytes(b"\x89PNG half of a file")
                os._exit(1)
        return super().restore_one(item, attempt)


class DiesAfterPublishing(RestoreWorker):
    """Dies once right after an output is published, before its outcome reaches the driver."""

    def restore_one(self, item: BatchItem, attempt: int) -> ItemOutcome:
        outcome = super().restore_one(item, attempt)
        if claim(item.target.parent / CRASH_MARKER):
            os._exit(1)
        return outcome


class DiesOnPoison(RestoreWorker):
    """Dies on every attempt at a source named ``*poison*``."""

    def restore_one(self, item: BatchItem, attempt: int) -> ItemOutcome:
        if POISON in item.source.name:
            os._exit(1)
        return super().restore_one(item, attempt)
