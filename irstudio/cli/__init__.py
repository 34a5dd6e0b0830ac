"""The command line: ``irstudio [PHOTO]`` (GUI), ``restore``, ``models``, ``eval``; ``irstudio --self-test``.

Contracts other tools rely on are documented per subcommand. Expected failures (bad images, unknown
models, wrong weights, absent devices) print one ``irstudio: error: ...`` line and exit 1 (2 for
usage errors); Ctrl+C stops at the next tile and exits 130, SIGTERM likewise with 143 (``entry``
installs its handler before this module is imported).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from irstudio import __version__
from irstudio.cli import bench_cmd, evaluate_cmd, maps_cmd, models_cmd, restore_cmd, train_cmd, weights_cmd
from irstudio.core.cancel import Cancelled
from irstudio.core.device import DeviceError
from irstudio.core.image_io import READ_SUFFIXES, ImageError
from irstudio.core.signals import interrupted_exit
from irstudio.inference.cluster import ClusterError
from irstudio.inference.evaluation import EvalDataError
from irstudio.models.loading import WeightsError
from irstudio.models.registry import UnknownModelError

EXPECTED_ERRORS = (
    ImageError,
    WeightsError,
    DeviceError,
    EvalDataError,
    UnknownModelError,
    ClusterError,
    ValueError,
    OSError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="irstudio",
        description="Restore photos with lightweight transformer networks. With no command, opens the app; "
        "`irstudio PHOTO` opens it showing PHOTO.",
    )
    parser.add_argument("--version", action="version", version=f"irstudio {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check devices and models, print a report; exit 0 if all pass",
    )
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # open the app, quit on paint
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (restore_cmd, models_cmd, evaluate_cmd, train_cmd, maps_cmd, bench_cmd, weights_cmd):
        module.add_parser(commands)
    return parser


def command_names(parser: argparse.ArgumentParser) -> set[str]:
    """The subcommands ``parser`` knows (``restore``, ``models``, ...)."""
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def _photo_argument(args: Sequence[str], parser: argparse.ArgumentParser) -> str | None:
    """``args[0]`` when it names a file to open in the app (not a subcommand nor an option);
    raises ``FileNotFoundError`` for an image path that does not exist (a typo, not a command)."""
    first = args[0]
    if first.startswith("-") or first in command_names(parser):
        return None
    if Path(first).is_file():
        return first
    if Path(first).suffix.lower() in READ_SUFFIXES:
        raise FileNotFoundError(f"{first}: no such file")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``irstudio [PHOTO]`` opens the app (showing PHOTO); ``irstudio COMMAND ...`` runs a command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        photo = _photo_argument(args_list, parser) if args_list else None
    except FileNotFoundError as error:
        print(f"irstudio: error: {error}", file=sys.stderr)
        return 1
    if not args_list or photo is not None:
        from irstudio.app import main as run_app  # Qt is imported only when the GUI starts

        return run_app([sys.argv[0] if sys.argv else "irstudio", *args_list] if photo else None)
    args = parser.parse_args(args_list)
    if args.self_test:
        from irstudio.selftest import main as self_test

        return self_test()
    if args.smoke:
        from irstudio.app import main as run_app

        return run_app(smoke=True)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except Cancelled:
        print("irstudio: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt as error:  # Terminated (SIGTERM) included
        return interrupted_exit(error)
    except EXPECTED_ERRORS as error:
        print(f"irstudio: error: {error}", file=sys.stderr)
        return 1
