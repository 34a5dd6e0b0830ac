"""The command line's stable contracts, run in-process through ``irstudio.cli.main``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irstudio.cli import main
from irstudio.core.image_io import read_image

PRESET_IDS = {
    "asid-x2",
    "asid-x3",
    "asid-x4",
    "asidd8-x4",
    "ast-t",
    "ast-b",
    "lir",
    "compacter-x1",
    "compacter-x2",
    "compacter-x4",
}


def _write_png(path: Path, size=(40, 30), mode="RGB") -> np.ndarray:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def test_models_json_lists_every_model_with_the_documented_keys(capsys) -> None:
    assert main(["models", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    ids = {e["id"] for e in entries}
    assert {"identity", "bicubic-x4", "nlmeans"} | PRESET_IDS <= ids
    for entry in entries:
        assert {"id", "name", "kind", "arch", "task", "scale", "params", "weights"} <= set(entry)


def test_models_archs_json_lists_presets_with_macs(capsys) -> None:
    assert main(["models", "--archs", "--json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert set(entries) >= PRESET_IDS
    assert entries["asid-x2"]["params"] == 297_516
    for entry in entries.values():
        assert {"id", "arch", "scale", "params", "macs_720p"} <= set(entry)
        assert entry["macs_720p"] > 0


def test_restore_writes_stem_model_png_and_never_overwrites(tmp_path: Path, capsys) -> None:
    pixels = _write_png(tmp_path / "photo one.png")
    assert main(["restore", str(tmp_path / "photo one.png"), "--model", "identity"]) == 0
    output = tmp_path / "photo one_identity.png"
    assert np.array_equal(np.asarray(Image.open(output)), pixels)
    output.write_bytes(b"keep me")
    assert main(["restore", str(tmp_path / "photo one.png"), "--model", "identity"]) == 0
    assert output.read_bytes() == b"keep me"
    assert "exists, skipped" in capsys.readouterr().err


def test_restore_names_missing_inputs_before_planning_and_still_does_the_rest(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "not here.png"
    assert main(["restore", str(missing), "--model", "asid-x4-sr"]) == 1
    err = capsys.readouterr().err
    assert "not here.png: no such file or folder" in err and "on cpu" not in err  # nothing was planned
    _write_png(tmp_path / "real.png")
    assert main(["restore", str(missing), str(tmp_path / "real.png"), "--model", "identity"]) == 1
    assert (tmp_path / "real_identity.png").is_file()


def test_restore_into_a_folder_with_tiles_and_alpha(tmp_path: Path) -> None:
    _write_png(tmp_path / "a.png", size=(50, 34), mode="RGBA")
    code = main(
        [
            "restore",
            str(tmp_path / "a.png"),
            "-m",
            "bicubic",
            "--scale",
            "2",
            "--out",
            str(tmp_path / "out"),
            "--tile",
            "16",
            "--overlap",
            "8",
        ]
    )
    assert code == 0
    restored = read_image(tmp_path / "out" / "a_bicubic-x2.png")
    assert restored.rgb.shape == (68, 100, 3)
    assert restored.alpha is not None and restored.alpha.shape == (68, 100)


def test_bad_input_gives_one_clear_line_and_exit_1(tmp_path: Path, capsys) -> None:
    (tmp_path / "fake.png").write_text("this is not an image")
    _write_png(tmp_path / "good.png")
    code = main(["restore", str(tmp_path / "fake.png"), str(tmp_path / "good.png"), "-m", "identity"])
    assert code == 1
    err = capsys.readouterr().err
    assert "fake.png" in err and "Traceback" not in err
    assert (tmp_path / "good_identity.png").exists() and not (tmp_path / "fake_identity.png").exists()


def test_unknown_model_is_a_message_not_a_traceback(tmp_path: Path, capsys) -> None:
    _write_png(tmp_path / "a.png")
    assert main(["restore", str(tmp_path / "a.png"), "-m", "nosuchmodel"]) == 1
    assert "unknown model 'nosuchmodel'" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "irstudio", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("irstudio ")


@pytest.mark.data
def test_eval_bicubic_set5_x4_reproduces_the_published_baseline(shared_data: Path, capsys) -> None:
    args = [
        "eval",
        "--model",
        "bicubic",
        "--data",
        str(shared_data / "bench/sr/Set5"),
        "--task",
        "sr",
        "--scale",
        "4",
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 5 and len(result["per_image"]) == 5
    assert 28.42 <= result["psnr"] <= 28.44
    assert 0.80 < result["ssim"] < 0.82


@pytest.mark.data
def test_eval_denoise_and_derain_run_on_real_sets(shared_data: Path, capsys) -> None:
    assert (
        main(
            [
                "eval",
                "-m",
                "identity",
                "--data",
                str(shared_data / "bench/derain/Rain12"),
                "--task",
                "derain",
                "--json",
            ]
        )
        == 0
    )
    derain = json.loads(capsys.readouterr().out)
    assert derain["n"] == 12 and 20 < derain["psnr"] < 40
    ids = shared_data / "bench/denoise/CBSD68_ids.txt"
    assert (
        main(
            [
                "eval",
                "-m",
                "identity",
                "--data",
                str(shared_data / "bench/sr/B100"),
                "--task",
                "denoise",
                "--sigma",
                "50",
                "--ids",
                str(ids),
                "--json",
            ]
        )
        == 0
    )
    noisy = json.loads(capsys.readouterr().out)
    assert noisy["n"] == 68 and 14.0 < noisy["psnr"] < 15.5  # σ=50 AWGN: ≈ 14.2 dB before clipping
