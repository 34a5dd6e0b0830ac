"""``irstudio weights ship|table|verify``: ship trained weights with measured scores (maintainers).

- ``ship RUN --id ID --recipe FILE``: export the run's EMA weights as fp16 safetensors into
  ``weights/``, add (or with ``--replace`` replace) its ``weights/manifest.json`` entry (architecture,
  preset, task, degradation, data, iterations, patch/batch, pixels seen, hardware, wall time; a run
  that continued from the replaced entry's own weights keeps that entry's record under
  ``training.earlier``, so the pixels of every run are counted), score it on every
  benchmark of its task (``inference.benchmarks``) by running the printed ``irstudio eval`` command
  in a subprocess, with the task's baseline beside it, and regenerate the README table.
- ``table [--check]``: rewrite the README's model table from the manifest (``--check``: exit 1 when
  the README is stale, writing nothing).
- ``verify [--scores]``: each file's size and sha256 against the manifest; with ``--scores`` rerun
  every recorded command and compare with the recorded PSNR (tolerance ``SCORE_TOLERANCE_DB``).
- ``pack SRC... --out DIR``: a compact training pack (seeded random crops as PNG within a byte
  budget, default 40 MiB, traced in ``pack.json``) for runs on a borrowed GPU, which carries at most
  64 MiB besides the repository (``training.pack``).

The manifest is read by ``models.loading.read_manifest`` (strict); editing its document and the README
rendering live in ``models.manifest_doc``; this module runs things.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from irstudio.cli.arguments import POSITIVE, POSITIVE_NUMBER, SEED
from irstudio.core import atomic_write
from irstudio.inference.benchmarks import DEFAULT_DATA_ROOT, Benchmark, benchmarks_for
from irstudio.models import read_manifest
from irstudio.models.manifest_doc import (
    MAX_WEIGHTS_BYTES,
    file_sha256,
    readme_with_table,
    upsert_entry,
    with_earlier_runs,
    write_manifest_document,
)
from irstudio.paths import install_root, manifest_path
from irstudio.training.run_record import run_facts

SCORE_TOLERANCE_DB = 0.01


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("weights", help="ship trained weights with their scores (maintainers)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ship = actions.add_parser("ship", help="export a finished run into weights/ and score it")
    ship.add_argument("run_dir", type=Path, metavar="RUN", help="the run folder (runs/<name>)")
    ship.add_argument("--id", required=True, help="the shipped model's id, e.g. asid-x4-sr")
    ship.add_argument("--name", default=None, help="display name (default: the id)")
    ship.add_argument("--recipe", required=True, type=Path, help="the committed recipe it was trained with")
    ship.add_argument("--hardware", default=None, help="where it trained (default: this machine, CPU runs)")
    ship.add_argument("--note", default="", help="one line on how the run went (resumes, shortfalls)")
    ship.add_argument("--replace", action="store_true", help="replace an entry with the same id")
    ship.add_argument(
        "--data-root", default=DEFAULT_DATA_ROOT, help="benchmark data (default ../shared/data)"
    )
    table = actions.add_parser("table", help="regenerate the README model table from the manifest")
    table.add_argument("--check", action="store_true", help="exit 1 if the README table is stale")
    verify = actions.add_parser("verify", help="check shipped files (and, with --scores, their scores)")
    verify.add_argument("--scores", action="store_true", help="rerun every recorded eval command")
    verify.add_argument("--data-root", default=DEFAULT_DATA_ROOT)
    _add_pack_parser(actions)
    parser.set_defaults(run=run)


def _add_pack_parser(actions: argparse._SubParsersAction) -> None:
    pack = actions.add_parser("pack", help="cut a compact training pack out of image folders")
    pack.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="image folders (read recursively)")
    pack.add_argument("--out", required=True, type=Path, help="a new (or empty) folder for the pack")
    pack.add_argument(
        "--budget-mib", type=POSITIVE_NUMBER, default=40.0, help="size of the PNG files (default 40)"
    )
    pack.add_argument("--crop", type=POSITIVE, default=256, help="side of the square crops (default 256)")
    pack.add_argument(
        "--crops-per-image", type=POSITIVE, default=1, help="crops cut from each image (default 1)"
    )
    pack.add_argument("--seed", type=SEED, default=0)


def run(args: argparse.Namespace) -> int:
    return {"ship": _ship, "table": _table, "verify": _verify, "pack": _pack}[args.action](args)


def _pack(args: argparse.Namespace) -> int:
    from irstudio.training.pack import make_pack

    work = make_pack(
        args.sources,
        args.out,
        budget_bytes=int(args.budget_mib * 2**20),
        crop=args.crop,
        crops_per_image=args.crops_per_image,
        seed=args.seed,
    )
    while True:
        try:
            progress = next(work)
        except StopIteration as done:
            summary = done.value
            break
        if progress.files % 50 == 0:
            print(f"  {progress.files} files, {progress.bytes / 2**20:.1f} MiB", file=sys.stderr)
    for line in summary.skipped:
        print(f"skipped {line}", file=sys.stderr)
    ending = "budget reached" if summary.full else "all sources used"
    print(f"{summary.folder}: {summary.files} files, {summary.bytes / 2**20:.1f} MiB ({ending})")
    return 0


def readme_path() -> Path:
    return install_root() / "README.md"


def run_eval(argv: list[str]) -> dict[str, Any]:
    """Run ``irstudio <argv> --json`` in a fresh interpreter (from the repository root, where the
    commands' relative data paths point) and return its JSON; a failure raises ``ValueError``."""
    command = [sys.executable, "-m", "irstudio", *argv, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=install_root())
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise ValueError(f"{shlex.join(['irstudio', *argv])} failed: {last[0]}")
    return json.loads(done.stdout)


def score_on(model_id: str, benchmark: Benchmark, data_root: str) -> dict[str, Any]:
    """One manifest score: the model's PSNR/SSIM, the baseline's, and the command to reproduce it."""
    measured = run_eval(benchmark.argv(model_id, data_root))
    baseline = run_eval(benchmark.argv(benchmark.baseline, data_root))
    print(
        f"  {benchmark.name:<14} {measured['psnr']:.3f} dB (baseline {baseline['psnr']:.3f})", file=sys.stderr
    )
    return {
        "benchmark": benchmark.name,
        "psnr": round(measured["psnr"], 3),
        "ssim": round(measured["ssim"], 4),
        "images": measured["n"],
        "protocol": measured["protocol"],
        "baseline": {
            "model": benchmark.baseline,
            "psnr": round(baseline["psnr"], 3),
            "ssim": round(baseline["ssim"], 4),
        },
        "command": benchmark.command(model_id),
    }


def _export(args: argparse.Namespace, weights_dir: Path) -> Path:
    from irstudio.training.export import export_model

    path = export_model(
        args.run_dir, destination=weights_dir, name=args.id, half=True, overwrite=args.replace
    )
    size = path.stat().st_size
    if size >= MAX_WEIGHTS_BYTES:
        path.unlink()
        raise ValueError(
            f"{path.name}: {size / 2**20:.1f} MiB, over the {MAX_WEIGHTS_BYTES // 2**20} MiB budget"
        )
    return path


def _ship(args: argparse.Namespace) -> int:
    manifest = manifest_path()
    document = read_manifest(manifest).document
    previous = next((entry for entry in document["models"] if entry.get("id") == args.id), None)
    if previous is not None and not args.replace:
        raise ValueError(f"{args.id}: already in {manifest.name} (--replace replaces it)")
    facts = run_facts(args.run_dir, hardware=args.hardware)
    facts["training"] = with_earlier_runs(facts["training"], previous)
    weights = _export(args, manifest.parent)
    entry = {
        "id": args.id,
        "name": args.name or args.id,
        "file": weights.name,
        "sha256": file_sha256(weights),
        "recipe": args.recipe.as_posix(),
        **facts,
        "note": args.note,
        "scores": [],
    }
    write_manifest_document(manifest, upsert_entry(document, entry))  # the evals need the entry
    print(f"{args.id}: {weights.name} ({weights.stat().st_size / 2**20:.2f} MiB); scoring", file=sys.stderr)
    entry["scores"] = [
        score_on(args.id, benchmark, args.data_root)
        for benchmark in benchmarks_for(facts["task"], facts.get("scale", 1))
    ]
    write_manifest_document(manifest, upsert_entry(read_manifest(manifest).document, entry))
    return _table(argparse.Namespace(check=False))


def _table(args: argparse.Namespace) -> int:
    readme = readme_path()
    current = readme.read_text(encoding="utf-8")
    wanted = readme_with_table(current, read_manifest(manifest_path()).document["models"])
    if wanted == current:
        print(f"{readme.name}: the model table is up to date", file=sys.stderr)
        return 0
    if args.check:
        print(f"{readme.name}: the model table is stale (run: irstudio weights table)", file=sys.stderr)
        return 1
    with atomic_write(readme, overwrite=True) as temporary:
        temporary.write_text(wanted, encoding="utf-8")
    print(f"{readme.name}: model table rewritten", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    problems = 0
    for shipped in read_manifest(manifest_path()).entries:
        path = shipped.path
        ok = (
            path.is_file() and file_sha256(path) == shipped.sha256 and path.stat().st_size < MAX_WEIGHTS_BYTES
        )
        print(f"{shipped.id:<22} {'ok' if ok else 'MISMATCH'}  {path.name}")
        problems += not ok
        if args.scores:
            problems += _verify_scores(shipped.entry, args.data_root)
    return 1 if problems else 0


def _verify_scores(entry: Mapping[str, Any], data_root: str) -> int:
    failures = 0
    for score in entry["scores"]:
        argv = shlex.split(score["command"])[1:]
        if data_root != DEFAULT_DATA_ROOT:
            argv = [part.replace(DEFAULT_DATA_ROOT, data_root, 1) for part in argv]
        measured = run_eval(argv)["psnr"]
        same = abs(measured - score["psnr"]) <= SCORE_TOLERANCE_DB
        failures += not same
        print(
            f"  {score['benchmark']:<14} recorded {score['psnr']:.3f}  now {measured:.3f}  "
            + ("ok" if same else "DIFFERS")
        )
    return failures
