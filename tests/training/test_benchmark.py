"""``python -m irstudio.training.benchmark``: before and after in one run, with what train() runs."""

from __future__ import annotations

import json

import torch

from irstudio.training import benchmark


def test_before_and_after_are_measured_in_one_run(capsys) -> None:
    assert (
        benchmark.main(
            [
                "--models",
                "compacter-x1",
                "--device",
                "cpu",
                "--patch",
                "16",
                "--batch",
                "1",
                "--steps",
                "2",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [row["setting"] for row in rows] == ["before", "after"]
    before, after = rows
    assert before["precision"] == "fp32"
    assert after["precision"] == ("bf16" if benchmark.native_bf16(torch.device("cpu")) else "fp32")
    for row in rows:
        assert row["pixels_per_second"] == row["iterations_per_second"] * 16 * 16 > 0


def test_after_is_what_training_runs_on_the_device(monkeypatch) -> None:
    monkeypatch.setattr(benchmark, "native_bf16", lambda device: False)
    assert benchmark.after_setting("compacter-x1", torch.device("cpu")) == benchmark.Setting(
        "after", bf16=False, fused=True
    )
    monkeypatch.setattr(benchmark, "native_bf16", lambda device: True)
    assert benchmark.after_setting("compacter-x1", torch.device("cpu")).bf16
