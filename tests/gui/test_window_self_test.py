"""Help → Run self-test…: ``irstudio.selftest.run_self_test`` on its own lane, its report in a dialog."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from irstudio import selftest
from irstudio.gui.help_controller import SELF_TEST_KEY
from irstudio.models.catalog import REGISTRY
from irstudio.selftest import CheckResult, SelfTestReport
from tests.gui.app_helpers import make_window, restore_app_look

_look = pytest.fixture(autouse=True)(restore_app_look)

SELF_TEST_TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fake_report(passed: bool) -> SelfTestReport:
    checks = [
        CheckResult("device cpu", True, "works", 0.0),
        CheckResult("sample image", passed, "ok" if passed else "OSError: missing", 0.0),
    ]
    return SelfTestReport(lines=["IR Studio self-test", *(c.line() for c in checks)], checks=checks)


def run_from_menu(qtbot, window):
    window.help.action.trigger()
    dialog = window.help.dialog
    assert dialog.isVisible() and "Running" in dialog.verdict.text()
    with qtbot.waitSignal(window.runner.job(SELF_TEST_KEY).result, timeout=SELF_TEST_TIMEOUT_MS):
        pass  # (the handle hears its report only once the event loop runs)
    return dialog


def test_the_self_test_runs_off_the_main_thread_and_shows_its_report(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    calls = []

    def fast_self_test(*, device: str = "auto", **_kwargs) -> SelfTestReport:
        calls.append((device, threading.current_thread() is threading.main_thread()))
        return fake_report(passed=len(calls) == 1)

    monkeypatch.setattr(selftest, "run_self_test", fast_self_test)
    window = make_window(qtbot, tmp_path)
    assert window.help.action in window.commands.help_menu.actions()

    dialog = run_from_menu(qtbot, window)
    assert calls == [("auto", False)]  # the selected device, on a worker thread
    assert dialog.report_text() == fake_report(True).text()
    assert "self-test passed: 2 of 2 checks" in dialog.report_text()
    assert "All checks passed" in dialog.verdict.text()

    again = run_from_menu(qtbot, window)  # run again: the same dialog, the new report
    assert again is dialog and len(calls) == 2
    assert "FAILED" in dialog.verdict.text() and "OSError: missing" in dialog.report_text()


def test_a_self_test_that_cannot_run_says_why(qtbot, tmp_path: Path, monkeypatch) -> None:
    def broken(**_kwargs) -> SelfTestReport:
        raise RuntimeError("no sample")

    monkeypatch.setattr(selftest, "run_self_test", broken)
    window = make_window(qtbot, tmp_path)
    window.help.action.trigger()
    with qtbot.waitSignal(window.runner.job(SELF_TEST_KEY).error, timeout=SELF_TEST_TIMEOUT_MS):
        pass
    assert "could not run" in window.help.dialog.verdict.text()
    assert "no sample" in window.help.dialog.report_text()


def test_the_real_self_test_passes_from_the_menu(qtbot, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    dialog = run_from_menu(qtbot, window)
    text = dialog.report_text()
    shipped = [spec.id for spec in REGISTRY if spec.learned and spec.weights is not None]
    assert "PASS  sample image" in text
    assert (
        all(f"PASS  model {model_id}" in text for model_id in shipped)
        if shipped
        else "baseline identity" in text
    )
    assert "self-test passed" in text and "All checks passed" in dialog.verdict.text()
