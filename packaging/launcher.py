"""Entry point of the packaged app: the ``irstudio`` command, safe for frozen multiprocessing.

``multiprocessing.freeze_support()`` must run first in a frozen executable, or data-loader worker
processes (spawned on Windows and macOS) would start a second copy of the app instead of a worker.
"""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from irstudio.cli import main

    sys.exit(main())
