"""``irstudio maps INPUT --model ID --kind KIND --out DIR``: write what the map view shows as PNG files.

Kinds: ``attention`` (the architecture's attention / gate / filter maps for ``--pixel`` in ``--layer``),
``energy`` (feature energy per stage), ``fft`` (log-magnitude spectra of input, output, reference and
difference; radial power spectra), ``error`` (|output - reference|, needs ``--reference``). Every map is
one PNG with a title and a colour bar; every chart (fusion / filter / channel-gate weights, spectra, stage
energy) another; the numbers (row sums, high-frequency ratios, error statistics) and notes go to stdout.

Files are ``<stem>_<model>_<kind>[_<layer>][_x<X>y<Y>]_<map>.png`` in ``--out``; an existing file is never
overwritten (it is skipped with a message). ``--list-layers`` prints the layer names and exits.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from irstudio.cli.arguments import NON_NEGATIVE, POSITIVE
from irstudio.core import Region
from irstudio.core.image_io import OutputExistsError, read_image, write_image
from irstudio.inference.maps import (
    MapKind,
    MapRequest,
    MapsResult,
    compute_maps,
    layer_choices,
    render_chart,
    render_map,
)
from irstudio.models import resolve_id


def _pair(text: str) -> tuple[int, int]:
    """``"X,Y"`` -> (x, y)."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected X,Y (two integers), got {text!r}")
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y (two integers), got {text!r}") from None


def _box(text: str) -> Region:
    """``"X0,Y0,X1,Y1"`` (half-open, input pixels) -> Region."""
    try:
        x0, y0, x1, y1 = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 (four integers), got {text!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise argparse.ArgumentTypeError(f"the region {text!r} is empty")
    return Region(y0, x0, y1, x1)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("maps", help="write attention, energy, spectrum or error maps as PNG")
    parser.add_argument("input", type=Path, metavar="INPUT")
    parser.add_argument("--model", "-m", required=True, help="model id ('irstudio models' lists them)")
    parser.add_argument("--kind", "-k", required=True, choices=[kind.value for kind in MapKind])
    parser.add_argument("--out", "-o", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--pixel", type=_pair, default=None, help="query pixel X,Y (default: the centre)")
    parser.add_argument("--layer", default=None, help="map layer (default: the first; see --list-layers)")
    parser.add_argument(
        "--head", type=NON_NEGATIVE, default=None, help="only this head's maps (default: all heads)"
    )
    parser.add_argument("--region", type=_box, default=None, help="X0,Y0,X1,Y1 region to look at")
    parser.add_argument("--reference", type=Path, default=None, help="ground truth (output size)")
    parser.add_argument("--restored", type=Path, default=None, help="the model's output for INPUT, if saved")
    parser.add_argument("--weights", type=Path, default=None, help="a weight file to load into the model")
    parser.add_argument(
        "--crop", type=POSITIVE, default=128, help="crop side for attention/energy (default 128)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--list-layers", action="store_true", help="print the map layers and exit")
    parser.set_defaults(run=run)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def _prefix(args: argparse.Namespace, result: MapsResult) -> str:
    parts = [args.input.stem, result.model_id, result.kind.value]
    if result.layer is not None:
        parts.append(_slug(result.layer))
    if result.kind in (MapKind.ATTENTION,) and result.pixel is not None:
        parts.append(f"x{result.pixel[0]}y{result.pixel[1]}")
    return "_".join(parts)


def _write(path: Path, picture) -> bool:
    """Write ``picture`` unless ``path`` exists; True when written."""
    if path.exists():
        print(f"{path}: exists, skipped (maps never overwrite)", file=sys.stderr)
        return False
    try:
        write_image(path, picture, overwrite=False)
    except OutputExistsError:
        print(f"{path}: exists, skipped (maps never overwrite)", file=sys.stderr)
        return False
    print(path)
    return True


def write_result(result: MapsResult, out: Path, prefix: str, head: int | None = None) -> list[Path]:
    """Write every map (only ``head``'s and the shared ones when given) and chart; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    maps = result.maps if head is None else result.maps_for_head(head)
    for map_image in maps:
        path = out / f"{prefix}_{_slug(map_image.key)}.png"
        if _write(path, render_map(map_image, result.background)):
            written.append(path)
    for chart in result.charts:
        path = out / f"{prefix}_{_slug(chart.key)}.png"
        if _write(path, render_chart(chart)):
            written.append(path)
    return written


def _print_summary(result: MapsResult) -> None:
    crop = result.crop
    print(f"# {result.model_id} {result.kind.value}: crop x {crop.x0}..{crop.x1}, y {crop.y0}..{crop.y1}")
    for name, value in result.numbers.items():
        print(f"# {name}: {value:.6g}")
    for note in result.notes:
        print(f"# {note}")


def run(args: argparse.Namespace) -> int:
    spec = resolve_id(args.model)
    if args.list_layers:
        for choice in layer_choices(spec):
            print(f"{choice.name}\t{choice.label}\t{choice.heads} head(s)")
        return 0
    image = read_image(args.input).rgb
    reference = None if args.reference is None else read_image(args.reference).rgb
    restored = None if args.restored is None else read_image(args.restored).rgb
    request = MapRequest(
        kind=MapKind(args.kind),
        model_id=spec.id,
        image=image,
        region=args.region,
        pixel=args.pixel,
        layer=args.layer,
        head=args.head,
        output=restored,
        reference=reference,
        weights=None if args.weights is None else str(args.weights),
        device=args.device,
        max_side=args.crop,
    )
    steps = compute_maps(request)
    while True:
        try:
            print(next(steps), file=sys.stderr)
        except StopIteration as finished:
            result = finished.value
            break
    _print_summary(result)
    write_result(result, args.out, _prefix(args, result), args.head)
    return 0
