"""``irstudio train CONFIG.toml [--set KEY=VALUE]... [--resume [CHECKPOINT]] [--export [DIR]]``.

Fine-tunes a model. ``--set section.key=value`` changes one setting of the file for this run (e.g.
``--set train.steps=20000 --set data.clean=packs/train``; values are TOML, paths relative to the
current folder); the run folder's ``config.toml`` records what ran.

Progress (step, loss, learning rate, last validation PSNR, speed, ETA) is one line on stderr,
validations and checkpoints one line each; ``metrics.jsonl`` in the run folder has every event as
JSON. The final summary goes to stdout. Ctrl+C stops at the next step and writes a checkpoint
(exit 130; ``--resume`` continues it); a second Ctrl+C aborts at once. Under ``torchrun`` only
rank 0 prints. Exit 1 on a bad config, unusable data, or a loss that stayed non-finite.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from irstudio.core import CancelToken, Terminated
from irstudio.training import (
    CheckpointSaved,
    NonFiniteLossError,
    Notice,
    Started,
    StepLog,
    TrainSummary,
    Validation,
    export_model,
    load_config,
    train,
    with_overrides,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="fine-tune a model on a folder of images (TOML config)")
    parser.add_argument("config", type=Path, metavar="CONFIG.toml", help="the run's configuration")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one setting for this run, e.g. train.steps=20000 (repeatable)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CHECKPOINT",
        help="continue the run from its latest checkpoint (or from CHECKPOINT)",
    )
    parser.add_argument(
        "--export",
        nargs="?",
        const="library",
        default=None,
        metavar="DIR",
        help="when the run completes, export its EMA weights to the model library (or DIR)",
    )
    parser.set_defaults(run=run)


def _duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class TrainProgress:
    """The stderr progress line of a run, with one-line messages printed above it."""

    def __init__(self, stream: TextIO | None = None, width: int = 20) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.first_step: int | None = None
        self.psnr: float | None = None
        self.line = ""
        self.drawn = 0  # widest line drawn so far: shorter lines are padded over it

    def message(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(self.drawn) + "\n" + self.line)
        self.stream.flush()

    def step(self, event: StepLog) -> None:
        if self.first_step is None:
            self.first_step, self.started = event.step, time.monotonic()
        fraction = event.step / event.total_steps
        filled = round(fraction * self.width)
        done_here = event.step - self.first_step
        elapsed = time.monotonic() - self.started
        rate = done_here / elapsed if done_here and elapsed > 0 else event.steps_per_second
        eta = (event.total_steps - event.step) / rate if rate > 0 else 0.0
        psnr = f"  psnr {self.psnr:.2f}" if self.psnr is not None else ""
        self.line = (
            f"train [{'#' * filled}{'.' * (self.width - filled)}] {event.step}/{event.total_steps}  "
            f"loss {event.loss:.4g}  lr {event.lr:.2e}{psnr}  {rate:.2f} it/s  ETA {_duration(eta)}"
        )
        self.stream.write("\r" + self.line.ljust(self.drawn))
        self.drawn = max(self.drawn, len(self.line))
        self.stream.flush()

    def finish(self) -> None:
        if self.line:
            self.stream.write("\n")
            self.stream.flush()


def describe_event(event: object, progress: TrainProgress) -> None:
    """Show one training event on the progress line or as a message."""
    if isinstance(event, StepLog):
        progress.step(event)
    elif isinstance(event, Started):
        resumed = f", resumed at step {event.start_step}" if event.start_step else ""
        progress.message(
            f"{event.model_id} ({event.task}, x{event.scale}) on {event.device} {event.precision}, "
            f"{event.world_size} process(es){resumed}; {event.train_images} training / "
            f"{event.val_images} validation images → {event.run_dir}"
        )
        for skipped in event.skipped:
            progress.message(f"skipped {skipped}")
    elif isinstance(event, Validation):
        progress.psnr = event.psnr
        progress.message(
            f"step {event.step}: validation PSNR {event.psnr:.2f} dB, SSIM {event.ssim:.4f} "
            f"({event.images} crops)"
        )
    elif isinstance(event, CheckpointSaved):
        progress.message(f"step {event.step}: checkpoint {event.path}")
    elif isinstance(event, Notice):
        progress.message(f"step {event.step}: {event.message}")


def summary_lines(summary: TrainSummary) -> list[str]:
    state = "stopped" if summary.stopped else "done"
    lines = [
        f"run {summary.run_dir}: {state} at step {summary.final_step}/{summary.total_steps} "
        f"({summary.steps_run} steps in {_duration(summary.elapsed_s)})"
    ]
    if summary.psnr is not None:
        lines.append(
            f"validation PSNR {summary.psnr:.2f} dB, SSIM {summary.ssim:.4f} "
            f"(best PSNR {summary.best_psnr:.2f} dB)"
        )
    if summary.last_checkpoint is not None:
        lines.append(f"checkpoint {summary.last_checkpoint}")
    lines.append(f"metrics {summary.run_dir / 'metrics.jsonl'}")
    return lines


@contextmanager
def _first_interrupt_stops(cancel: CancelToken, progress: TrainProgress) -> Iterator[None]:
    """First Ctrl+C or SIGTERM sets ``cancel`` (stop after this step, with a checkpoint); a second
    one aborts at once."""
    if threading.current_thread() is not threading.main_thread():  # signals work on the main thread only
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if cancel.cancelled:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        cancel.cancel()
        name = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
        progress.message(f"{name}: stopping after this step with a checkpoint (again: abort without one)")

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def run(args: argparse.Namespace) -> int:
    config = with_overrides(load_config(args.config), args.overrides, base_dir=Path.cwd())
    is_main = int(os.environ.get("RANK", "0")) == 0
    progress = TrainProgress(sys.stderr if is_main else io.StringIO())
    cancel = CancelToken()
    events = train(config, cancel, resume=args.resume)
    try:
        with _first_interrupt_stops(cancel, progress):
            while True:
                try:
                    describe_event(next(events), progress)
                except StopIteration as finished:
                    summary: TrainSummary = finished.value
                    break
    except NonFiniteLossError as error:
        progress.finish()
        print(f"irstudio: error: {error}", file=sys.stderr)
        return 1
    finally:
        events.close()
    progress.finish()
    if not is_main:
        return 0
    print("\n".join(summary_lines(summary)))
    if summary.stopped:
        sets = [word for override in args.overrides for word in ("--set", override)]
        print(f"resume with: {shlex.join(['irstudio', 'train', str(args.config), *sets, '--resume'])}")
        return 130
    if args.export is not None:
        destination = None if args.export == "library" else Path(args.export)
        print(f"exported {export_model(summary.run_dir, destination=destination)}")
    return 0
