"""Weights, configs, arguments and signals: a clear refusal or a clean stop, never a silent wrong.

Each test failed before issue 18's fixes: NaN weights loaded and restored black; a safetensors file
named ``.bin`` was called a pickle security risk; random bytes named ``.pth`` got an empty reason;
a seed of 2**32 crashed numpy; 4096 threads hung a run; a non-UTF-8 config gave a codec error
without the file; an empty data path meant the current folder; a damaged last checkpoint stopped
``--resume``; ``--tile 0`` and friends ran or crashed; ``eval --json`` printed ``Infinity``; SIGTERM
left temporary files; Ctrl+C while loading gave a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from irstudio.cli import main
from irstudio.core.atomic import leftover_temp_files
from irstudio.models.loading import WeightsError, read_weights
from irstudio.training import ConfigError, RuntimeSection, TrainSection, load_config, save_config
from irstudio.training.checkpoints import list_checkpoints
from irstudio.training.loop import run_to_end, train
from irstudio.training.setup import runtime_settings
from tests.inference.test_batch import write_photo
from tests.training.helpers import install_tiny_models, tiny_config

# ----------------------------------------------------------------------------- weight files


def test_nan_in_weights_is_refused_naming_the_file_and_tensor(tmp_path: Path) -> None:
    path = tmp_path / "diverged.safetensors"
    save_file(
        {"conv.weight": torch.tensor([1.0, float("nan"), float("inf")]), "conv.bias": torch.zeros(2)},
        str(path),
    )
    with pytest.raises(
        WeightsError, match=r"diverged.safetensors: tensor 'conv.weight' holds 2 NaN/Inf values of 3"
    ):
        read_weights(path)


def test_nan_in_a_nested_pth_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nested.pth"
    torch.save({"params": {"body.0.weight": torch.full((2, 2), float("nan"))}}, path)
    with pytest.raises(WeightsError, match=r"'params.body.0.weight' holds 4 NaN/Inf"):
        read_weights(path)


def test_restore_with_nan_weights_exits_1_with_one_line(tmp_path: Path, capsys) -> None:
    from irstudio.models.catalog import REGISTRY
    from irstudio.models.loading import save_weights

    spec = REGISTRY.get("compacter-x1")
    model = spec.build()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    weights = save_weights(model, tmp_path / "bad.safetensors", spec=spec)
    write_photo(tmp_path / "a.png", 1)
    assert main(["restore", str(tmp_path / "a.png"), "-m", "compacter-x1", "--weights", str(weights)]) == 1
    err = capsys.readouterr().err
    assert "bad.safetensors: tensor" in err and "NaN/Inf" in err and "Traceback" not in err
    assert not (tmp_path / "a_compacter-x1.png").exists()


def test_safetensors_named_bin_loads_as_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    save_file({"w": torch.ones(2)}, str(path))
    raw, _ = read_weights(path)
    assert torch.equal(raw["w"], torch.ones(2))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty (0 bytes)"),
        (bytes(range(256)) * 4, "not a weight file (neither safetensors nor a PyTorch checkpoint)"),
        (b"PK\x03\x04" + b"\x00" * 60, "not a readable PyTorch checkpoint"),
    ],
    ids=["empty", "random-bytes", "damaged-zip"],
)
def test_weight_file_messages_say_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as caught:
        read_weights(path)
    assert message in str(caught.value)
    assert "could run code" not in str(caught.value) and "()" not in str(caught.value)


# ----------------------------------------------------------------------------- training configs


@pytest.fixture
def tiny_models(monkeypatch) -> None:
    install_tiny_models(monkeypatch)


def _toml(tmp_path: Path, text_replacements: dict[str, str] | None = None) -> Path:
    path = save_config(tiny_config(tmp_path), tmp_path / "run.toml")
    text = path.read_text(encoding="utf-8")
    for old, new in (text_replacements or {}).items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_seed_beyond_32_bits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"seed must be in 0..4294967295, got 4294967296"):
        tiny_config(tmp_path, seed=2**32)


def test_an_empty_data_path_is_refused_not_the_current_folder(tmp_path: Path) -> None:
    text = _toml(tmp_path).read_text(encoding="utf-8")
    clean_line = next(line for line in text.splitlines() if line.startswith("clean ="))
    path = _toml(tmp_path, {clean_line: 'clean = ""'})
    with pytest.raises(ConfigError, match=r"data.clean must name a folder or file, got an empty path"):
        load_config(path)


def test_a_non_utf8_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 text \(byte 11\)"):
        load_config(path)


def test_more_threads_than_cores_are_capped_with_a_notice(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, runtime=RuntimeSection(device="cpu", cpu_threads=4096))
    before = torch.get_num_threads()
    with runtime_settings(config) as notices:
        assert torch.get_num_threads() == (os.cpu_count() or 1)
    assert torch.get_num_threads() == before
    cores = os.cpu_count()
    assert notices == [
        f"runtime.cpu_threads = 4096 is more than this computer's {cores} cores; using {cores}"
    ]


def test_resume_falls_back_to_the_newest_valid_checkpoint(tmp_path: Path, tiny_models) -> None:
    config = tiny_config(
        tmp_path,
        train=TrainSection(steps=4, validate_every=4, checkpoint_every=2, log_every=1, keep_checkpoints=3),
    )
    run_to_end(train(config))
    last = list_checkpoints(config.run_dir)[-1]
    last.write_bytes(last.read_bytes()[:200])  # cut short: a crash, a full disk
    longer = replace(config, train=replace(config.train, steps=6))
    events = train(longer, resume=True)
    notices, summary = [], None
    while True:
        try:
            event = next(events)
        except StopIteration as finished:
            summary = finished.value
            break
        if type(event).__name__ == "Notice":
            notices.append(event.message)
    assert summary.final_step == 6 and summary.steps_run == 4  # from step 2, not 4
    assert any(last.name in notice and "earlier checkpoint" in notice for notice in notices)
    assert not any("weights_only" in notice or "trust" in notice for notice in notices)


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "arguments",
    [
        ["restore", "x.png", "-m", "identity", "--tile", "0"],
        ["restore", "x.png", "-m", "identity", "--tile", "-5"],
        ["restore", "x.png", "-m", "bicubic", "--scale", "0"],
        ["restore", "x.png", "-m", "identity", "--overlap", "-1"],
        ["eval", "-m", "identity", "--data", ".", "--task", "denoise", "--sigma", "-5"],
        ["eval", "-m", "identity", "--data", ".", "--task", "jpeg", "--quality", "0"],
        ["bench", "--photo-mp", "0"],
        ["bench", "--photo-mp", "-2"],
        ["bench", "--repeat", "0"],
        ["bench", "--threads", "0"],
    ],
    ids=lambda a: " ".join(a[-2:]),
)
def test_impossible_numbers_are_usage_errors(arguments: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert "must be a" in capsys.readouterr().err


def test_a_scale_the_model_does_not_have_is_refused(tmp_path: Path, capsys) -> None:
    write_photo(tmp_path / "a.png", 1)
    assert main(["restore", str(tmp_path / "a.png"), "-m", "bicubic-x4", "--scale", "2"]) == 1
    assert "bicubic-x4 enlarges x4, not x2" in capsys.readouterr().err
    assert not (tmp_path / "a_bicubic-x4.png").exists()


def test_eval_json_is_strict_json_for_a_perfect_score(tmp_path: Path, capsys) -> None:
    for index in range(2):
        write_photo(tmp_path / "data" / f"p{index}.png", index)
    assert (
        main(
            [
                "eval",
                "-m",
                "identity",
                "--data",
                str(tmp_path / "data"),
                "--task",
                "denoise",
                "--sigma",
                "0",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out

    def refuse(constant: str):
        raise AssertionError(f"not JSON: {constant}")

    result = json.loads(out, parse_constant=refuse)
    assert result["psnr"] is None and all(image["psnr"] is None for image in result["per_image"])


# ----------------------------------------------------------------------------- signals


def _wait_for(stream, text: str, timeout: float = 120.0) -> str:
    """Read ``stream`` (binary, unbuffered) until ``text`` appears; return what was read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        chunk = os.read(stream.fileno(), 256)
        assert chunk, seen.decode(errors="replace")
        seen += chunk
    return seen.decode(errors="replace")


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_sigterm_during_a_restore_leaves_no_output_and_no_temporary(tmp_path: Path) -> None:
    write_photo(tmp_path / "big.png", 1, size=(512, 512))
    command = [
        sys.executable,
        "-m",
        "irstudio",
        "restore",
        str(tmp_path / "big.png"),
        "-m",
        "compacter-x1",
        "--backend",
        "eager",
        "--tile",
        "64",
        "--precision",
        "fp32",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    assert process.stderr is not None
    _wait_for(process.stderr, "big.png")  # the progress line: tiles are running
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read().decode(errors="replace")
    assert process.wait(timeout=60) == 143
    assert "irstudio: terminated" in rest and "Traceback" not in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]
    assert leftover_temp_files(tmp_path / "big_compacter-x1.png") == []


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_sigterm_during_training_writes_a_checkpoint_and_stops(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        model="compacter-x1",
        train=TrainSection(steps=100_000, validate_every=100_000, checkpoint_every=100_000, log_every=1),
    )
    path = save_config(config, tmp_path / "run.toml")
    process = subprocess.Popen(
        [sys.executable, "-m", "irstudio", "train", str(path)], stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stderr is not None
    _wait_for(process.stderr, "train [")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err.decode(errors="replace")
    assert b"resume with:" in out and b"Traceback" not in err
    assert len(list_checkpoints(config.run_dir)) == 1


def _wait_until_torch_loads(pid: int, timeout: float = 30.0) -> None:
    """Until torch's library is mapped into ``pid`` (Linux /proc), else a fixed 0.3 s."""
    maps = Path(f"/proc/{pid}/maps")
    if not maps.parent.is_dir():
        time.sleep(0.3)
        return
    deadline = time.monotonic() + timeout
    while "libtorch" not in maps.read_text(errors="replace"):
        assert time.monotonic() < deadline, "torch never loaded"
        time.sleep(0.01)


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_ctrl_c_while_loading_is_one_line(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "irstudio", "models"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        # SIGINT at its default, as a terminal's Ctrl+C finds it: a test run started in the
        # background of a shell without job control ignores SIGINT, and children inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_until_torch_loads(process.pid)  # past interpreter start-up, inside the heavy imports
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.decode().strip() == "irstudio: interrupted"


def test_np_seed_check_matches_numpy() -> None:
    np.random.default_rng(2**32 - 1)  # the largest seed the config accepts is one numpy takes


def test_a_killed_runs_checkpoint_temporary_is_removed_by_the_next_run(tmp_path: Path, tiny_models) -> None:
    config = tiny_config(tmp_path, steps=2)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = config.run_dir / "checkpoints" / f".step_00000001.pt.{int(dead.stdout)}-0123456789ab.tmp"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"half a checkpoint")
    run_to_end(train(config))
    assert not left.exists() and len(list_checkpoints(config.run_dir)) == 1
