"""The bad-input corpus through the app: ``MainWindow.open_file(path) -> bool`` returns False and
shows a message naming the file for every bad file (the window keeps what it showed), True with no
message for every odd but valid one, and never writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from irstudio.gui.main_window import MainWindow
from tests.hardening.corpus import BAD_CASES, GOOD_CASES, Case, listing


@pytest.fixture
def messages(monkeypatch) -> list[str]:
    """Texts of every message box the window tries to show (none is really shown)."""
    shown: list[str] = []

    def record(*args, **kwargs) -> QMessageBox.StandardButton:
        texts = [arg for arg in args if isinstance(arg, str)]
        shown.append(" ".join(texts[1:]) if len(texts) > 1 else " ".join(texts))
        return QMessageBox.StandardButton.Ok

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record))
    return shown


@pytest.fixture
def window(qtbot) -> MainWindow:
    main_window = MainWindow()
    qtbot.addWidget(main_window)
    return main_window


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda case: case.id)
def test_bad_file_is_refused_with_a_message(tmp_path: Path, window: MainWindow, messages, case: Case) -> None:
    good = GOOD_CASES[0].write(tmp_path)
    assert window.open_file(good)
    title_before = window.windowTitle()
    bad = case.write(tmp_path)
    files_before = listing(tmp_path)
    assert window.open_file(bad) is False
    assert len(messages) == 1
    assert bad.name in messages[0] and case.error in messages[0]
    assert window.windowTitle() == title_before
    assert listing(tmp_path) == files_before


@pytest.mark.parametrize("case", GOOD_CASES, ids=lambda case: case.id)
def test_odd_but_valid_file_opens(tmp_path: Path, window: MainWindow, messages, case: Case) -> None:
    path = case.write(tmp_path)
    files_before = listing(tmp_path)
    assert window.open_file(path) is True
    assert messages == []
    assert listing(tmp_path) == files_before
