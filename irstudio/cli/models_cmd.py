"""``irstudio models [--archs] [--json]``: the models the app offers, in the app's order and names.

The list is ``models.choices.all_choices``, what the app's model panel shows: models with shipped
weights, the user's library (models trained and exported, run with ``irstudio restore --model <its
id>``), classical baselines, then the untrained architecture presets, each with its label. The table
has a header row and columns as wide as their longest value. ``--json`` prints a list of objects with
keys ``id``, ``name`` (the label), ``kind`` ("shipped", "library", "baseline" or "untrained"),
``arch``, ``task``, ``tasks``, ``scale``, ``params``, ``weights`` (file name or null) and ``source``
("registry" or "library"). ``--archs`` restricts the list to the registry's learned models (shipped
and presets) and adds ``macs_720p`` (multiply-adds for a 1280x720 output).
"""

from __future__ import annotations

import argparse
import json

from irstudio import paths
from irstudio.models import LIBRARY, ModelChoice, all_choices, library_models, manifest_records


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="list the models, your library and the architecture presets")
    parser.add_argument("--archs", action="store_true", help="architecture presets only, with MACs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def describe(choice: ModelChoice, *, with_macs: bool) -> dict[str, object]:
    """``choice`` as the JSON object documented above."""
    spec = choice.spec
    entry: dict[str, object] = {
        "id": choice.model_id,
        "name": choice.label,
        "kind": choice.kind,
        "arch": spec.arch,
        "task": choice.tasks[0].value,
        "tasks": [task.value for task in choice.tasks],
        "scale": choice.scale,
        "params": spec.params,
        "weights": choice.weights.name if choice.weights is not None else None,
        "source": "library" if choice.kind == LIBRARY else "registry",
    }
    if with_macs:
        entry["macs_720p"] = spec.macs_720p
    return entry


def listed_choices(*, archs: bool) -> list[ModelChoice]:
    """What ``irstudio models`` lists: every choice (the installation's manifest, the user's library),
    or with ``archs`` the registry's learned models only."""
    library = [] if archs else library_models(paths.user_library_dir())
    choices = all_choices(manifest=manifest_records(paths.manifest_path()), library=library)
    return [choice for choice in choices if choice.spec.learned] if archs else choices


def table(entries: list[dict[str, object]], *, with_macs: bool) -> list[str]:
    """The entries as text rows under a header, each column as wide as its longest cell."""
    macs_header = ["GMAC@720p"] if with_macs else []
    header = ["ID", "ARCH", "TASKS", "SCALE", "PARAMS", *macs_header, "KIND", "WEIGHTS", "NAME"]
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
            str(entry["kind"]),
            f"{entry['weights'] or '-'}{' (your library)' if entry['source'] == 'library' else ''}",
            str(entry["name"]),
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
    entries = [describe(choice, with_macs=args.archs) for choice in listed_choices(archs=args.archs)]
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        print("\n".join(table(entries, with_macs=args.archs)))
    return 0
