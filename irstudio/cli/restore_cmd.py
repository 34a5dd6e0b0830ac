"""``irstudio restore INPUT... --model ID``: restore images, writing ``<stem>_<model>.png``.

Outputs go next to each input, or into ``--out DIR``; an existing output is never overwritten
(skipped with a message unless ``--overwrite``). Alpha is carried (resized for SR), 16-bit sources
give 16-bit PNGs, EXIF and ICC are kept. Progress on stderr; exit 1 if any input failed.

Every input gets its own output: names come from ``inference.naming`` (``a.png`` and ``a.jpg`` give
``a-png_<model>.png`` and ``a-jpg_<model>.png``), a file named twice is restored once, and a file
that fails is one ``irstudio: error:`` line while the others go on (exit 1).

A folder INPUT is restored as a batch (``irstudio.inference.batch``): its images (``--recursive``:
and those of its subfolders) go to a mirrored tree in ``--out`` (``--out/<folder name>`` when more
than one INPUT is given, ``<name>-2`` for a second folder of the same name), or in
``<folder>_<model>`` beside it; existing outputs are always skipped, per-file errors are reported at
the end, and a journal in the output folder lets an interrupted batch resume.

How it runs comes from ``inference.planning.auto_plan``. On the CPU nothing is measured: this
computer's calibration (``irstudio bench``) or the committed plan for the architecture
(OpenVINO, bf16 where the CPU has it), the tile fitted to the memory free now; the first run of a
model converts it for OpenVINO (seconds, said on stderr, cached). On a GPU the precision and tile are
measured once per model and device and remembered in ``paths.user_state_dir()``. Every run prints
the plan it uses. ``--backend eager`` runs plain PyTorch (no conversion, no race).

``--cluster [ADDRESS]`` restores the same inputs into the same outputs on a Ray cluster
(``cli.cluster_cmd``, ``inference.cluster``): the model is loaded by each worker, not here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from torch import nn

from irstudio import paths
from irstudio.cli import cluster_cmd
from irstudio.cli.arguments import NON_NEGATIVE, POSITIVE
from irstudio.cli.cluster_cmd import add_cluster_arguments
from irstudio.cli.progress import ProgressLine
from irstudio.core import PRECISION_NAMES
from irstudio.core.device import DeviceInfo, resolve_device
from irstudio.core.image_io import ImageError
from irstudio.inference.backends import EAGER, ONNX, OPENVINO, OPENVINO_BF16
from irstudio.inference.batch import (
    PER_FILE_ERRORS,
    BatchError,
    BatchEvent,
    BatchEventKind,
    default_output_dir,
    describe_file_error,
    journal_path,
    plan_batch,
    restore_to_file,
    run_batch,
)
from irstudio.inference.naming import output_names, unique_labels
from irstudio.inference.planning import AutoPlan, auto_plan, plan_for
from irstudio.models.library import resolve_model
from irstudio.models.loading import open_model
from irstudio.models.spec import ModelSpec

AUTO = "auto"
PRECISIONS = (AUTO, *PRECISION_NAMES)
BACKENDS = (AUTO, EAGER, OPENVINO, OPENVINO_BF16, ONNX)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("restore", help="restore images with a model")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    parser.add_argument(
        "--model",
        "-m",
        required=True,
        help="model id, or a model of your library ('irstudio models' lists both)",
    )
    parser.add_argument("--scale", type=POSITIVE, default=None, help="scale for family ids such as 'bicubic'")
    parser.add_argument("--weights", type=Path, default=None, help="a weight file to load into the model")
    parser.add_argument(
        "--out", "-o", type=Path, default=None, help="output folder (default: beside each input)"
    )
    parser.add_argument(
        "--tile", type=POSITIVE, default=None, help="tile side in input pixels (default: auto)"
    )
    parser.add_argument("--overlap", type=NON_NEGATIVE, default=None, help="context pixels around each tile")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    add_plan_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs (files only)")
    parser.add_argument(
        "--recursive", "-r", action="store_true", help="with a folder INPUT, include its subfolders"
    )
    add_cluster_arguments(parser)
    parser.set_defaults(run=run)


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--backend`` (shared with ``irstudio eval``)."""
    parser.add_argument(
        "--precision",
        default=AUTO,
        choices=PRECISIONS,
        help="auto (default): bf16 inside OpenVINO on CPUs that have it (>= 45 dB from fp32), measured once "
        "per model on GPUs; others force it",
    )
    parser.add_argument(
        "--backend",
        default=AUTO,
        choices=BACKENDS,
        help="auto (default): this computer's calibration (irstudio bench) or the committed "
        "plan (OpenVINO on the CPU); eager: plain PyTorch (no conversion); openvino, openvino-bf16, onnx: "
        "that engine (ONNX Runtime's export takes minutes)",
    )


def choose_plan(
    spec: ModelSpec,
    model: nn.Module,
    device: DeviceInfo,
    *,
    tile: int | None,
    context: int | None,
    precision: str,
    backend: str,
) -> AutoPlan:
    """``auto_plan`` under the command-line options (``precision``/``backend``: "auto" or forced),
    with verdicts in ``paths.user_state_dir()``. Says on stderr when it is about to measure.

    Raises ValueError when a forced precision is not allowed for the model (before measuring).
    """
    dtype = None if precision == AUTO else precision
    if dtype is not None:
        plan_for(spec, device, tile=tile, context=context, dtype=dtype)  # rejects a precision early
    backends = None if backend == AUTO else (backend,)
    state_dir = paths.user_state_dir()

    def say_measuring() -> None:
        print(
            f"measuring the fastest way to run {spec.id} on {device.spec} (once; remembered in "
            f"{state_dir}) ...",
            file=sys.stderr,
        )

    return auto_plan(
        spec,
        model,
        device,
        tile=tile,
        context=context,
        dtype=dtype,
        backends=backends,
        state_dir=state_dir,
        on_measure=say_measuring,
        on_prepare=lambda message: print(f"{message} ...", file=sys.stderr),
    )


def open_and_plan(spec: ModelSpec, args: argparse.Namespace) -> tuple[DeviceInfo, AutoPlan]:
    """The device ``args.device``, ``spec`` loaded on it (``args.weights`` or its own) and its
    measured plan under the plan options of ``add_plan_arguments`` plus ``--tile``/``--overlap``."""
    device = resolve_device(args.device)
    model = open_model(spec, args.weights).to(device.spec)
    chosen = choose_plan(
        spec,
        model,
        device,
        tile=args.tile,
        context=args.overlap,
        precision=args.precision,
        backend=args.backend,
    )
    return device, chosen


def file_targets(sources: list[Path], model_id: str, out_dir: Path | None) -> dict[Path, Path]:
    """Each source file's output: ``<stem>_<model>.png`` beside it or in ``out_dir``, named by
    ``naming.output_names`` per output folder so that no two sources share one."""
    by_folder: dict[Path, list[Path]] = {}
    for source in sources:
        by_folder.setdefault(out_dir if out_dir is not None else source.parent, []).append(source)
    return {
        source: folder / name
        for folder, group in by_folder.items()
        for source, name in zip(group, output_names(group, model_id), strict=True)
    }


def run(args: argparse.Namespace) -> int:
    spec, library_file = resolve_model(args.model, args.scale, paths.user_library_dir())
    if args.weights is None:
        args.weights = library_file
    if spec.learned and spec.weights is None and args.weights is None:
        print(
            f"warning: {spec.id} has no trained weights; it runs with random weights "
            "(use --weights FILE, or a model with weights from 'irstudio models')",
            file=sys.stderr,
        )
    inputs = _distinct(args.inputs)
    missing = [source for source in inputs if not source.exists()]
    for source in missing:
        print(f"irstudio: error: {source}: no such file or folder", file=sys.stderr)
    if len(missing) == len(inputs):
        return 1  # before loading the model or measuring anything
    if args.cluster is not None:
        return _restore_on_cluster(args, spec.id, inputs, missing)
    device, chosen = open_and_plan(spec, args)
    plan, model = chosen.plan, chosen.module
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"{spec.id} on {device.describe()}: {chosen.describe()}, context {plan.context}", file=sys.stderr)
    failures = len(missing)
    folders = [source for source in inputs if source.is_dir()]
    for folder, out_dir in batch_output_dirs(folders, spec.id, args.out, len(inputs)).items():
        failures += restore_folder(model, folder, out_dir, spec.id, plan, args)
    files = [source for source in inputs if source not in missing and not source.is_dir()]
    for source, target in file_targets(files, spec.id, args.out).items():
        if os.path.lexists(target) and not args.overwrite:
            print(f"{target}: exists, skipped (--overwrite replaces it)", file=sys.stderr)
            continue
        try:
            restore_file(model, source, target, plan, overwrite=args.overwrite)
        except PER_FILE_ERRORS as error:
            failures += 1
            # an image error names its own file (the output, for a write failure)
            message = (
                str(error)
                if isinstance(error, ImageError)
                else f"{source}: {describe_file_error(error, source)}"
            )
            print(f"irstudio: error: {message}", file=sys.stderr)
    return 1 if failures else 0


def _restore_on_cluster(
    args: argparse.Namespace, model_id: str, inputs: list[Path], missing: list[Path]
) -> int:
    """``--cluster``: the same folders and files, restored by the cluster's workers (``cluster_cmd``)."""
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    folders = [source for source in inputs if source.is_dir()]
    files = [source for source in inputs if source not in missing and not source.is_dir()]
    folder_outputs = batch_output_dirs(folders, model_id, args.out, len(inputs))
    file_outputs = file_targets(files, model_id, args.out)
    return cluster_cmd.restore(args, model_id, folder_outputs, file_outputs, len(missing))


def _distinct(inputs: list[Path]) -> list[Path]:
    """``inputs`` without repeats of one file (``a.png ./a.png``), in order."""
    seen: set[Path] = set()
    distinct = []
    for source in inputs:
        key = source.resolve()
        if key not in seen:
            seen.add(key)
            distinct.append(source)
    return distinct


def restore_file(model, source: Path, target: Path, plan, *, overwrite: bool) -> Path:
    """Read ``source``, restore it tile by tile with a progress line, write ``target`` atomically."""
    progress = ProgressLine(source.name)
    steps = restore_to_file(model, source, target, plan, overwrite=overwrite)
    try:
        while True:
            try:
                step = next(steps)
            except StopIteration as finished:
                written = finished.value
                break
            progress.update(step.index + 1, step.total)
    except BaseException:
        progress.abort()
        raise
    progress.finish(f"→ {written}")
    return written


def batch_output_dirs(
    folders: list[Path], model_id: str, out: Path | None, input_count: int
) -> dict[Path, Path]:
    """Each folder's output: ``out`` for the only input, else ``out/<folder name>`` (``-2``, ``-3``
    for folders of the same name, so no two share one); ``<folder>_<model>`` beside it without
    ``out``."""
    if out is None:
        return {folder: default_output_dir(folder, model_id) for folder in folders}
    if input_count == 1:
        return {folder: out for folder in folders}
    names = unique_labels([folder.resolve().name for folder in folders])
    return {folder: out / name for folder, name in zip(folders, names, strict=True)}


def restore_folder(model, folder: Path, out_dir: Path, model_id: str, plan, args: argparse.Namespace) -> int:
    """Restore the images in ``folder`` into a mirrored tree in ``out_dir``; the number that failed."""
    if args.overwrite:
        print(
            f"{folder}: --overwrite does not apply to folders; existing outputs are skipped", file=sys.stderr
        )
    try:
        items = plan_batch(folder, out_dir, model_id, recursive=args.recursive)
        print(f"{folder}: {len(items)} images → {out_dir}", file=sys.stderr)
        batch = run_batch(model, items, plan, journal=journal_path(out_dir))
        progress: ProgressLine | None = None
        while True:
            try:
                event = next(batch)
            except StopIteration as finished:
                report = finished.value
                break
            progress = _show_batch_event(event, progress)
    except BatchError as error:  # refused before any file was restored (the journal, the folders)
        print(f"irstudio: error: {error}", file=sys.stderr)
        return 1
    print(f"{folder}: {report.summary()}", file=sys.stderr)
    for failure in report.failed:
        print(f"  failed: {failure.relative}: {failure.reason}", file=sys.stderr)
    return len(report.failed)


def _show_batch_event(event: BatchEvent, progress: ProgressLine | None) -> ProgressLine | None:
    """Print one batch event on stderr; returns the progress line of the current file (or None)."""
    label = f"[{event.index + 1}/{event.total}] {event.item.relative}"
    if event.kind is BatchEventKind.STARTED:
        return ProgressLine(label)
    if event.kind is BatchEventKind.PROGRESS and progress is not None:
        progress.update(event.tile, event.tiles)
        return progress
    if event.kind is BatchEventKind.WRITTEN and progress is not None:
        progress.finish(f"→ {event.item.target}")
    elif event.kind is BatchEventKind.SKIPPED:
        print(f"{label}: {event.message}, skipped", file=sys.stderr)
    elif event.kind is BatchEventKind.FAILED:
        print(f"\rirstudio: error: {event.item.source}: {event.message}".ljust(80), file=sys.stderr)
    return None
