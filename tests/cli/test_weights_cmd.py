"""``irstudio weights``: shipping a run with its scores, the README table, verification."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from irstudio.cli import build_parser, main, weights_cmd
from irstudio.inference.benchmarks import benchmarks_for
from irstudio.models.loading import read_manifest
from irstudio.models.manifest_doc import (
    TABLE_END,
    TABLE_START,
    readme_with_table,
    render_table,
    total_pixels_seen,
    upsert_entry,
)
from irstudio.models.spec import Task
from irstudio.training import run_to_end, train
from irstudio.training.run_record import run_facts, wall_time_s
from tests.training.helpers import install_tiny_models, tiny_config

README = f"# Title\n\nintro\n\n{TABLE_START}\nold table\n{TABLE_END}\n\n## After\n"


@pytest.fixture
def finished_run(tmp_path: Path, monkeypatch):
    install_tiny_models(monkeypatch)
    config = tiny_config(tmp_path, steps=3)
    run_to_end(train(config))
    return config


@pytest.fixture
def shipping_root(tmp_path: Path, monkeypatch) -> Path:
    """A fake repository: README with the markers, an empty weights/ folder."""
    root = tmp_path / "repo"
    (root / "weights").mkdir(parents=True)
    (root / "README.md").write_text(README, encoding="utf-8")
    monkeypatch.setattr(weights_cmd, "install_root", lambda: root)
    monkeypatch.setattr(weights_cmd, "manifest_path", lambda: root / "weights" / "manifest.json")
    return root


def test_benchmarks_cover_each_task_with_reproducible_commands() -> None:
    assert [b.name for b in benchmarks_for(Task.SR, 4)] == ["Set5 x4", "Set14 x4", "B100 x4"]
    assert [b.name for b in benchmarks_for("denoise")] == ["CBSD68 σ15", "CBSD68 σ25", "CBSD68 σ50"]
    assert [b.name for b in benchmarks_for("jpeg")] == [f"Classic5 q{q}" for q in (10, 20, 30, 40)]
    assert [b.name for b in benchmarks_for("derain")] == ["Rain12"]
    cbsd = benchmarks_for("denoise")[1]
    assert cbsd.command("m") == (
        "irstudio eval --model m --data ../shared/data/bench/sr/B100 --task denoise --sigma 25 "
        "--ids ../shared/data/bench/denoise/CBSD68_ids.txt"
    )
    assert benchmarks_for("sr", 2)[0].baseline == "bicubic-x2" and cbsd.baseline == "identity"
    parsed = build_parser().parse_args(cbsd.argv("identity"))
    assert parsed.sigma == 25 and parsed.ids == Path("../shared/data/bench/denoise/CBSD68_ids.txt")


def test_wall_time_sums_the_sessions_of_a_resumed_run() -> None:
    events = [
        {"event": "started", "time": 100.0},
        {"event": "step", "time": 160.0},
        {"event": "started", "time": 1000.0},  # resumed much later: the gap is not training time
        {"event": "finished", "time": 1030.0},
    ]
    assert wall_time_s(events) == 90.0


def test_run_facts_describe_the_run(finished_run) -> None:
    facts = run_facts(finished_run.run_dir)
    training = facts["training"]
    assert facts["preset"] == "tiny-compacter" and facts["task"] == "denoise" and facts["scale"] == 1
    assert training["iterations"] == 3 and training["sessions"] == 1 and training["wall_time_s"] > 0
    assert training["hardware"].startswith("CPU ") and training["device"] == "cpu"
    assert training["started_from"] == "random" and training["transfer"] is False
    assert facts["degradation"]["steps"][0]["kind"] == "noise"
    assert training["pixels_seen"] == 3 * 2 * 16 * 16  # steps x batch x patch²
    assert run_facts(finished_run.run_dir, hardware="NVIDIA H100")["training"]["hardware"] == "NVIDIA H100"


def test_ship_exports_scores_and_rewrites_the_table(finished_run, shipping_root, monkeypatch) -> None:
    measured = {"tiny-denoiser": 30.0, "identity": 20.0}
    calls: list[list[str]] = []

    def fake_eval(argv: list[str]) -> dict:
        calls.append(argv)
        psnr = measured[argv[argv.index("--model") + 1]]
        return {"psnr": psnr, "ssim": 0.9, "n": 68, "protocol": "p"}

    monkeypatch.setattr(weights_cmd, "run_eval", fake_eval)
    argv = ["weights", "ship", str(finished_run.run_dir), "--id", "tiny-denoiser", "--recipe", "r.toml"]
    assert main(argv) == 0

    entry = read_manifest(shipping_root / "weights" / "manifest.json").document["models"][0]
    weights = shipping_root / "weights" / entry["file"]
    assert weights.is_file() and len(entry["sha256"]) == 64
    assert [s["benchmark"] for s in entry["scores"]] == ["CBSD68 σ15", "CBSD68 σ25", "CBSD68 σ50"]
    assert entry["scores"][0]["psnr"] == 30.0 and entry["scores"][0]["baseline"]["psnr"] == 20.0
    assert len(calls) == 6  # the model and its baseline on each benchmark
    readme = (shipping_root / "README.md").read_text(encoding="utf-8")
    assert "old table" not in readme and "`tiny-denoiser`" in readme and "+10.00" in readme
    assert entry["scores"][1]["command"] in readme and readme.endswith("## After\n")

    assert main(argv) == 1  # the id is taken: nothing replaced without --replace
    assert main([*argv, "--replace"]) == 0
    assert len(read_manifest(shipping_root / "weights" / "manifest.json").document["models"]) == 1


def test_table_check_reports_a_stale_readme(shipping_root) -> None:
    assert main(["weights", "table", "--check"]) == 1
    assert "old table" in (shipping_root / "README.md").read_text(encoding="utf-8")
    assert main(["weights", "table"]) == 0
    assert main(["weights", "table", "--check"]) == 0


def test_verify_flags_a_changed_file(finished_run, shipping_root, monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        weights_cmd, "run_eval", lambda argv: {"psnr": 1.0, "ssim": 0.1, "n": 1, "protocol": ""}
    )
    assert main(["weights", "ship", str(finished_run.run_dir), "--id", "tiny", "--recipe", "r.toml"]) == 0
    assert main(["weights", "verify"]) == 0
    entry = read_manifest(shipping_root / "weights" / "manifest.json").document["models"][0]
    with open(shipping_root / "weights" / entry["file"], "ab") as handle:
        handle.write(b"\0")
    assert main(["weights", "verify"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_verify_scores_reruns_the_recorded_commands(shipping_root, monkeypatch, capsys) -> None:
    entry = {
        "id": "m",
        "file": "m.safetensors",
        "sha256": "0" * 64,
        "scores": [{"benchmark": "B", "psnr": 30.0, "command": "irstudio eval --model m"}],
    }
    monkeypatch.setattr(
        weights_cmd, "run_eval", lambda argv: {"psnr": 30.004 if argv == ["eval", "--model", "m"] else 0}
    )
    assert weights_cmd._verify_scores(entry, "../shared/data") == 0
    monkeypatch.setattr(weights_cmd, "run_eval", lambda argv: {"psnr": 29.5})
    assert weights_cmd._verify_scores(entry, "../shared/data") == 1
    assert "DIFFERS" in capsys.readouterr().out


def test_render_and_upsert() -> None:
    assert render_table([]) == "No trained weights are shipped yet."
    entry = {
        "id": "a",
        "architecture": "asid",
        "task": "sr",
        "training": {"iterations": 7000, "hardware": "CPU x", "wall_time_s": 5400},
        "scores": [],
    }
    assert "7,000 it, CPU x, 1h30m" in render_table([entry]) and "not scored yet" in render_table([entry])
    document = upsert_entry({"format": 1, "models": [{"id": "a", "v": 1}, {"id": "b"}]}, {"id": "a", "v": 2})
    assert document["models"] == [{"id": "a", "v": 2}, {"id": "b"}]
    with pytest.raises(ValueError, match="markers"):
        readme_with_table("# no markers\n", [])


def test_the_repository_readme_matches_the_manifest() -> None:
    """The README's model table is what `irstudio weights table` renders from weights/manifest.json."""
    assert weights_cmd._table(argparse.Namespace(check=True)) == 0, "run: irstudio weights table"
    document = json.loads(
        (weights_cmd.install_root() / "weights" / "manifest.json").read_text(encoding="utf-8")
    )
    for entry in document["models"]:
        assert entry["scores"], f"{entry['id']} is shipped without scores"
        assert (weights_cmd.install_root() / entry["recipe"]).is_file(), f"{entry['id']}: recipe missing"


def test_a_failing_eval_command_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"irstudio eval --model no-such-model .* failed: .*no-such-model"):
        weights_cmd.run_eval(["eval", "--model", "no-such-model", "--data", ".", "--task", "sr"])


def test_the_table_says_which_shipped_weights_a_run_started_from() -> None:
    score = {"benchmark": "B", "psnr": 30.0, "ssim": 0.9, "baseline": {"psnr": 29.0}, "command": "c"}
    stages = [{"from_step": 0, "patch": 50, "batch": 4}]
    training = {"iterations": 800, "hardware": "CPU X, 1 thread", "wall_time_s": 1800.0, "stages": stages}
    entry = {"id": "m", "architecture": "a", "task": "denoise", "scores": [score], "training": training}
    assert "800 it, CPU X, 1 thread, 30 min, 8 Mpx seen |" in render_table([entry])  # 800 x 4 x 50²
    started = {**training, "started_from": "compacter-x1-jpeg.safetensors", "transfer": False}
    assert "800 it, CPU X, 1 thread, 30 min, from `compacter-x1-jpeg`, 8 Mpx seen |" in render_table(
        [{**entry, "training": started}]
    )


def test_a_run_continued_from_the_shipped_weights_keeps_the_earlier_record(
    finished_run, shipping_root, monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(
        weights_cmd, "run_eval", lambda argv: {"psnr": 30.0, "ssim": 0.9, "n": 1, "protocol": "p"}
    )
    manifest = shipping_root / "weights" / "manifest.json"
    ship = ["weights", "ship", "--id", "tiny-denoiser", "--recipe", "r.toml"]
    assert main([*ship, str(finished_run.run_dir)]) == 0
    first = read_manifest(manifest).document["models"][0]
    continued = tiny_config(tmp_path / "second", steps=2)
    continued = replace(
        continued, model=replace(continued.model, weights=shipping_root / "weights" / first["file"])
    )
    run_to_end(train(continued))
    assert main([*ship, str(continued.run_dir), "--replace"]) == 0
    entry = read_manifest(manifest).document["models"][0]
    training = entry["training"]
    assert training["started_from"] == first["file"] and training["iterations"] == 2
    assert [record["iterations"] for record in training["earlier"]] == [3]
    assert training["earlier"][0]["sha256"] == first["sha256"] and "fresh AdamW" in training["optimiser"]
    assert total_pixels_seen(training) == (2 + 3) * 2 * 16 * 16
    readme = (shipping_root / "README.md").read_text(encoding="utf-8")
    assert "continued from its own EMA weights after 3 it" in readme
