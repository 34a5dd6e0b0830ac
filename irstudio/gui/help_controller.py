"""The Help menu's dialogs: About, and "Self-test" (``irstudio.selftest`` run from the app).

``HelpController(parent=..., runner=..., state=..., devices=..., status=...)`` makes the "Run
self-test…" ``action`` (the window puts it in the Help menu). It runs
``irstudio.selftest.run_self_test(device=<the state's device>)`` (no Qt) under ``SELF_TEST_KEY``
on its own lane, ``SELF_TEST_LANE``, so it neither waits for nor disturbs restorations, and shows
the report's text in a ``SelfTestDialog`` (it says "Running…" until the report arrives).
``show_about()`` is the About box. Dialogs are children of ``parent``.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from irstudio import __version__, selftest
from irstudio.core import CancelToken, DeviceInfo
from irstudio.gui.state import AppState
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.window_parts import Status
from irstudio.paths import APP_NAME

__all__ = ["SELF_TEST_KEY", "SELF_TEST_LANE", "HelpController", "SelfTestDialog"]

SELF_TEST_KEY = "self-test"
SELF_TEST_LANE = Lane.SELF_TEST


class SelfTestDialog(QDialog):
    """A read-only, monospaced report with a one-line verdict above it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME} self-test")
        self.resize(720, 480)
        self.verdict = QLabel()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(self.text, stretch=1)
        layout.addWidget(buttons)
        self.show_running()

    def show_running(self) -> None:
        self.verdict.setText("Running the self-test… (models are run on the sample image)")
        self.text.setPlainText("")

    def show_report(self, report: selftest.SelfTestReport) -> None:
        self.verdict.setText("<b>All checks passed.</b>" if report.passed else "<b>Some checks FAILED.</b>")
        self.text.setPlainText(report.text())

    def show_failure(self, message: str) -> None:
        self.verdict.setText("<b>The self-test could not run.</b>")
        self.text.setPlainText(message)

    def report_text(self) -> str:
        return self.text.toPlainText()


class HelpController(QObject):
    """Self-test through the runner; the About box."""

    def __init__(
        self,
        *,
        parent: QWidget,
        runner: TaskRunner,
        state: AppState,
        devices: list[DeviceInfo],
        status: Status,
    ) -> None:
        super().__init__(parent)
        self._parent, self._runner, self._state = parent, runner, state
        self._devices, self._status = devices, status
        self.dialog: SelfTestDialog | None = None
        self.action = QAction("Run &self-test…", parent)
        self.action.setStatusTip("Check devices and models on a sample image")
        self.action.triggered.connect(lambda _checked=False: self.run_self_test())

    def run_self_test(self) -> SelfTestDialog:
        """Show the dialog and start the self-test (again, when it already ran)."""
        if self.dialog is None:
            self.dialog = SelfTestDialog(self._parent)
        self.dialog.show_running()
        self.dialog.show()
        self.dialog.raise_()
        device = self._state.device

        def work(token: CancelToken) -> selftest.SelfTestReport:
            token.raise_if_cancelled()
            return selftest.run_self_test(device=device)  # looked up now: tests may replace it

        job = self._runner.submit(SELF_TEST_KEY, work, lane=SELF_TEST_LANE)
        job.result.connect(self._on_finished)
        job.error.connect(self._on_failed)
        return self.dialog

    def _on_finished(self, report: object) -> None:
        if self.dialog is not None and isinstance(report, selftest.SelfTestReport):
            self.dialog.show_report(report)
            self._status(report.summary())

    def _on_failed(self, message: str) -> None:
        if self.dialog is not None:
            self.dialog.show_failure(message)

    def show_about(self) -> None:
        devices = "<br>".join(device.describe() for device in self._devices)
        QMessageBox.about(
            self._parent,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {__version__}</b><br>Restore photos with lightweight transformer networks: "
            f"restore, compare, look inside, fine-tune.<br><br>PyTorch {torch.__version__}<br>{devices}",
        )
