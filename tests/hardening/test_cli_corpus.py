"""The bad-input corpus through ``irstudio restore``: a clear one-line error (exit 1) and nothing
written for broken files and unwritable outputs; a correct result for odd but valid files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from irstudio.cli import main
from irstudio.core import atomic
from irstudio.core.image_io import read_image
from tests.hardening.corpus import BAD_CASES, GOOD_CASES, Case, check_loads, listing

REPO = Path(__file__).resolve().parents[2]


def _error_lines(stderr: str) -> list[str]:
    """Each ``irstudio: error: ...`` message (a progress bar may precede one on the same line)."""
    return re.findall(r"irstudio: error: [^\r\n]*", stderr)


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda case: case.id)
def test_bad_file_gives_one_clear_line_exit_1_and_writes_nothing(tmp_path: Path, capsys, case: Case) -> None:
    source = case.write(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    inputs_before = listing(tmp_path / "in")
    code = main(["restore", str(source), "-m", "identity", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert case.error in lines[0] and str(source) in lines[0]
    assert "Traceback" not in err
    assert listing(out) == []  # no output, no temporary file
    assert listing(tmp_path / "in") == inputs_before


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda case: case.id)
def test_odd_but_valid_file_is_restored_correctly(tmp_path: Path, capsys, case: Case) -> None:
    source = case.write(tmp_path)
    loaded = check_loads(case, source)
    assert main(["restore", str(source), "-m", "identity"]) == 0
    assert "error" not in capsys.readouterr().err
    output = source.with_name(f"{source.stem}_identity.png")
    restored = read_image(output)
    # identity: the pixels as loaded, to the output's 16-bit step where the source had finer values
    step = 0.0 if loaded.info.bit_depth <= 16 and loaded.info.mode != "RGBA" else 0.5 / 65535 + 1e-7
    np.testing.assert_allclose(restored.rgb, loaded.rgb, rtol=0, atol=step)
    assert (restored.alpha is None) == (loaded.alpha is None)
    if loaded.alpha is not None:
        np.testing.assert_allclose(restored.alpha, loaded.alpha, rtol=0, atol=step)
    assert restored.info.orientation == 1  # written upright
    assert restored.info.bit_depth == (16 if loaded.info.bit_depth >= 16 else 8)
    assert sorted(p.name for p in source.parent.iterdir()) == sorted([source.name, output.name])


def test_super_resolution_of_a_rotated_photo_with_alpha_keeps_both(tmp_path: Path) -> None:
    rotated = next(case for case in GOOD_CASES if case.id == "exif-rotated-jpeg").write(tmp_path)
    icon = next(case for case in GOOD_CASES if case.id == "palette-transparency").write(tmp_path)
    assert main(["restore", str(rotated), str(icon), "-m", "bicubic", "--scale", "2"]) == 0
    assert read_image(tmp_path / "phone_bicubic-x2.png").rgb.shape == (64, 48, 3)
    restored_icon = read_image(tmp_path / "icon_bicubic-x2.png")
    assert restored_icon.alpha is not None and restored_icon.alpha.shape == (20, 40)


def test_a_batch_with_bad_files_writes_only_the_good_outputs(tmp_path: Path, capsys) -> None:
    sources = [case.write(tmp_path) for case in (*BAD_CASES, GOOD_CASES[0])]
    out = tmp_path / "out"
    assert main(["restore", *map(str, sources), "-m", "identity", "-o", str(out)]) == 1
    assert len(_error_lines(capsys.readouterr().err)) == len(BAD_CASES)
    assert listing(out) == [f"{GOOD_CASES[0].name[:-4]}_identity.png"]


def _good_input(tmp_path: Path) -> Path:
    return GOOD_CASES[-1].write(tmp_path / "in")


def test_output_folder_under_a_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    source = _good_input(tmp_path)
    (tmp_path / "a file").write_text("not a folder")
    code = main(["restore", str(source), "-m", "identity", "-o", str(tmp_path / "a file" / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and "a file" in lines[0] and "Not a directory" in lines[0]
    assert listing(tmp_path) == sorted(["a file", "in", *(f"in/{p}" for p in listing(tmp_path / "in"))])


def test_output_folder_that_is_a_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    source = _good_input(tmp_path)
    (tmp_path / "out.png").write_bytes(b"keep")
    assert main(["restore", str(source), "-m", "identity", "-o", str(tmp_path / "out.png")]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "out.png" in lines[0]
    assert (tmp_path / "out.png").read_bytes() == b"keep"


def test_read_only_output_folder_simulated_gives_permission_error_and_no_file(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """Root ignores permission bits, so the refusal the OS would give is injected where the
    temporary output file is created."""
    source = _good_input(tmp_path)
    out = tmp_path / "out"
    out.mkdir()

    def refuse(path: Path) -> tuple[int, Path]:
        raise PermissionError(13, "Permission denied", str(path.parent))

    monkeypatch.setattr(atomic, "_create_temp_beside", refuse)
    assert main(["restore", str(source), "-m", "identity", "-o", str(out)]) == 1
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "Permission denied" in lines[0] and "_identity.png" in lines[0]
    assert listing(out) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_output_folder_for_real(tmp_path: Path, capsys) -> None:
    source = _good_input(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["restore", str(source), "-m", "identity", "-o", str(out)]) == 1
        lines = _error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and "Permission denied" in lines[0]
        assert listing(out) == []
    finally:
        out.chmod(0o755)


def test_subprocess_reports_every_bad_file_without_a_traceback(tmp_path: Path) -> None:
    sources = [case.write(tmp_path) for case in (*BAD_CASES, GOOD_CASES[-1])]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "irstudio", "restore", *map(str, sources), "-m", "identity"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == len(BAD_CASES)
    for case in BAD_CASES:
        assert any(case.name in line and case.error in line for line in lines), case.id
    good = sources[-1]
    assert good.with_name(f"{good.stem}_identity.png").is_file()
    assert not any(path.name.startswith(".") for path in tmp_path.rglob("*"))
