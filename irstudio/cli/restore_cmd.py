"""``irstudio restore INPUT... --model ID``: restore images, writing ``<stem>_<model>.png``.

Outputs go next to each input, or into ``--out DIR``; an existing output is never overwritten
(skipped with a message unless ``--overwrite``). Alpha is carried (resized for SR), 16-bit sources
give 16-bit PNGs, EXIF and ICC are kept. Progress on stderr; exit 1 if any input failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from irstudio.cli.progress import ProgressLine
from irstudio.core.device import resolve_device
from irstudio.core.image_io import ImageError, read_image, resize_alpha, write_image
from irstudio.inference.planning import plan_for
from irstudio.inference.runner import run_tiled
from irstudio.models.catalog import resolve_id
from irstudio.models.loading import open_model


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("restore", help="restore images with a model")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    parser.add_argument("--model", "-m", required=True, help="model id ('irstudio models' lists them)")
    parser.add_argument("--scale", type=int, default=None, help="scale for family ids such as 'bicubic'")
    parser.add_argument("--weights", type=Path, default=None, help="a weight file to load into the model")
    parser.add_argument(
        "--out", "-o", type=Path, default=None, help="output folder (default: beside each input)"
    )
    parser.add_argument("--tile", type=int, default=None, help="tile side in input pixels (default: auto)")
    parser.add_argument("--overlap", type=int, default=None, help="context pixels around each tile")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(run=run)


def output_path(source: Path, model_id: str, out_dir: Path | None) -> Path:
    """``<stem>_<model>.png`` beside ``source`` or in ``out_dir``."""
    folder = out_dir if out_dir is not None else source.parent
    return folder / f"{source.stem}_{model_id}.png"


def run(args: argparse.Namespace) -> int:
    spec = resolve_id(args.model, args.scale)
    device = resolve_device(args.device)
    model = open_model(spec, args.weights).to(device.spec)
    plan = plan_for(spec, device, tile=args.tile, context=args.overlap, dtype=args.precision)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"{spec.id} on {device.describe()}, tile {plan.tile or 'whole image'}, context {plan.context}",
        file=sys.stderr,
    )
    failures = 0
    for source in args.inputs:
        target = output_path(source, spec.id, args.out)
        if target.exists() and not args.overwrite:
            print(f"{target}: exists, skipped (--overwrite replaces it)", file=sys.stderr)
            continue
        try:
            restore_file(model, source, target, plan, overwrite=args.overwrite)
        except ImageError as error:
            failures += 1
            print(f"irstudio: error: {error}", file=sys.stderr)
    return 1 if failures else 0


def restore_file(model, source: Path, target: Path, plan, *, overwrite: bool) -> Path:
    """Read ``source``, restore it tile by tile with a progress line, write ``target`` atomically."""
    loaded = read_image(source)
    progress = ProgressLine(source.name)
    runner = run_tiled(model, loaded.rgb, plan)
    while True:
        try:
            step = next(runner)
        except StopIteration as finished:
            output = finished.value
            break
        progress.update(step.index + 1, step.total)
    alpha = loaded.alpha
    if alpha is not None and plan.scale != 1:
        alpha = resize_alpha(alpha, output.shape[0], output.shape[1])
    written = write_image(target, output, alpha=alpha, source=loaded.info, overwrite=overwrite)
    progress.finish(f"→ {written}")
    return written
