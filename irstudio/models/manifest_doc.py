"""weights/manifest.json as a document to edit, and the README model table rendered from it.

The manifest is read by ``models.loading.read_manifest`` only (strict; its ``Manifest.document`` is
the whole JSON, ``{"format": 1, "models": [entry, ...]}``). This module is what the maintainers'
``irstudio weights`` command does with that document: replace or add an entry by id
(``upsert_entry``), write it back (``write_manifest_document``), and render the README table between
``TABLE_START`` and ``TABLE_END``: one row per score with the model, its training, the score, the
baseline and the ``irstudio eval`` command that reproduces it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irstudio.core.atomic import atomic_write
from irstudio.models.loading import sha256_of

MAX_WEIGHTS_BYTES = 16 * 2**20
"""Every shipped weights file stays under this size (the repository budget)."""
TABLE_START = "<!-- model-table:start (irstudio weights table) -->"
TABLE_END = "<!-- model-table:end -->"

file_sha256 = sha256_of


def write_manifest_document(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` as indented JSON, replacing ``path`` atomically."""
    with atomic_write(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def upsert_entry(document: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with ``entry`` in place of the entry with its id (or appended)."""
    models = [dict(existing) for existing in document["models"]]
    for index, existing in enumerate(models):
        if existing.get("id") == entry["id"]:
            models[index] = dict(entry)
            break
    else:
        models.append(dict(entry))
    return {**document, "models": models}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes} min"


def pixels_seen(training: dict[str, Any]) -> int:
    """Input pixels a training record's run drew: batch x patch² per step, over its stages up to
    ``iterations`` (records written before ``pixels_seen`` existed get it computed the same way)."""
    iterations = int(training.get("iterations", 0))
    stages = sorted(training.get("stages", []), key=lambda stage: stage["from_step"])
    total = 0
    for index, stage in enumerate(stages):
        end = stages[index + 1]["from_step"] if index + 1 < len(stages) else iterations
        steps = max(0, min(end, iterations) - stage["from_step"])
        total += steps * stage["batch"] * stage["patch"] ** 2
    return total


def total_pixels_seen(training: Mapping[str, Any]) -> int:
    """Pixels a shipped model has seen over all its runs: this record's and its ``earlier`` ones'."""
    records = [training, *training.get("earlier", [])]
    return sum(int(record.get("pixels_seen") or pixels_seen(record)) for record in records)


def with_earlier_runs(training: dict[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """``training`` of a new run, with the training record of the manifest entry it replaces kept
    under ``earlier`` (most recent first) when the run continued from that entry's weight file;
    unchanged otherwise. The pixels of every run are counted by ``total_pixels_seen``."""
    if previous is None or training.get("started_from") != previous.get("file"):
        return training
    before = dict(previous.get("training", {}))
    older = before.pop("earlier", [])
    before.setdefault("pixels_seen", pixels_seen(before))
    before["sha256"] = previous.get("sha256")
    before["recipe"] = previous.get("recipe")
    return {
        **training,
        "optimiser": "fresh AdamW (the earlier run's state is not kept)",
        "earlier": [before, *older],
    }


def _training_cell(entry: Mapping[str, Any]) -> str:
    training = entry.get("training", {})
    steps = training.get("iterations")
    parts = [f"{steps:,} it" if isinstance(steps, int) else "? it", training.get("hardware", "?")]
    parts.append(_duration(training.get("wall_time_s")))
    earlier = training.get("earlier", [])
    if earlier:
        before = sum(int(record.get("iterations", 0)) for record in earlier)
        parts.append(f"continued from its own EMA weights after {before:,} it")
    else:
        started_from = training.get("started_from", "random")
        if started_from != "random":
            parts.append(f"from `{Path(started_from).stem}`")
    parts.append(f"{total_pixels_seen(training) / 1e6:,.0f} Mpx seen")
    return ", ".join(str(part) for part in parts)


def _score_row(entry: Mapping[str, Any], score: Mapping[str, Any], first: bool) -> str:
    base = score.get("baseline") or {}
    gain = score["psnr"] - base["psnr"] if "psnr" in base else None
    cells = [
        f"`{entry['id']}`" if first else "",
        f"{entry.get('architecture', '?')} / {entry.get('task', '?')}" if first else "",
        _training_cell(entry) if first else "",
        score["benchmark"],
        f"{score['psnr']:.2f} / {score['ssim']:.4f}",
        f"{base['psnr']:.2f} ({base.get('model', '?')})" if "psnr" in base else "-",
        f"{gain:+.2f}" if gain is not None else "-",
        f"`{score['command']}`",
    ]
    return "| " + " | ".join(cells) + " |"


def render_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """The markdown table (header included) for ``entries``; a sentence when there are none."""
    if not entries:
        return "No trained weights are shipped yet."
    lines = [
        "| model | architecture / task | training | benchmark | PSNR (dB) / SSIM | baseline | gain "
        "| reproduce |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        scores = entry.get("scores") or []
        if not scores:
            lines.append(
                f"| `{entry['id']}` | {entry.get('architecture', '?')} / {entry.get('task', '?')} | "
                f"{_training_cell(entry)} | not scored yet | - | - | - | - |"
            )
        for index, score in enumerate(scores):
            lines.append(_score_row(entry, score, index == 0))
    return "\n".join(lines)


def readme_with_table(readme: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """``readme`` with the text between the table markers replaced by ``render_table(entries)``.

    Raises ``ValueError`` when the markers are missing or out of order."""
    start, end = readme.find(TABLE_START), readme.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README: the markers {TABLE_START!r} ... {TABLE_END!r} are missing")
    before = readme[: start + len(TABLE_START)]
    return f"{before}\n{render_table(entries)}\n{readme[end:]}"
