"""SIGTERM handled like Ctrl+C: ``terminate_on_sigterm`` makes it raise ``Terminated``.

``Terminated`` subclasses ``KeyboardInterrupt``, so every ``finally`` and ``except
KeyboardInterrupt`` that cleans up after Ctrl+C (atomic writes, batches, progress lines) also runs
for SIGTERM. Handlers can only be installed from the main thread; elsewhere it does nothing.
"""

from __future__ import annotations

import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (exit status 143 by convention)."""


def interrupted_exit(error: KeyboardInterrupt) -> int:
    """Say on stderr how the process was stopped; the exit status: 143 for SIGTERM, 130 for Ctrl+C."""
    if isinstance(error, Terminated):
        print("irstudio: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    print("irstudio: interrupted", file=sys.stderr)
    return 130


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated("terminated (SIGTERM)")


def terminate_on_sigterm() -> None:
    """Make SIGTERM raise ``Terminated`` in the main thread (no-op off the main thread)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_terminated)
