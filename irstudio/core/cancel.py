"""A cancel token shared by all long work (restoration, training, maps, batch).

Long work is a generator that calls ``token.raise_if_cancelled()`` before each unit (tile, step);
the GUI calls ``token.cancel()`` from the main thread. Thread-safe.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside long work when its cancel token was set."""


class CancelToken:
    """A thread-safe flag: ``cancel()`` from any thread, checked by the worker between units."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


NEVER_CANCELLED = CancelToken()
"""A token nobody cancels, for callers that do not need cancellation (do not call cancel() on it)."""
