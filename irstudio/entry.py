"""The ``irstudio`` command's entry point: signals first, then the (heavy) command line.

Nothing heavy is imported here, so a Ctrl+C or SIGTERM while torch and Qt load gives one line and
exit 130 / 143, not a traceback. SIGTERM (``docker stop``, systemd, schedulers, CI timeouts) is
turned into ``Terminated``, a ``KeyboardInterrupt``: it unwinds like Ctrl+C, so the temporary file
of a write in progress is removed, a batch abandons its current file cleanly, and a training run
(which handles both signals itself) writes a checkpoint and stops.
"""

from __future__ import annotations

from irstudio.core.signals import interrupted_exit, terminate_on_sigterm


def main() -> int:
    terminate_on_sigterm()
    try:
        from irstudio.cli import main as run_command_line

        return run_command_line()
    except KeyboardInterrupt as error:  # Terminated included
        return interrupted_exit(error)
