"""``irstudio bench --engine --profile``: where OpenVINO spends a model's CPU time, per node type.

Per model: the forward converted as the app converts it (dynamic graph traced on the 128 px crop),
compiled with ``PERF_COUNT`` in fp32 and in bf16 (where the CPU has native bf16), run at the read
shape of the architecture's committed CPU tile (a warm-up, then the profiled run), and OpenVINO's
per-node times summed by node type: the share of each, its count and the kernels that ran it (a
``ref_`` kernel is OpenVINO's slow reference path). This is how docs/PERFORMANCE.md found the channel
splits and transposes that the layout work removed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from typing import Any

TOP_NODE_TYPES = 8


def _per_node_type(request: Any) -> list[dict[str, Any]]:
    """Summed ``real_time`` per node type of an infer request's last run, largest first."""
    seconds: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    kernels: dict[str, Counter[str]] = defaultdict(Counter)
    for node in request.profiling_info:
        spent = node.real_time.total_seconds()
        seconds[node.node_type] += spent
        counts[node.node_type] += 1
        kernels[node.node_type][node.exec_type] += spent
    total = sum(seconds.values()) or 1.0
    return [
        {
            "node_type": kind,
            "seconds": spent,
            "share": spent / total,
            "count": counts[kind],
            "kernels": [name for name, _ in kernels[kind].most_common(2)],
        }
        for kind, spent in seconds.most_common()
    ]


def profile_row(model_id: str, threads: int) -> dict[str, Any]:
    """The per-node-type profile of ``model_id`` in each precision OpenVINO can run here."""
    import torch

    from irstudio.cli.bench_engine import model_at_cpu_tile
    from irstudio.inference.backends.openvino_graph import (
        convert_model,
        cpu_has_bf16,
        load_openvino,
        trace_crop,
    )

    spec, model, side = model_at_cpu_tile(model_id)
    x = torch.rand(1, spec.in_channels, side, side)
    graph = convert_model(model, trace_crop(x, spec.tile_multiple), dynamic=True)
    core = load_openvino().Core()
    row: dict[str, Any] = {"model": spec.id, "shape": [side, side], "precisions": {}}
    for precision in ("f32", "bf16") if cpu_has_bf16() else ("f32",):
        config = {
            "INFERENCE_PRECISION_HINT": precision,
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "PERF_COUNT": True,
        }
        request = core.compile_model(graph, "CPU", config).create_infer_request()
        for _ in range(2):  # a warm-up, then the run whose counters are read
            request.infer({0: x.numpy()})
        row["precisions"][precision] = _per_node_type(request)
    return row


def format_profile(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        if "error" in row:
            lines.append(f"{row['model']}: error: {row['error']}")
            continue
        for precision, types in row["precisions"].items():
            total = sum(t["seconds"] for t in types)
            lines.append(
                f"{row['model']} at {row['shape'][0]}x{row['shape'][1]}, {precision}: {total:.3f} s in nodes"
            )
            for entry in types[:TOP_NODE_TYPES]:
                lines.append(
                    f"  {entry['node_type']:18s} {100 * entry['share']:5.1f} %  {entry['seconds']:.3f} s  "
                    f"x{entry['count']:<4d} {', '.join(entry['kernels'])}"
                )
    return "\n".join(lines)


def run_profile(models: list[str], threads: int, hardware: str, as_json: bool) -> int:
    """Print the per-node-type profile of each model (or JSON); exit 1 when any model failed."""
    rows = []
    for model_id in models:
        if not as_json:
            print(f"profiling {model_id} in OpenVINO ...", file=sys.stderr, flush=True)
        try:
            rows.append(profile_row(model_id, threads))
        except (KeyError, ValueError, RuntimeError) as error:
            rows.append({"model": model_id, "error": str(error)})
    if as_json:
        print(json.dumps({"hardware": hardware, "results": rows}, indent=1))
    else:
        print(f"IR Studio OpenVINO profile on {hardware}")
        print(format_profile(rows))
    return 1 if any("error" in row for row in rows) else 0
