"""``irstudio --self-test`` (irstudio.selftest) and the start-up checks of the packaged app."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from irstudio import paths, selftest
from irstudio.cli import main
from irstudio.core.device import DeviceInfo
from irstudio.core.image_io import read_image
from irstudio.models.catalog import REGISTRY
from irstudio.models.loading import save_weights, sha256_of
from irstudio.models.spec import ModelSpec, Task

REPO = Path(__file__).resolve().parents[2]
BASELINE_IDS = [spec.id for spec in REGISTRY if not spec.learned]


@pytest.fixture
def no_presets(monkeypatch) -> None:
    """Skip the random-init presets (tens of seconds on a small CPU); the slow test runs them."""
    monkeypatch.setattr(selftest, "smallest_presets", lambda specs: [])


def test_the_sample_image_is_small_and_loads() -> None:
    sample = paths.resources_dir() / selftest.SAMPLE_NAME
    assert sample.stat().st_size < 100_000
    loaded = read_image(sample)
    assert loaded.rgb.shape == (96, 128, 3) and loaded.info.bit_depth == 8 and loaded.alpha is None
    assert loaded.rgb.std() > 0.1  # content, not a flat field


def test_smallest_presets_picks_one_per_architecture() -> None:
    chosen = {spec.arch: spec.id for spec in selftest.smallest_presets(REGISTRY)}
    assert chosen == {"compacter": "compacter-x1", "asid": "asid-x2", "ast": "ast-t", "lir": "lir"}


def test_without_shipped_weights_it_checks_the_baselines_and_says_so(no_presets, tmp_path) -> None:
    stream = io.StringIO()
    report = selftest.run_self_test(stream=stream, manifest=tmp_path / "absent.json")
    assert report.passed
    names = [check.name for check in report.checks]
    assert "device cpu" in names and "sample image" in names and "weights manifest" in names
    assert [f"baseline {model_id}" for model_id in BASELINE_IDS] == [
        n for n in names if n.startswith("baseline")
    ]
    printed = stream.getvalue()
    assert "no shipped weights in the manifest" in printed
    assert printed.rstrip().endswith(f"self-test passed: {len(names)} of {len(names)} checks")
    assert report.text() == printed.rstrip()


def test_cli_flag_exits_0_when_everything_passes(no_presets, capsys) -> None:
    assert main(["--self-test"]) == 0
    assert "self-test passed" in capsys.readouterr().out


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 3, 3, padding=1))


TINY = ModelSpec(id="tiny", name="Tiny", arch="tinynet", tasks=(Task.DENOISE,), scale=1, build=_tiny)


def _ship_tiny(folder: Path, monkeypatch) -> Path:
    """A weights folder holding one shipped model (a tiny net) and its manifest."""
    folder.mkdir()
    weights = save_weights(_tiny(), folder / "tiny.safetensors", spec=TINY)
    entry = {"id": "tiny-v1", "preset": "tiny", "file": weights.name, "sha256": sha256_of(weights)}
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "models": [entry]}))
    monkeypatch.setattr(selftest, "resolve_id", lambda model_id: {"tiny": TINY}[model_id])
    return folder / "manifest.json"


def test_shipped_models_are_verified_loaded_and_run(tmp_path: Path, monkeypatch) -> None:
    manifest = _ship_tiny(tmp_path / "weights", monkeypatch)
    report = selftest.run_self_test(manifest=manifest)
    assert report.passed
    (model_check,) = [check for check in report.checks if check.name == "model tiny-v1"]
    assert "sha256 ok, loads into tiny, 128x96 -> 128x96" in model_check.detail
    assert not any(check.name.startswith("baseline") for check in report.checks)


def test_a_damaged_shipped_file_fails_the_self_test_naming_it(tmp_path: Path, monkeypatch, capsys) -> None:
    manifest = _ship_tiny(tmp_path / "weights", monkeypatch)
    weights = tmp_path / "weights" / "tiny.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    monkeypatch.setattr(paths, "manifest_path", lambda: manifest)
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  model tiny-v1: WeightsError: tiny.safetensors: refused: its sha256 is" in out
    assert "self-test FAILED: 1 of" in out


def test_a_failing_check_does_not_stop_the_others(monkeypatch, no_presets) -> None:
    ghost = DeviceInfo("cuda:7", "a GPU that is gone", None, None)
    real = selftest.list_devices()
    monkeypatch.setattr(selftest, "list_devices", lambda: [ghost, *real])
    report = selftest.run_self_test(sample="/nonexistent/sample.png")
    failed = {check.name for check in report.failures}
    assert failed == {"device cuda:7", "sample image"}
    assert not report.passed
    assert "device cpu" in {check.name for check in report.checks if check.passed}
    assert any("models not run" in line for line in report.lines)


def test_resources_and_weights_are_found_inside_a_bundle(tmp_path: Path, monkeypatch, no_presets) -> None:
    """PyInstaller sets sys._MEIPASS to the unpack folder; paths.py must look there."""
    (tmp_path / "resources").mkdir()
    shutil.copy(REPO / "resources" / selftest.SAMPLE_NAME, tmp_path / "resources")
    shutil.copytree(REPO / "weights", tmp_path / "weights")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.install_root() == tmp_path
    report = selftest.run_self_test()
    assert report.passed
    assert f"install root: {tmp_path}" in report.text()
    assert str(tmp_path / "resources" / selftest.SAMPLE_NAME) in report.text()


@pytest.mark.slow
def test_full_self_test_passes_in_a_fresh_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "irstudio", "--self-test"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for model_id in ("compacter-x1", "asid-x2", "ast-t", "lir"):
        assert f"PASS  random-init preset {model_id}" in result.stdout


def test_smoke_flag_opens_the_main_window_and_quits_after_the_first_paint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "irstudio", "--smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "main window painted" in result.stderr


def test_packaging_files_parse() -> None:
    spec = REPO / "packaging" / "irstudio.spec"
    compile(spec.read_text(encoding="utf-8"), str(spec), "exec")
    assert subprocess.run(["bash", "-n", str(REPO / "packaging" / "build.sh")]).returncode == 0
