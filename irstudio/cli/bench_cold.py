"""``irstudio bench --cold``: the first-run experience, measured as a new user gets it.

Per model: a synthetic ``--photo-mp`` photo (8-bit PNG) is restored twice by ``irstudio restore`` in a
fresh process, both times with the same state folder, empty before the first run (``IRSTUDIO_STATE_DIR``):
the cold run pays every one-off cost (imports, loading, converting the model for the CPU engine), the
warm run finds it cached. Reported per run: wall seconds of the whole command, the child's peak
resident memory (``os.wait4``'s ``ru_maxrss``; Linux and macOS) and the plan line it printed. Targets
(issue "first restore in seconds"): cold <= warm + 30 s, and the peak <= 2.5 GiB for models under
1 M parameters, <= 4 GiB otherwise. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from irstudio.cli.bench_cmd import NO_CWD_ON_PATH

MIB = 2**20
COLD_EXTRA_TARGET_S = 30.0
SMALL_MODEL_PARAMS = 1_000_000
PEAK_TARGET_MIB = {"small": 2.5 * 1024, "large": 4.0 * 1024}
CLI_ENTRY = NO_CWD_ON_PATH + "from irstudio.cli import main; sys.exit(main(sys.argv[1:]))"


def _write_photo(folder: Path, megapixels: float) -> Path:
    import cv2
    import numpy as np

    from irstudio.cli.bench_cmd import synthetic_photo  # numpy-heavy: imported when used

    rgb = synthetic_photo(megapixels)
    path = folder / "photo.png"
    cv2.imwrite(str(path), np.round(rgb * 255).astype(np.uint8)[:, :, ::-1])
    return path


def timed_child(argv: list[str], env: dict[str, str], timeout: float | None) -> dict[str, Any]:
    """Run ``irstudio ARGV`` in a fresh process (killed after ``timeout`` s): wall seconds, exit code,
    peak RSS bytes and stderr text."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", CLI_ENTRY, *argv], stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        killer = threading.Timer(timeout, child.kill) if timeout else None
        if killer is not None:
            killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            if killer is not None:
                killer.cancel()
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        text = errors.read().decode("utf-8", "replace")
    if timeout is not None and seconds >= timeout:
        text += f"\nkilled after {timeout:g} s"
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"seconds": seconds, "exit": child.returncode, "peak_bytes": peak, "stderr": text}


def _plan_line(stderr: str, model_id: str) -> str:
    for line in stderr.splitlines():
        if line.startswith(f"{model_id} on "):
            return line.split(": ", 1)[-1]
    return "-"


def cold_row(model_id: str, megapixels: float, threads: int | None, timeout: float | None) -> dict[str, Any]:
    """Cold and warm ``irstudio restore`` of one model (see module doc)."""
    from irstudio.models import resolve_id

    spec = resolve_id(model_id)
    with tempfile.TemporaryDirectory(prefix="irstudio-cold-") as folder:
        root = Path(folder)
        photo = _write_photo(root, megapixels)
        env = {**os.environ, "IRSTUDIO_STATE_DIR": str(root / "state")}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        runs = {}
        for label in ("cold", "warm"):
            argv = ["restore", str(photo), "--model", model_id, "--out", str(root / label)]
            runs[label] = timed_child(argv, env, timeout)
    row: dict[str, Any] = {"model": model_id, "params": spec.params, "megapixels": megapixels}
    for label, run in runs.items():
        if run["exit"] != 0:
            tail = (run["stderr"].strip().splitlines() or ["no output"])[-1]
            return {**row, "error": f"{label} run exit {run['exit']}: {tail}"}
        row[label] = {"seconds": run["seconds"], "peak_bytes": run["peak_bytes"]}
    row["plan"] = _plan_line(runs["warm"]["stderr"], model_id)
    row["cold_extra_s"] = row["cold"]["seconds"] - row["warm"]["seconds"]
    size = "small" if spec.params < SMALL_MODEL_PARAMS else "large"
    row["peak_target_mib"] = PEAK_TARGET_MIB[size]
    peak = max(row["cold"]["peak_bytes"], row["warm"]["peak_bytes"]) / MIB
    row["meets"] = {
        "cold_extra": row["cold_extra_s"] <= COLD_EXTRA_TARGET_S,
        "peak": peak <= PEAK_TARGET_MIB[size],
    }
    return row


def format_cold(rows: list[dict[str, Any]], hardware: str, megapixels: float) -> str:
    """One line per model: cold and warm seconds and peaks, the difference against its target."""
    lines = [f"IR Studio first-run bench on {hardware}; a {megapixels:g} MP photo, empty state folder first"]
    header = ["model", "cold s", "warm s", "cold-warm s", "<=30", "peak MiB cold/warm", "target", "plan"]
    table = [header]
    for row in rows:
        if "error" in row:
            table.append([row["model"], "error: " + row["error"]])
            continue
        meets = row["meets"]
        table.append(
            [
                row["model"],
                f"{row['cold']['seconds']:.1f}",
                f"{row['warm']['seconds']:.1f}",
                f"{row['cold_extra_s']:.1f}",
                "yes" if meets["cold_extra"] else "NO",
                f"{row['cold']['peak_bytes'] / MIB:.0f}/{row['warm']['peak_bytes'] / MIB:.0f}",
                f"<= {row['peak_target_mib']:.0f} {'yes' if meets['peak'] else 'NO'}",
                row["plan"],
            ]
        )
    widths = [max(len(r[i]) for r in table if i < len(r)) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table]
    lines.append(
        "cold: `irstudio restore` in a fresh process with an empty state folder; warm: the same command "
        "again; seconds are the whole command (start-up, loading, conversion, restore, writing); peak: "
        "the process's max resident memory."
    )
    return "\n".join(lines)


def run_cold(models: list[str], megapixels: float, threads: int | None, timeout: float | None,
             hardware: str, as_json: bool) -> int:  # fmt: skip
    """``irstudio bench --cold``: print the table (or JSON); exit 1 when any model failed."""
    rows = []
    for model_id in models:
        if not as_json:
            print(f"restoring with {model_id}, cold then warm ...", file=sys.stderr, flush=True)
        rows.append(cold_row(model_id, megapixels, threads, timeout))
        if not as_json:
            print(format_cold(rows[-1:], hardware, megapixels).splitlines()[2], file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({"hardware": hardware, "results": rows}, indent=1))
    else:
        print(format_cold(rows, hardware, megapixels))
    return 1 if any("error" in row for row in rows) else 0
