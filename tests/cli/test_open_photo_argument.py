"""``irstudio photo.png`` opens the app with the photo; command names still run their commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import irstudio.app
from irstudio.cli import build_parser, command_names, main


@pytest.fixture
def app_calls(monkeypatch) -> list[list[str] | None]:
    """Replace the GUI's entry point: record the argv it would get, show no window."""
    calls: list[list[str] | None] = []

    def fake_app(argv: list[str] | None = None, *, smoke: bool = False) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr(irstudio.app, "main", fake_app)
    return calls


def photo(path: Path) -> Path:
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(path, format="PNG")
    return path


def test_an_existing_file_opens_the_app_with_it(tmp_path: Path, app_calls) -> None:
    path = photo(tmp_path / "photo.png")
    assert main([str(path)]) == 0
    assert len(app_calls) == 1 and app_calls[0][1:] == [str(path)]


def test_no_argument_opens_the_app_without_a_photo(app_calls) -> None:
    assert main([]) == 0
    assert app_calls == [None]


def test_a_command_name_runs_the_command_even_when_a_file_has_its_name(
    tmp_path: Path, monkeypatch, app_calls, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "models")  # a file named like the command
    assert "models" in command_names(build_parser())
    assert main(["models", "--json"]) == 0
    assert app_calls == [] and '"identity"' in capsys.readouterr().out


def test_a_missing_photo_is_an_error_and_other_words_are_usage_errors(
    tmp_path: Path, app_calls, capsys
) -> None:
    assert main([str(tmp_path / "missing.jpg")]) == 1
    assert "missing.jpg: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["frobnicate"])
    assert usage.value.code == 2 and app_calls == []


def test_python_dash_m_goes_through_the_same_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    done = subprocess.run(
        [sys.executable, "-m", "irstudio", str(missing)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and f"{missing}: no such file" in done.stderr
