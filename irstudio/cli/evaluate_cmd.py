"""``irstudio eval --model ID --data DIR --task sr|denoise|jpeg|derain``: benchmark scores.

Prints PSNR/SSIM per image and the mean, with the protocol (inference/evaluation.py). ``--json``
prints one object with keys ``psnr``, ``ssim``, ``n``, ``per_image`` (list of name/psnr/ssim),
``model``, ``protocol``, ``plan`` (how it ran: backend, precision, tile). It is strict JSON: a PSNR
that is infinite (the output equals the target exactly) is ``null``.

It runs the way ``irstudio restore`` does (``restore_cmd.open_and_plan``), except that
``--precision auto`` means fp32 on the CPU: scores are reported as the papers do, and do not depend on
the engine (OpenVINO and ONNX Runtime are used only where they match PyTorch within 1e-4).

``--cluster [ADDRESS]`` scores the images on a Ray cluster's workers (``cli.cluster_cmd``): the same
lines and JSON, the same numbers (each image degraded with its own seed), ``plan`` the workers'.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Generator
from pathlib import Path

from irstudio import paths
from irstudio.cli import cluster_cmd
from irstudio.cli.arguments import NON_NEGATIVE, NON_NEGATIVE_NUMBER, POSITIVE, QUALITY, SEED
from irstudio.cli.restore_cmd import AUTO, add_plan_arguments, open_and_plan
from irstudio.core.device import resolve_device
from irstudio.inference.cluster import evaluate_on_cluster
from irstudio.inference.evaluation import EvalProtocol, EvalSummary, ImageScore, evaluate, find_cases
from irstudio.models.library import resolve_model
from irstudio.models.spec import Task


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="measure PSNR/SSIM of a model on a benchmark folder")
    parser.add_argument("--model", "-m", required=True)
    parser.add_argument("--data", required=True, type=Path, help="benchmark folder (see the docs)")
    parser.add_argument("--task", required=True, choices=[t.value for t in Task])
    parser.add_argument("--scale", type=POSITIVE, default=None, help="SR scale (default: the model's)")
    parser.add_argument("--sigma", type=NON_NEGATIVE_NUMBER, default=25.0, help="noise σ on the 0-255 scale")
    parser.add_argument("--quality", type=QUALITY, default=10, help="JPEG quality")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--metric-space", choices=("y", "rgb"), default=None)
    parser.add_argument("--ids", type=Path, default=None, help="a file of image stems to keep (e.g. CBSD68)")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument(
        "--tile", type=POSITIVE, default=None, help="tile side in input pixels (default: auto)"
    )
    parser.add_argument("--overlap", type=NON_NEGATIVE, default=None, help="context pixels around each tile")
    parser.add_argument("--device", default="auto")
    add_plan_arguments(parser)
    parser.add_argument("--json", action="store_true")
    cluster_cmd.add_cluster_arguments(parser)
    parser.set_defaults(run=run)


def _read_ids(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(args: argparse.Namespace) -> int:
    spec, library_file = resolve_model(args.model, args.scale, paths.user_library_dir())
    if args.weights is None:
        args.weights = library_file
    task = Task(args.task)
    scale = args.scale or spec.scale
    if scale != spec.scale:
        raise ValueError(f"{spec.id} upscales x{spec.scale}, not x{scale}")
    protocol = EvalProtocol(
        task=task,
        scale=scale,
        sigma=args.sigma,
        quality=args.quality,
        seed=args.seed,
        metric_space=args.metric_space,
    )
    cluster = args.cluster is not None
    cases = find_cases(args.data.resolve() if cluster else args.data, protocol, _read_ids(args.ids))
    if cluster:
        with cluster_cmd.open_pool(args, fp32_on_cpu=True) as pool:
            pool.wait_ready()
            print(f"{spec.id} on the cluster: {pool.describe()}", file=sys.stderr)
            summary = _show_scores(evaluate_on_cluster(pool, cases, protocol), as_json=args.json)
            plan = cluster_cmd.plan_description(pool)
    else:
        if args.precision == AUTO and resolve_device(args.device).spec == "cpu":
            args.precision = "fp32"  # scores in fp32, engine-independent (bf16 is for restoring photos)
        device, chosen = open_and_plan(spec, args)
        print(f"{spec.id} on {device.describe()}: {chosen.describe()}", file=sys.stderr)
        summary = _show_scores(evaluate(chosen.module, cases, protocol, chosen.plan), as_json=args.json)
        plan = chosen.describe()
    _print_summary(spec.id, plan, summary, as_json=args.json)
    return 0


def _show_scores(results: Generator[ImageScore, None, EvalSummary], *, as_json: bool) -> EvalSummary:
    """Print each image's score as it comes (on stderr with ``--json``); the summary."""
    while True:
        try:
            image_score = next(results)
        except StopIteration as finished:
            return finished.value
        if not as_json:
            print(f"{image_score.name:<24} {image_score.psnr:7.3f} dB  SSIM {image_score.ssim:.4f}")
        else:
            print(f"{image_score.name}: {image_score.psnr:.3f} dB", file=sys.stderr)


def _print_summary(model_id: str, plan: str, summary: EvalSummary, *, as_json: bool) -> None:
    """The mean line, or with ``as_json`` the one JSON document (module doc)."""
    if not as_json:
        print(
            f"{'mean':<24} {summary.psnr:7.3f} dB  SSIM {summary.ssim:.4f}  ({len(summary.scores)} images; "
            f"{summary.protocol})"
        )
        return
    document = {
        "model": model_id,
        "protocol": summary.protocol,
        "plan": plan,
        "psnr": _finite(summary.psnr),
        "ssim": _finite(summary.ssim),
        "n": len(summary.scores),
        "per_image": [
            {"name": s.name, "psnr": _finite(s.psnr), "ssim": _finite(s.ssim)} for s in summary.scores
        ],
    }
    print(json.dumps(document, allow_nan=False))


def _finite(value: float) -> float | None:
    """``value``, or None where JSON has no number for it (an infinite PSNR)."""
    return value if math.isfinite(value) else None
