"""``irstudio bench --cold`` and ``--engine``: the first-run experience and the CPU engines against the
GEMM peak, on the cheapest inputs (figures are printed, never asserted beyond their sanity)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from irstudio.cli import bench_cmd, main
from irstudio.cli.bench_cold import CLI_ENTRY, cold_row, format_cold, timed_child
from irstudio.cli.bench_engine import format_engine, gemm_peak_gflops


def test_a_cold_and_a_warm_restore_are_timed_in_fresh_processes_with_an_empty_state() -> None:
    row = cold_row("identity", 0.01, threads=1, timeout=120)
    assert "error" not in row, row.get("error")
    assert row["cold"]["seconds"] > 0 and row["warm"]["seconds"] > 0
    assert row["cold"]["peak_bytes"] > 10 * 2**20  # a whole Python process with torch loaded
    assert "backend eager" in row["plan"]
    table = format_cold([row, {"model": "broken", "error": "cold run exit 1: no"}], "cpu: test", 0.01)
    assert table.startswith("IR Studio first-run bench on cpu: test; a 0.01 MP photo")
    assert any(line.startswith("identity ") for line in table.splitlines())
    assert any(line.startswith("broken") and "error: cold run exit 1" in line for line in table.splitlines())


def test_a_failing_child_reports_its_exit_code_and_last_line(tmp_path: Path) -> None:
    result = timed_child(["restore", str(tmp_path / "missing.png"), "-m", "identity"], dict(os.environ), 60)
    assert result["exit"] == 1 and "missing.png" in result["stderr"]


def test_cold_bench_json_names_each_model(capsys) -> None:
    assert main(["bench", "--cold", "--models", "identity", "--photo-mp", "0.01", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["results"][0]["model"] == "identity" and "cpu" in document["hardware"]


def test_engine_report_formats_shares_of_the_peak() -> None:
    assert gemm_peak_gflops(repeat=1) > 0.1
    row = {
        "model": "m", "shape": [320, 320], "gflop": 10.0, "notes": {"openvino-bf16": "no bf16"},
        "backends": {"eager": {"seconds": 1.0, "gflops": 10.0, "peak_share": 0.1, "dtype": "fp32"}},
        "bf16_speedup": 1.5,
    }  # fmt: skip
    text = format_engine([row, {"model": "x", "error": "boom"}], "cpu: test", 100.0)
    assert "fp32 GEMM peak (2048x2048 torch.mm): 100.0 GFLOP/s" in text
    assert "m at 320x320 (10.0 GFLOP): eager (fp32) 1.000 s = 10.0 % of peak; bf16/fp32 1.50x" in text
    assert "x: error: boom" in text


def test_shipped_models_are_the_default_of_the_first_run_bench() -> None:
    from irstudio.models.catalog import REGISTRY

    shipped = bench_cmd._shipped_models()
    assert shipped and all(REGISTRY.get(model_id).weights for model_id in shipped)


@pytest.mark.parametrize("entry", [CLI_ENTRY, bench_cmd.WORKER_ENTRY])
def test_a_folder_named_irstudio_where_the_bench_runs_does_not_shadow_the_package(tmp_path, entry) -> None:
    shadow = tmp_path / "irstudio"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise SystemExit('the shadow package was imported')\n")
    argv = ["models", "--json"] if entry == CLI_ENTRY else ['{"mode": "nothing"}']
    done = subprocess.run(
        [sys.executable, "-c", entry, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "shadow package" not in done.stderr


def test_the_engine_profile_sums_openvino_node_times_per_type(monkeypatch, capsys) -> None:
    """``bench --engine --profile`` on a tiny Compacter: every precision OpenVINO runs here, its node
    types with shares summing to 1; an unknown model is an error row, not a traceback."""
    from irstudio.cli import bench_profile
    from tests.training.helpers import install_tiny_models

    install_tiny_models(monkeypatch)
    row = bench_profile.profile_row("tiny-compacter", threads=1)
    assert "f32" in row["precisions"]
    for types in row["precisions"].values():
        assert abs(sum(t["share"] for t in types) - 1.0) < 1e-6
        assert {"MatMul", "Softmax"} <= {t["node_type"] for t in types}
    assert not any(t["node_type"] == "VariadicSplit" for t in row["precisions"]["f32"])  # the layout work
    assert main(["bench", "--engine", "--profile", "--models", "tiny-compacter", "no-such-model"]) == 1
    out = capsys.readouterr().out
    assert "tiny-compacter at " in out and "no-such-model: error" in out
