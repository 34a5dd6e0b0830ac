"""``irstudio bench``: measure each model's speed and memory on this machine; a table, or ``--json``.

Per model, in a fresh subprocess (so peak memories do not mix; a first subprocess makes the choices
below, which are cached, so exports and probes are not in the measured peak): parameters; MACs
for a square input of each ``--sizes`` side; untiled latency at each size (median of ``--repeat``
after one warm-up); the backend, precision and tile ``auto_plan`` chose (measured once and cached);
tiled throughput in input megapixels per second on a synthetic ``--photo-mp`` photo (default 12,
4:3); the peak memory of that restore (CUDA max allocated, or the process's max RSS, Linux VmHWM
reset just before it); and tiling overhead: a square image two tiles wide (narrower when an untiled
pass of that would not fit in memory) run tiled and untiled, same pixels, same backend (throughput
ratio = untiled seconds / tiled seconds); on the CPU, the tile sides timed for the tile choice.
CPU threads = physical cores unless ``--threads``. The hardware is named in the output.

``irstudio bench --memory``: peak memory while restoring photos of ``--memory-mp`` megapixels
(default 6 and 24; sides rounded to whole tiles, so both sizes run the same tiles) with one model at
one tile size, each in a fresh subprocess. The photo and the output have ``--memory-samples``
(default uint8: an 8-bit photo restored to an 8-bit file, as ``irstudio restore`` does). It reports
the total peak, the peak above the resident size before the restore (the input is already
loaded), the tile working set (that minus the output array) and how many full-size output copies
the restore added. Bounded memory means the working-set ratio 24 MP / 6 MP stays near 1.0, one copy
(the output) is added, and with 8-bit samples the total peak ratio stays near 1.0 too.

Figures are printed, never asserted: this is a benchmark, not a test. Contract for scripts: with
``--json`` stdout is one JSON document ``{"hardware": ..., "results": [...]}``; exit 1 when any
model failed (its row carries ``error``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from irstudio.cli.arguments import POSITIVE, POSITIVE_NUMBER

RESULT_TAG = "BENCH-RESULT "
NO_CWD_ON_PATH = "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
"""Start of every ``python -c`` the bench runs: ``-c`` puts the current folder first on ``sys.path``;
dropped, so a folder named ``irstudio`` where the bench runs cannot shadow the installed package."""
WORKER_ENTRY = (
    NO_CWD_ON_PATH + "from irstudio.cli.bench_cmd import worker_main; sys.exit(worker_main(sys.argv[1:]))"
)
MIB = 2**20


# ------------------------------------------------------------------------------------------ parsing


def parse_sizes(text: str) -> list[int]:
    """``"256,1024"`` -> [256, 1024]; every size a positive integer."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes must be integers separated by commas, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def parse_megapixels(text: str) -> list[float]:
    """``"6,24"`` -> [6.0, 24.0]; every value > 0."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"megapixels must be numbers separated by commas, got {text!r}"
        ) from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"megapixels must be > 0, got {text!r}")
    return values


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("bench", help="measure speed and memory of models on this machine")
    parser.add_argument("--models", nargs="+", metavar="ID", help="model ids (default: every learned model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[256, 1024], help="latency sizes (default 256,1024)"
    )
    parser.add_argument(
        "--repeat", type=POSITIVE, default=3, help="timed runs per figure, after a warm-up (default 3)"
    )
    parser.add_argument(
        "--photo-mp", type=POSITIVE_NUMBER, default=12.0, help="photo size for throughput (default 12)"
    )
    parser.add_argument(
        "--tile", type=POSITIVE, default=None, help="tile side (default: auto from measured memory)"
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma list of backends to consider (eager, eager-channels-last, openvino, openvino-bf16, "
        "onnx, compile; default: all but onnx and compile)",
    )
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    parser.add_argument(
        "--threads", type=POSITIVE, default=None, help="CPU threads (default: one per physical core)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument(
        "--engine",
        action="store_true",
        help="per model, one forward at its CPU tile on eager, OpenVINO fp32 and bf16, as %% of the fp32 "
        "GEMM peak measured in the same run",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --engine: where OpenVINO spends each model's time, per node type (fp32 and bf16)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="the first-run experience: `irstudio restore` of a --photo-mp photo from an empty state "
        "folder, then again warm (wall time and peak memory of each)",
    )
    parser.add_argument(
        "--memory", action="store_true", help="measure peak memory at --memory-mp sizes instead"
    )
    parser.add_argument(
        "--memory-model", default="compacter-x1", help="model for --memory (default compacter-x1)"
    )
    parser.add_argument(
        "--memory-mp",
        type=parse_megapixels,
        default=[6.0, 24.0],
        help="photo sizes for --memory (default 6,24)",
    )
    parser.add_argument(
        "--memory-samples",
        choices=("uint8", "uint16", "float32"),
        default="uint8",
        help="sample type of the photo and of the restored output for --memory (default uint8: an "
        "8-bit photo restored to an 8-bit file, as `irstudio restore` does)",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="cache folder (default: the user state dir)"
    )
    parser.add_argument(
        "--timeout", type=POSITIVE_NUMBER, default=None, help="seconds allowed per model subprocess"
    )
    parser.set_defaults(run=run)


# ------------------------------------------------------------------------------------------ parent


def _default_models() -> list[str]:
    from irstudio.models import REGISTRY

    return [spec.id for spec in REGISTRY if spec.learned]


def _shipped_models() -> list[str]:
    """The models with shipped weights (what a new user runs first)."""
    from irstudio.models import REGISTRY

    return [spec.id for spec in REGISTRY if spec.learned and spec.weights]


def _worker_config(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    return {
        "device": args.device,
        "sizes": args.sizes,
        "repeat": max(1, args.repeat),
        "photo_mp": args.photo_mp,
        "tile": args.tile,
        "backends": args.backends.split(",") if args.backends else None,
        "compile": bool(args.compile),
        "state_dir": str(args.state_dir) if args.state_dir else None,
        "threads": args.threads,
        **extra,
    }


def run_worker(config: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh Python process; its result dict (``error`` set on failure)."""
    command = [sys.executable, "-c", WORKER_ENTRY, json.dumps(config)]
    label = config.get("model", "?")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"model": label, "error": f"timed out after {timeout:g} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_TAG)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": label, "error": f"worker exit {done.returncode}: {tail}"}
    return json.loads(lines[-1][len(RESULT_TAG) :])


def _prepared_run(config: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """Choose backend, precision and tile in one process (exports and probes fill the caches), then
    measure in a fresh one that finds them cached, so their memory is not in the measured peak.
    Classical baselines and unknown ids have nothing to prepare."""
    from irstudio.models import resolve_id

    try:
        learned = resolve_id(config["model"]).learned
    except (KeyError, ValueError):
        learned = False
    if not learned:
        return run_worker(config, timeout)
    prepared = run_worker({**config, "mode": "prepare"}, timeout)
    if "error" in prepared:
        return prepared
    return run_worker(config, timeout)


def _hardware_line(device_name: str, threads: int | None) -> str:
    from irstudio.core import resolve_device
    from irstudio.inference.backends import bench_threads, describe_hardware, use_threads

    device = resolve_device(device_name)
    if device.spec == "cpu":
        use_threads(threads or bench_threads())
    return describe_hardware(device)


def run(args: argparse.Namespace) -> int:
    hardware = _hardware_line(args.device, args.threads)
    if args.memory:
        return _run_memory(args, hardware)
    if args.engine and args.profile:
        from irstudio.cli.bench_profile import run_profile
        from irstudio.inference.backends import bench_threads

        return run_profile(
            args.models or _shipped_models(), args.threads or bench_threads(), hardware, args.json
        )
    if args.engine:
        from irstudio.cli.bench_engine import run_engine

        return run_engine(args.models or _shipped_models(), args.repeat, hardware, args.json)
    if args.cold:
        from irstudio.cli.bench_cold import run_cold

        models = args.models or _shipped_models()
        return run_cold(models, args.photo_mp, args.threads, args.timeout, hardware, args.json)
    results = []
    for model_id in args.models or _default_models():
        if not args.json:
            print(f"measuring {model_id} ...", file=sys.stderr, flush=True)
        results.append(_prepared_run(_worker_config(args, mode="model", model=model_id), args.timeout))
    if args.json:
        print(json.dumps({"hardware": hardware, "results": results}, indent=1))
    else:
        print(format_table(results, hardware, args))
    return 1 if any("error" in row for row in results) else 0


def _run_memory(args: argparse.Namespace, hardware: str) -> int:
    rows = []
    tile = args.tile
    for megapixels in args.memory_mp:
        if not args.json:
            print(f"restoring {megapixels:g} MP with {args.memory_model} ...", file=sys.stderr, flush=True)
        config = _worker_config(
            args,
            mode="memory",
            model=args.memory_model,
            memory_mp=megapixels,
            memory_samples=args.memory_samples,
            tile=tile,
        )
        row = _prepared_run(config, args.timeout)
        tile = row.get("tile", tile)
        rows.append(row)
    summary = memory_summary(rows)
    if args.json:
        print(json.dumps({"hardware": hardware, "results": rows, "summary": summary}, indent=1))
    else:
        print(format_memory(rows, summary, hardware))
    return 1 if any("error" in row for row in rows) else 0


# ------------------------------------------------------------------------------------------ output


def _fmt(value: float | None, pattern: str = "{:.1f}", missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return pattern.format(value)


def _row_cells(row: dict[str, Any], sizes: Sequence[int]) -> list[str]:
    if "error" in row:
        return [row["model"], "error: " + row["error"]]
    backend = row["backend"]
    latency = [_fmt(row["latency_ms"].get(str(size)), "{:.4g}") for size in sizes]
    macs = [_fmt(row["macs_g"].get(str(size)), "{:.1f}") for size in sizes]
    ort_ratio = backend.get("onnx_speedup_over_eager")
    overhead = row.get("overhead", {})
    return [
        row["model"],
        f"{row['params'] / 1e3:.0f}K",
        *macs,
        *latency,
        _fmt(row["photo"]["mp_per_s"], "{:.3f}"),
        _fmt(row["peak_memory"]["bytes"] / MIB, "{:.0f}"),
        _fmt(overhead.get("throughput_ratio"), "{:.2f}", missing="no room" if "skipped" in overhead else "-"),
        backend["chosen"],
        _fmt(backend.get("speedup_over_eager"), "{:.2f}x"),
        _fmt(ort_ratio, "{:.2f}x", missing=backend.get("onnx_note", "-")[:40] or "-"),
        row["precision"]["dtype"],
        str(row["tile"]),
    ]


def _cpu_tile_line(row: dict[str, Any]) -> str:
    """E.g. ``"m: CPU tile 768 timed; µs per core pixel: 256 px 70.2, 512 px 49.1, 768 px 43.8"``."""
    verdict = row["cpu_tile"]
    timed = ", ".join(f"{side} px {cost:.1f}" for side, cost in verdict["us_per_core_px"].items())
    return f"{row['model']}: CPU tile {verdict['tile']} timed; µs per core pixel: {timed}"


def format_table(results: Sequence[dict[str, Any]], hardware: str, args: argparse.Namespace) -> str:
    """The bench table: one row per model, columns named with their units."""
    sizes = args.sizes
    header = [
        "model",
        "params",
        *[f"GMACs@{s}" for s in sizes],
        *[f"ms@{s}" for s in sizes],
        f"MP/s@{args.photo_mp:g}MP",
        "peak MiB",
        "tiled/untiled",
        "backend",
        "auto/eager",
        "ORT/eager",
        "precision",
        "tile",
    ]
    rows = [header] + [_row_cells(row, sizes) for row in results]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(header))]
    lines = [f"IR Studio bench on {hardware}"]
    for r in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    lines += [_cpu_tile_line(row) for row in results if row.get("cpu_tile")]
    memory_kind = next((row["peak_memory"]["kind"] for row in results if "peak_memory" in row), "")
    lines.append(
        f"ms@N: untiled latency for an NxN input, median of {args.repeat}; MP/s: input megapixels per second "
        f"restoring a {args.photo_mp:g} MP photo tiled; peak MiB: {memory_kind} during that restore; "
        "tiled/untiled: throughput ratio on the same pixels (a square two tiles wide, or as wide as an "
        "untiled pass fits in memory; no room: not wider than a tile); auto/eager and ORT/eager: speed "
        "ratios at the tile shape (>1 = faster than eager PyTorch)."
    )
    return "\n".join(lines)


def memory_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ratios largest / smallest photo: working set, total peak, and full-size copies added."""
    good = [row for row in rows if "error" not in row]
    if len(good) < 2:
        return {}
    small, large = min(good, key=lambda r: r["megapixels"]), max(good, key=lambda r: r["megapixels"])
    summary: dict[str, Any] = {
        "small_mp": small["megapixels"],
        "large_mp": large["megapixels"],
        "peak_ratio": large["peak_bytes"] / small["peak_bytes"],
        "working_set_ratio": large["working_bytes"] / max(small["working_bytes"], 1),
        "full_size_output_copies": (large["added_bytes"] - small["working_bytes"]) / large["output_bytes"],
    }
    if large.get("device_peak_bytes") and small.get("device_peak_bytes"):
        summary["device_peak_ratio"] = large["device_peak_bytes"] / small["device_peak_bytes"]
    return summary


def _memory_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row.get('megapixels', '?')} MP: error: {row['error']}"
    mib = {key: row[key] / MIB for key in ("peak_bytes", "added_bytes", "output_bytes", "working_bytes")}
    line = (
        f"{row['megapixels']:.3g} MP ({row['width']}x{row['height']} {row.get('samples', 'float32')}) "
        f"{row['model']} tile {row['tile']} "
        f"backend {row['backend']}: peak {mib['peak_bytes']:.0f} MiB ({row['peak_kind']}); "
        f"added by the restore {mib['added_bytes']:.0f} MiB = output {mib['output_bytes']:.0f} MiB "
        f"+ tile working set {mib['working_bytes']:.0f} MiB; input {row['input_bytes'] / MIB:.0f} MiB; "
        f"{row['seconds']:.0f} s"
    )
    if row.get("device_peak_bytes"):
        line += f"; device peak {row['device_peak_bytes'] / MIB:.0f} MiB"
    return line


def format_memory(rows: Sequence[dict[str, Any]], summary: dict[str, Any], hardware: str) -> str:
    """The ``--memory`` report: one line per photo size, then the ratios."""
    lines = [f"IR Studio memory bench on {hardware}", *(_memory_line(row) for row in rows)]
    if summary:
        line = (
            f"{summary['large_mp']:.3g} MP vs {summary['small_mp']:.3g} MP: "
            f"tile working set ratio {summary['working_set_ratio']:.3f}; "
            f"total peak ratio {summary['peak_ratio']:.3f} (input and output arrays grow with the photo); "
            f"full-size output copies added by the restore: {summary['full_size_output_copies']:.2f}"
        )
        if "device_peak_ratio" in summary:
            line += f"; device peak ratio {summary['device_peak_ratio']:.3f}"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ worker


def photo_shape(megapixels: float, multiple: int = 1) -> tuple[int, int]:
    """(height, width) of a 4:3 photo of about ``megapixels`` MP, each side the nearest multiple of
    ``multiple`` (at least one multiple and 8 px)."""
    height = math.sqrt(megapixels * 1e6 * 3 / 4)

    def on_multiple(side: float) -> int:
        return max(8, multiple, round(side / multiple) * multiple)

    return on_multiple(height), on_multiple(height * 4 / 3)


def synthetic_photo(megapixels: float, seed: int = 0, multiple: int = 1) -> Any:
    """A 4:3 float32 RGB image of about ``megapixels`` MP in [0, 1] with smooth and busy areas;
    sides on a multiple of ``multiple`` (see ``photo_shape``)."""
    import numpy as np

    height, width = photo_shape(megapixels, multiple)
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), dtype=np.float32)
    cols = np.linspace(0.1, 0.9, width, dtype=np.float32)
    for y0 in range(0, height, 512):  # band by band: no full-size temporaries beyond the image
        rows = np.linspace(0.1, 0.9, height, dtype=np.float32)[y0 : y0 + 512, None]
        band = image[y0 : y0 + 512]
        band[..., 0] = rows * cols
        band[..., 1] = 0.5 + 0.4 * np.sin(cols * 40.0) * np.cos(rows * 30.0)
        band[..., 2] = rng.random(band.shape[:2], dtype=np.float32) * 0.2 + 0.4
    return image


def count_macs(spec: Any, size: int) -> int | None:
    """Multiply-adds of one forward on a (1, 3, size, size) input (meta tensors; None for baselines)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    if not spec.learned:
        return None
    with torch.device("meta"):
        model = spec.build()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, spec.in_channels, size, size, device="meta"))
    return counter.get_total_flops() // 2


def _prepare(config: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """(spec, device, model, AutoPlan) for a worker, threads set to the physical cores on CPU."""
    import torch

    from irstudio.core import resolve_device
    from irstudio.inference import auto_plan
    from irstudio.inference.backends import bench_threads, use_threads
    from irstudio.models import open_model, resolve_id

    device = resolve_device(config["device"])
    if device.spec == "cpu":
        use_threads(config.get("threads") or bench_threads())
    spec = resolve_id(config["model"])
    torch.manual_seed(0)  # models without shipped weights get the same random weights in every worker,
    model = open_model(spec)  # so the ONNX export cached by the first is found by the next
    state_dir = Path(config["state_dir"]) if config.get("state_dir") else None
    plan = auto_plan(
        spec,
        model,
        device,
        tile=config.get("tile"),
        allow_compile=config.get("compile", False),
        backends=config.get("backends"),
        state_dir=state_dir,
        repeat=config["repeat"],
        measure=True,
    )
    return spec, device, model, plan


def _timed_restore(module: Any, image: Any, plan: Any) -> tuple[Any, float, int]:
    """(output, seconds, tiles) for one tiled restore."""
    from irstudio.inference import restore
    from irstudio.inference.backends import synchronize

    tiles = [0]

    def count(_progress: Any) -> None:
        tiles[0] += 1

    synchronize(plan.device)
    start = time.perf_counter()
    output = restore(module, image, plan, on_progress=count)
    synchronize(plan.device)
    return output, time.perf_counter() - start, tiles[0]


def _measure_peak(device: Any, fn: Any) -> tuple[Any, dict[str, Any]]:
    """Run ``fn``; its result and the peak memory while it ran (device max allocated, or max RSS)."""
    from irstudio.core.memory import (
        PeakMeter,
        peak_resident_bytes,
        release_free_heap,
        resident_bytes,
    )

    release_free_heap()  # as the restore does after each tile, so "added" is not understated
    before = resident_bytes()
    with PeakMeter(device.spec) as meter:
        result = fn()
    if device.spec.startswith("cuda"):
        import torch

        return result, {"kind": "CUDA max allocated", "bytes": torch.cuda.max_memory_allocated(device.spec)}
    peak = peak_resident_bytes() or 0
    return result, {
        "kind": "process max RSS",
        "bytes": peak,
        "added_bytes": meter.peak,
        "before_bytes": before,
    }


def _untiled_pixel_limit(auto: Any) -> int | None:
    """The most input pixels an untiled pass can take within ``MARGIN`` of the free memory, from the
    measured peak of the chosen tile (CPU tile timing) or the memory fit; None when unknown."""
    from irstudio.core.memory import memory_budget
    from irstudio.inference.planning import read_side
    from irstudio.inference.planning.autotile import MARGIN

    plan = auto.plan
    budget = memory_budget(plan.device)
    side = read_side(plan)
    peak = auto.cpu_tile.peak_bytes.get(plan.tile) if auto.cpu_tile is not None else None
    if peak and side:
        per_pixel = peak / (side * side)
    elif auto.tile is not None and auto.tile.fit is not None:
        per_pixel = auto.tile.fit.bytes_per_pixel
    else:
        return None
    if budget is None or per_pixel <= 0:
        return None
    return int(MARGIN * budget / per_pixel)


def _overhead(module: Any, plan: Any, repeat: int, pixel_limit: int | None = None) -> dict[str, Any]:
    """Tiled vs untiled on the same square image, two tiles wide, or as wide as an untiled pass fits
    in ``pixel_limit`` (same backend and precision); ``skipped`` when that is not wider than a tile."""
    from irstudio.inference import restore
    from irstudio.inference.backends import interleaved_medians

    if plan.tile is None:
        return {}
    side = 2 * plan.tile
    if pixel_limit is not None and side * side > pixel_limit:
        side = math.isqrt(pixel_limit) // plan.multiple * plan.multiple
        if side <= plan.tile:
            return {"skipped": f"an untiled pass wider than one {plan.tile} px tile would not fit in memory"}
    image = synthetic_photo(side * side / 1e6, seed=1)[:side, :side].copy()
    whole = replace(plan, tile=None, batch=1)
    seconds = interleaved_medians(
        [("tiled", lambda: restore(module, image, plan)), ("untiled", lambda: restore(module, image, whole))],
        plan.device,
        repeat=repeat,
        warmup=1,
    )
    return {
        "side": side,
        "tiled_s": seconds["tiled"],
        "untiled_s": seconds["untiled"],
        "throughput_ratio": seconds["untiled"] / seconds["tiled"],
        "overhead_pct": 100.0 * (seconds["tiled"] / seconds["untiled"] - 1.0),
    }


def _latencies(module: Any, spec: Any, plan: Any, sizes: Sequence[int], repeat: int) -> dict[str, float]:
    import torch

    from irstudio.core import Precision
    from irstudio.inference.backends import median_seconds

    device = torch.device(plan.device)
    latency = {}
    for size in sizes:
        x = torch.rand(1, spec.in_channels, size, size, device=device)

        def forward(x: torch.Tensor = x) -> None:
            with torch.inference_mode(), Precision(plan.dtype).autocast(device):
                module(x)

        latency[str(size)] = 1e3 * median_seconds(forward, device, repeat=repeat, warmup=1)
        del x
    return latency


def _backend_summary(plan: Any) -> dict[str, Any]:
    from irstudio.inference.backends import EAGER, ONNX

    verdict = plan.backend
    seconds = verdict.seconds
    summary: dict[str, Any] = {
        "chosen": verdict.backend,
        "shape": list(verdict.shape),
        "seconds": seconds,
        "unavailable": verdict.unavailable,
        "notes": list(verdict.notes),
        "cached": verdict.cached,
        "speedup_over_eager": verdict.speedup_over(EAGER),
    }
    if ONNX in seconds and EAGER in seconds:
        summary["onnx_speedup_over_eager"] = seconds[EAGER] / seconds[ONNX]
    elif ONNX in verdict.unavailable:
        summary["onnx_note"] = "unavailable: " + verdict.unavailable[ONNX]
    return summary


def bench_model(config: dict[str, Any]) -> dict[str, Any]:
    """Everything ``irstudio bench`` reports for one model (runs in the worker process)."""
    from irstudio.inference.backends import describe_hardware

    spec, device, model, auto = _prepare(config)
    plan, module = auto.plan, auto.module
    photo = synthetic_photo(config["photo_mp"])
    (output, seconds, tiles), peak = _measure_peak(
        device, functools.partial(_timed_restore, module, photo, plan)
    )
    photo_mp = photo.shape[0] * photo.shape[1] / 1e6
    result = {
        "model": spec.id,
        "name": spec.name,
        "scale": spec.scale,
        "params": sum(p.numel() for p in model.parameters()),
        "macs_g": {
            str(s): (m / 1e9 if (m := count_macs(spec, s)) is not None else None) for s in config["sizes"]
        },
        "photo": {
            "width": photo.shape[1],
            "height": photo.shape[0],
            "mp": photo_mp,
            "seconds": seconds,
            "tiles": tiles,
            "mp_per_s": photo_mp / seconds,
            "output_mp": output.shape[0] * output.shape[1] / 1e6,
        },
        "peak_memory": peak,
        "tile": plan.tile,
        "context": plan.context,
        "batch": plan.batch,
        "backend": _backend_summary(auto),
        "precision": {
            "dtype": getattr(module, "dtype", None) or auto.precision.dtype,  # OpenVINO: its own
            "psnr_db": auto.precision.psnr_db,
            "rejected": auto.precision.rejected,
            "speedup": auto.precision.speedup,
            "note": auto.precision.note,
        },
        "tile_reason": auto.tile.reason if auto.tile is not None else "given",
        "cpu_tile": auto.cpu_tile.to_json() if auto.cpu_tile is not None else None,
        "hardware": describe_hardware(device),
    }
    del output, photo
    result["overhead"] = _overhead(module, plan, config["repeat"], _untiled_pixel_limit(auto))
    result["latency_ms"] = _latencies(module, spec, plan, config["sizes"], config["repeat"])
    return result


def bench_memory(config: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of restoring a ``memory_mp`` photo (runs in the worker process)."""

    import numpy as np

    from irstudio.core.image_io import to_depth
    from irstudio.core.memory import (
        PeakMeter,
        collect_garbage,
        peak_resident_bytes,
        release_free_heap,
        resident_bytes,
    )
    from irstudio.inference import restore

    spec, device, _model, auto = _prepare(config)
    plan, module = auto.plan, auto.module
    side = 2 * (plan.tile or 256)
    restore(module, synthetic_photo(side * side / 1e6, seed=2), plan)  # warm-up: pools, arenas, threads
    photo = synthetic_photo(config["memory_mp"], multiple=plan.tile or 1)  # whole tiles at every size
    samples = np.dtype(config.get("memory_samples", "float32"))
    if samples != photo.dtype:
        photo = to_depth(photo, 8 * samples.itemsize)
    collect_garbage()
    release_free_heap()  # the restore trims after each tile: start from a trimmed heap as well
    baseline = resident_bytes() or 0
    cuda = device.spec.startswith("cuda")
    with PeakMeter("cpu", baseline) as host, PeakMeter(device.spec) if cuda else _Null() as gpu:
        start = time.perf_counter()
        output = restore(module, photo, plan, out_dtype=photo.dtype)
        seconds = time.perf_counter() - start
    added = host.peak if host.peak is not None else 0
    return {
        "model": spec.id,
        "megapixels": photo.shape[0] * photo.shape[1] / 1e6,
        "width": photo.shape[1],
        "height": photo.shape[0],
        "samples": str(photo.dtype),
        "tile": plan.tile,
        "backend": auto.backend.backend,
        "seconds": seconds,
        "peak_kind": "process max RSS",
        "peak_bytes": peak_resident_bytes() or 0,
        "baseline_bytes": baseline,
        "added_bytes": added,
        "input_bytes": photo.nbytes,
        "output_bytes": output.nbytes,
        "working_bytes": added - output.nbytes,
        "device_peak_bytes": gpu.peak if cuda else None,
    }


class _Null:
    peak = None

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def worker_main(argv: Sequence[str]) -> int:
    """Entry of the worker process: argv[0] is the JSON config; prints ``RESULT_TAG`` + JSON."""
    config = json.loads(argv[0])
    mode = config.get("mode")
    if mode == "prepare":
        spec, _device, _model, auto = _prepare(config)
        result: dict[str, Any] = {"model": spec.id, "plan": auto.describe()}
    else:
        result = bench_memory(config) if mode == "memory" else bench_model(config)
    print(RESULT_TAG + json.dumps(result, default=float), flush=True)
    return 0
