"""The app names the missing system libraries instead of letting Qt abort."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from irstudio import app, qt_platform

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-cursor.so.0 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibQt6Core.so.6 => /somewhere/libQt6Core.so.6 (0x00007f)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")
def test_missing_libraries_are_read_from_ldd(monkeypatch, tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(qt_platform.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(
        qt_platform.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, LDD_OUTPUT, "")
    )
    missing = qt_platform.missing_qt_libraries(plugin)
    assert missing == ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0"]
    hint = qt_platform.install_hint(missing)
    assert hint.endswith("sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0")


def test_the_app_refuses_with_the_hint_before_qt_starts(monkeypatch, capsys) -> None:
    monkeypatch.setattr(qt_platform, "uses_xcb", lambda: True)
    monkeypatch.setattr(qt_platform, "missing_qt_libraries", lambda: ["libxcb-cursor.so.0"])
    assert app.main([]) == 1
    assert "apt-get install libxcb-cursor0" in capsys.readouterr().err


def test_xcb_is_only_checked_when_qt_would_use_it() -> None:
    linux = sys.platform.startswith("linux")
    assert qt_platform.uses_xcb({}) is linux
    assert qt_platform.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}) is False
    assert qt_platform.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")
def test_this_machine_has_what_the_plugin_needs_or_says_which() -> None:
    missing = qt_platform.missing_qt_libraries()
    assert all(name.endswith(tuple(f".so.{n}" for n in range(10))) for name in missing)
