"""``irstudio models [--archs] [--json]``: the registry's models and the user's library.

The table has a header row and columns as wide as their longest value. ``--json`` prints a list of
objects with keys ``id``, ``arch``, ``task``, ``tasks``, ``scale``, ``params``, ``weights`` (file
name or null) and ``source`` ("registry" or "library": a model the user trained and exported, run
with ``irstudio restore --model <its id>``). ``--archs`` restricts the list to architecture presets
and adds ``macs_720p`` (multiply-adds for a 1280x720 output).
"""

from __future__ import annotations

import argparse
import json

from irstudio import paths
from irstudio.models.catalog import REGISTRY
from irstudio.models.library import library_models, library_spec
from irstudio.models.spec import ModelSpec


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="list the models, your library and the architecture presets")
    parser.add_argument("--archs", action="store_true", help="architecture presets only, with MACs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def describe(
    spec: ModelSpec, *, with_macs: bool, source: str = "registry", weights: str | None = None
) -> dict:
    entry: dict[str, object] = {
        "id": spec.id,
        "arch": spec.arch,
        "task": spec.tasks[0].value,
        "tasks": [task.value for task in spec.tasks],
        "scale": spec.scale,
        "params": spec.params,
        "weights": weights if weights is not None else spec.weights,
        "source": source,
    }
    if with_macs:
        entry["macs_720p"] = spec.macs_720p
    return entry


def table(entries: list[dict[str, object]], *, with_macs: bool) -> list[str]:
    """The entries as text rows under a header, each column as wide as its longest cell."""
    header = ["ID", "ARCH", "TASKS", "SCALE", "PARAMS", *(["GMAC@720p"] if with_macs else []), "WEIGHTS"]
    rows = [header]
    for entry in entries:
        macs = entry.get("macs_720p")
        row = [
            str(entry["id"]),
            str(entry["arch"]),
            ",".join(entry["tasks"]),  # type: ignore[arg-type]
            f"x{entry['scale']}",
            f"{entry['params']:,}",
            *([f"{macs / 1e9:.1f}" if isinstance(macs, int) else "-"] if with_macs else []),
            f"{entry['weights'] or '-'}{' (your library)' if entry['source'] == 'library' else ''}",
        ]
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    numeric = {header.index("PARAMS"), *([header.index("GMAC@720p")] if with_macs else [])}
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def run(args: argparse.Namespace) -> int:
    specs = [s for s in REGISTRY if s.learned] if args.archs else list(REGISTRY)
    entries = [describe(spec, with_macs=args.archs) for spec in specs]
    if not args.archs:
        for model in library_models(paths.user_library_dir()):
            spec = library_spec(model)
            entries.append(describe(spec, with_macs=False, source="library", weights=model.path.name))
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        print("\n".join(table(entries, with_macs=args.archs)))
    return 0
