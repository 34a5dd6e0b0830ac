"""A one-line progress bar on stderr for long command-line work (tiles, images, steps)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Redraws ``label [#####.....] done/total  ETA`` in place; ``finish()`` ends the line."""

    def __init__(
        self, label: str, stream: TextIO | None = None, width: int = 24, interval: float = 0.2
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self.started = time.monotonic()
        self._last_drawn = float("-inf")

    def update(self, done: int, total: int, note: str = "") -> None:
        """Redraw, at most every ``interval`` seconds (and always on the last unit); ``note`` is
        shown after the ETA (e.g. ``"2.4 files/s, 1 failed"``)."""
        now = time.monotonic()
        if done < total and now - self._last_drawn < self.interval:
            return
        self._last_drawn = now
        fraction = done / total if total else 1.0
        filled = round(fraction * self.width)
        elapsed = now - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{total}  ETA {eta:5.1f}s{'  ' + note if note else ''}"
        )
        self.stream.flush()

    def abort(self) -> None:
        """End a drawn line so that an error message that follows starts on its own line."""
        if self._last_drawn != float("-inf"):
            self.stream.write("\n")
            self.stream.flush()

    def finish(self, message: str = "") -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\r{self.label} done in {elapsed:.1f}s{(' ' + message) if message else ''}".ljust(80)
        )
        self.stream.write("\n")
        self.stream.flush()
