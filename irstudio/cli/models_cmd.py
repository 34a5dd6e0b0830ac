"""``irstudio models [--archs] [--json]``: what the registry holds.

``--json`` prints a list of objects with keys ``id``, ``arch``, ``task``, ``tasks``, ``scale``,
``params``, ``weights`` (file name or null). ``--archs`` restricts the list to architecture presets
and adds ``macs_720p`` (multiply-adds for a 1280x720 output).
"""

from __future__ import annotations

import argparse
import json

from irstudio.models.catalog import REGISTRY
from irstudio.models.spec import ModelSpec


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="list the models and architecture presets")
    parser.add_argument("--archs", action="store_true", help="architecture presets only, with MACs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def describe(spec: ModelSpec, *, with_macs: bool) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": spec.id,
        "arch": spec.arch,
        "task": spec.tasks[0].value,
        "tasks": [task.value for task in spec.tasks],
        "scale": spec.scale,
        "params": spec.params,
        "weights": spec.weights,
    }
    if with_macs:
        entry["macs_720p"] = spec.macs_720p
    return entry


def _table_row(entry: dict[str, object]) -> str:
    macs = entry.get("macs_720p")
    macs_text = f"  {macs / 1e9:8.1f} GMAC" if isinstance(macs, int) else ""
    weights = entry["weights"] or "-"
    tasks = ",".join(entry["tasks"])  # type: ignore[arg-type]
    head = f"{entry['id']:<16} {entry['arch']:<10} {tasks:<22} x{entry['scale']}"
    return f"{head}  {entry['params']:>11,}{macs_text}  {weights}"


def run(args: argparse.Namespace) -> int:
    specs = [s for s in REGISTRY if s.learned] if args.archs else list(REGISTRY)
    entries = [describe(spec, with_macs=args.archs) for spec in specs]
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        for entry in entries:
            print(_table_row(entry))
    return 0
