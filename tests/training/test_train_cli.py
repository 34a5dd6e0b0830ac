"""``irstudio train CONFIG.toml [--resume] [--export]``: progress, summary, metrics log, exit codes."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from irstudio.cli import main, train_cmd
from irstudio.core.cancel import CancelToken
from irstudio.training import TrainSection, load_config, save_config
from tests.training.helpers import install_tiny_models, tiny_config


@pytest.fixture(autouse=True)
def _tiny_models(monkeypatch) -> None:
    install_tiny_models(monkeypatch)


def test_train_prints_progress_and_summary_then_resume_extends(tmp_path: Path, capsys) -> None:
    config = tiny_config(tmp_path, steps=4)
    path = save_config(config, tmp_path / "run.toml")
    assert main(["train", str(path), "--export", str(tmp_path / "lib")]) == 0
    out, err = capsys.readouterr()
    assert "train [" in err and "4/4" in err and "validation PSNR" in err
    assert (
        "done at step 4/4" in out and "exported" in out and (tmp_path / "lib" / "run-4.safetensors").is_file()
    )
    assert (config.run_dir / "metrics.jsonl").is_file()

    assert main(["train", str(path)]) == 1  # the run folder already has checkpoints
    assert "--resume" in capsys.readouterr().err

    longer = replace(config, train=replace(config.train, steps=6))
    save_config(longer, path)
    assert main(["train", str(path), "--resume"]) == 0
    assert "done at step 6/6 (2 steps" in capsys.readouterr().out
    records = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2, 3, 4, 5, 6]


def test_non_finite_loss_exits_1_naming_the_term(tmp_path: Path, capsys) -> None:
    config = tiny_config(tmp_path, model="nan-net", train=TrainSection(steps=3, max_bad_steps=0))
    path = save_config(config, tmp_path / "nan.toml")
    assert main(["train", str(path)]) == 1
    assert "loss term 'l1' = nan" in capsys.readouterr().err


def test_unknown_config_key_exits_1_naming_it(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nbatchsize = 4\n[model]\nid = "tiny-compacter"\n[data]\nclean = "."\n')
    assert main(["train", str(path)]) == 1
    assert "unknown key 'batchsize'" in capsys.readouterr().err


def test_set_overrides_a_setting_and_the_resume_hint_repeats_it(tmp_path: Path, capsys) -> None:
    path = save_config(tiny_config(tmp_path, steps=50), tmp_path / "run.toml")
    assert main(["train", str(path), "--set", "train.steps=2", "--set", "train.log_every=1"]) == 0
    assert "done at step 2/2" in capsys.readouterr().out
    recorded = load_config(tmp_path / "runs" / "run" / "config.toml")
    assert recorded.train.steps == 2 and recorded.train.log_every == 1

    assert main(["train", str(path), "--set", "train.stepz=2"]) == 1
    assert "unknown key 'train.stepz'" in capsys.readouterr().err


def test_a_stopped_run_names_its_overrides_in_the_resume_command(tmp_path: Path, capsys, monkeypatch) -> None:
    def stopped_token() -> CancelToken:  # as after Ctrl+C before the first step
        token = CancelToken()
        token.cancel()
        return token

    monkeypatch.setattr(train_cmd, "CancelToken", stopped_token)
    path = save_config(tiny_config(tmp_path, steps=50), tmp_path / "run.toml")
    shutil.copytree(tmp_path / "images", tmp_path / "my photos")
    monkeypatch.chdir(tmp_path)  # --set paths are relative to the current folder
    assert main(["train", str(path), "--set", "train.steps=2", "--set", "data.clean=my photos"]) == 130
    hint = f"resume with: irstudio train {path} --set train.steps=2 --set 'data.clean=my photos' --resume"
    assert hint in capsys.readouterr().out
