"""``irstudio bench``: argument parsing, the table and JSON for real (tiny) runs in worker processes,
and the ``--memory`` report. Figures are not asserted beyond their sanity: this is a benchmark."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from torch import nn

from irstudio.cli import bench_cmd, build_parser, main

TINY = ["--sizes", "32", "--photo-mp", "0.01", "--repeat", "1", "--tile", "32", "--threads", "1"]


def test_bench_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(["bench", "--models", "asid-x2", "lir", "--sizes", "64,128", "--json"])
    assert args.command == "bench" and args.models == ["asid-x2", "lir"] and args.sizes == [64, 128]
    assert args.photo_mp == 12.0 and args.repeat == 3 and args.json and not args.memory
    assert args.memory_mp == [6.0, 24.0] and args.memory_model == "compacter-x1"


@pytest.mark.parametrize("text", ["", "12,x", "0", "-4"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bench_cmd.parse_sizes(text)
    assert bench_cmd.parse_megapixels("6,24") == [6.0, 24.0]


def test_synthetic_photo_has_the_asked_size_and_range() -> None:
    photo = bench_cmd.synthetic_photo(0.12)
    assert photo.shape == (300, 400, 3) and photo.dtype.name == "float32"
    assert float(photo.min()) >= 0.0 and float(photo.max()) <= 1.0


def test_macs_are_counted_for_learned_models_only() -> None:
    from irstudio.models.catalog import REGISTRY

    assert bench_cmd.count_macs(REGISTRY.get("identity"), 64) is None
    small, large = (bench_cmd.count_macs(REGISTRY.get("asid-x2"), side) for side in (32, 64))
    assert small and large and large == pytest.approx(4 * small, rel=0.1)


def test_row_for_a_learned_model(tmp_path: Path) -> None:
    """The worker's measurement, run in this process (the subprocess path is covered below)."""
    config = {
        "mode": "model", "model": "asid-x2", "device": "cpu", "sizes": [32], "repeat": 1, "photo_mp": 0.01,
        "tile": 32, "backends": ["eager"], "compile": False, "state_dir": str(tmp_path), "threads": 1,
    }  # fmt: skip
    row = json.loads(json.dumps(bench_cmd.bench_model(config), default=float))
    assert row["model"] == "asid-x2" and row["params"] == 297_516 and row["scale"] == 2
    assert "cpu" in row["hardware"] and "physical cores" in row["hardware"]
    assert row["macs_g"]["32"] > 0 and row["latency_ms"]["32"] > 0
    assert row["photo"]["mp_per_s"] > 0 and row["photo"]["output_mp"] == pytest.approx(4 * row["photo"]["mp"])
    assert row["peak_memory"]["kind"] == "process max RSS" and row["peak_memory"]["bytes"] > 0
    assert row["overhead"]["side"] == 64 and row["overhead"]["throughput_ratio"] > 0
    assert row["backend"]["chosen"] == "eager" and row["precision"]["dtype"] == "fp32" and row["tile"] == 32
    assert row["backend"]["seconds"] == {}  # eager forced: no backend is timed
    line = bench_cmd._row_cells(row, [32])
    assert line[0] == "asid-x2" and line[1] == "298K" and "eager" in line
    assert row["cpu_tile"] is None  # the tile was given: no tile side timed
    row["cpu_tile"] = {"tile": 512, "us_per_core_px": {"256": 70.0, "512": 49.04}}
    table = bench_cmd.format_table(
        [row], "cpu: test", argparse.Namespace(sizes=[32], photo_mp=0.01, repeat=1)
    )
    assert "asid-x2: CPU tile 512 timed; µs per core pixel: 256 px 70.0, 512 px 49.0" in table


def test_table_names_the_hardware_and_reports_failures(tmp_path: Path, capsys) -> None:
    code = main(["bench", "--models", "identity", "no-such-model", *TINY, "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("IR Studio bench on cpu: ")
    header = out.splitlines()[1].split()
    assert header[:2] == ["model", "params"] and "MP/s@0.01MP" in header and "ORT/eager" in header
    assert any(line.startswith("identity ") for line in out.splitlines())
    assert any(line.startswith("no-such-model") and "error" in line for line in out.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_memory_report_counts_one_output_copy(tmp_path: Path, capsys) -> None:
    args = ["bench", "--memory", "--memory-model", "identity", "--memory-mp", "0.25,1", "--tile", "64"]
    args += ["--memory-samples", "float32"]
    code = main([*args, "--threads", "1", "--state-dir", str(tmp_path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    small, large = document["results"]
    assert small["tile"] == large["tile"] == 64
    assert large["output_bytes"] == pytest.approx(4 * small["output_bytes"], rel=0.01)
    # The restore adds the preallocated output and little else: one full-size copy.
    assert 0.8 <= document["summary"]["full_size_output_copies"] <= 1.3
    report = bench_cmd.format_memory(document["results"], document["summary"], document["hardware"])
    assert report.startswith("IR Studio memory bench on cpu")
    assert "1.03 MP (1152x896 float32) identity tile 64" in report
    assert "full-size output copies added by the restore" in report


def test_tiling_overhead_narrows_the_square_to_what_fits_untiled() -> None:
    from irstudio.inference.runner import TilePlan

    plan = TilePlan(tile=32, context=8, multiple=8)
    assert bench_cmd._overhead(nn.Identity(), plan, 1)["side"] == 64
    narrowed = bench_cmd._overhead(nn.Identity(), plan, 1, pixel_limit=50 * 50)
    assert narrowed["side"] == 48 and narrowed["throughput_ratio"] > 0
    assert "would not fit" in bench_cmd._overhead(nn.Identity(), plan, 1, pixel_limit=30 * 30)["skipped"]
