"""``irstudio bench --engine``: how close each CPU backend runs a model to the machine's fp32 peak.

In one process, one run (so the ratios share the machine's state): the fp32 GEMM peak (a square
``torch.mm`` of ``GEMM_SIDE``, median of 5, at the bench's threads) and, per model, one forward pass
at the interior tile's read shape of its committed CPU plan, timed for eager PyTorch, OpenVINO fp32
and OpenVINO bf16 (round-robin, median of ``--repeat``, after a warm-up). Reported: GFLOP of the
pass (2 x multiply-adds, ``FlopCounterMode``), seconds and % of the GEMM peak per backend, and the
bf16 / fp32 speed-up. Targets (issue "first restore in seconds"): the automatic path >= 30 % of the
peak in fp32 and >= 1.8x that with bf16 where the CPU has it. Printed, never asserted.
"""

from __future__ import annotations

import json
import sys
from typing import Any

GEMM_SIDE = 2048
PEAK_SHARE_TARGET = 0.30
BF16_SPEEDUP_TARGET = 1.8


def gemm_peak_gflops(repeat: int = 5) -> float:
    """fp32 GFLOP/s of a ``GEMM_SIDE`` square matrix product at torch's current threads."""
    import torch

    from irstudio.inference.backends import median_seconds

    a = torch.rand(GEMM_SIDE, GEMM_SIDE)
    b = torch.rand(GEMM_SIDE, GEMM_SIDE)
    seconds = median_seconds(lambda: torch.mm(a, b), "cpu", repeat=repeat, warmup=1)
    return 2 * GEMM_SIDE**3 / seconds / 1e9


def _flops(model: Any, shape: tuple[int, int]) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.rand(1, 3, *shape))
    return int(counter.get_total_flops())


def model_at_cpu_tile(model_id: str) -> tuple[Any, Any, int]:
    """(spec, eval-mode model, side): the model and the read side of its architecture's committed
    CPU tile (core + context on both sides), the shape the engine benches run."""
    from irstudio.core import resolve_device
    from irstudio.inference.planning import plan_for, read_side
    from irstudio.inference.planning.known import known_cpu_plan
    from irstudio.models import open_model, resolve_id

    spec = resolve_id(model_id)
    model = open_model(spec).eval()
    side = read_side(plan_for(spec, resolve_device("cpu"), tile=known_cpu_plan(spec.arch).tile)) or 256
    return spec, model, side


def engine_row(model_id: str, repeat: int, peak_gflops: float) -> dict[str, Any]:
    """Times of one forward at the plan's read shape per backend, with GFLOP/s and % of the peak."""
    import torch

    from irstudio.inference.backends import (
        EAGER,
        OPENVINO,
        OPENVINO_BF16,
        BackendUnavailable,
        build_backend,
        interleaved_medians,
    )

    spec, model, side = model_at_cpu_tile(model_id)
    shape = (side, side)
    modules, notes = {EAGER: model}, {}
    for name in (OPENVINO, OPENVINO_BF16):
        try:
            modules[name] = build_backend(
                name, model, model_id=spec.id, device="cpu", shape=shape, multiple=spec.tile_multiple
            )
        except BackendUnavailable as error:
            notes[name] = str(error)
    x = torch.rand(1, spec.in_channels, *shape)

    def runner(module: Any) -> Any:
        def run() -> None:
            with torch.inference_mode():
                module(x)

        return run

    seconds = interleaved_medians(
        [(n, runner(m)) for n, m in modules.items()], "cpu", repeat=repeat, warmup=1
    )
    gflop = _flops(model, shape) / 1e9
    row: dict[str, Any] = {"model": spec.id, "shape": list(shape), "gflop": gflop, "notes": notes}
    row["backends"] = {
        name: {
            "seconds": s,
            "gflops": gflop / s,
            "peak_share": gflop / s / peak_gflops,
            "dtype": getattr(modules[name], "dtype", "fp32"),
        }
        for name, s in seconds.items()
    }
    if OPENVINO in seconds and OPENVINO_BF16 in seconds:
        row["bf16_speedup"] = seconds[OPENVINO] / seconds[OPENVINO_BF16]
    return row


def format_engine(rows: list[dict[str, Any]], hardware: str, peak: float) -> str:
    lines = [
        f"IR Studio CPU engine bench on {hardware}",
        f"fp32 GEMM peak ({GEMM_SIDE}x{GEMM_SIDE} torch.mm): {peak:.1f} GFLOP/s",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['model']}: error: {row['error']}")
            continue
        cells = [
            f"{name} ({data['dtype']}) {data['seconds']:.3f} s = {100 * data['peak_share']:.1f} % of peak"
            for name, data in row["backends"].items()
        ]
        speedup = row.get("bf16_speedup")
        extra = f"; bf16/fp32 {speedup:.2f}x" if speedup else ""
        lines.append(
            f"{row['model']} at {row['shape'][0]}x{row['shape'][1]} ({row['gflop']:.1f} GFLOP): "
            + ", ".join(cells)
            + extra
            + "".join(f"; {name}: {why}" for name, why in row["notes"].items())
        )
    lines.append(
        f"targets: the automatic path >= {100 * PEAK_SHARE_TARGET:.0f} % of the fp32 GEMM peak in fp32, "
        f"bf16 >= {BF16_SPEEDUP_TARGET}x fp32 where the CPU has it."
    )
    return "\n".join(lines)


def run_engine(models: list[str], repeat: int, hardware: str, as_json: bool) -> int:
    """``irstudio bench --engine``: print the report (or JSON); exit 1 when any model failed."""
    peak = gemm_peak_gflops()
    rows = []
    for model_id in models:
        if not as_json:
            print(f"timing {model_id} on each CPU backend ...", file=sys.stderr, flush=True)
        try:
            rows.append(engine_row(model_id, max(1, repeat), peak))
        except (KeyError, ValueError, RuntimeError) as error:
            rows.append({"model": model_id, "error": str(error)})
    if as_json:
        print(json.dumps({"hardware": hardware, "gemm_peak_gflops": peak, "results": rows}, indent=1))
    else:
        print(format_engine(rows, hardware, peak))
    return 1 if any("error" in row for row in rows) else 0
