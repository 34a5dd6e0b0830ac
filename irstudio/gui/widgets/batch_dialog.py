"""The batch dialog: restore a folder with one model, watch its progress, see the errors at the end.

The dialog runs nothing itself. "Start" checks the form and emits
``start_requested(BatchRequest)`` (``irstudio.inference.batch``); "Cancel" emits
``cancel_requested()``. The window runs ``run_batch_request`` through its ``TaskRunner`` and feeds
the dialog back through four slots: ``on_event(BatchEvent)`` for each progressed item,
``on_finished(BatchReport)``, ``on_failed(str)`` and ``on_cancelled()``. While a batch runs the form
is locked; at the end the summary and the per-file errors are shown in a list, and Start is offered
again (a rerun skips what was written: it resumes). Closing the dialog while a batch runs cancels it.

Where Ray is installed (``cluster_available``, by default looked up without importing it) the form
also offers "Run on a Ray cluster" with an address (auto, local, ray://HOST:PORT or HOST:PORT); the
request then carries it in ``BatchRequest.cluster``. Without Ray neither is shown.

Main thread only, like every widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from irstudio.inference import BatchEvent, BatchEventKind, BatchReport, BatchRequest, default_output_dir
from irstudio.inference.cluster import AUTO, check_address, ray_installed

__all__ = ["BatchDialog"]

PROGRESS_STEPS = 1000
"""Resolution of the overall progress bar (0..PROGRESS_STEPS)."""


class BatchDialog(QDialog):
    """Pick input and output folders, subfolders on/off and a model; start, follow and cancel a batch."""

    start_requested = Signal(object)  # BatchRequest
    cancel_requested = Signal()

    def __init__(
        self,
        models: Sequence[tuple[str, str]],
        parent: QWidget | None = None,
        *,
        input_dir: str | Path | None = None,
        output_dir: str | Path | None = None,
        model_id: str | None = None,
        cluster_available: bool | None = None,
    ) -> None:
        """``models``: (model id, label shown) in display order; the other arguments preselect.
        ``cluster_available``: offer the Ray cluster option (None: whether Ray is installed)."""
        super().__init__(parent)
        self.setWindowTitle("Restore a folder")
        self.setMinimumWidth(720)  # room for a typical photo folder's path
        self._running = False
        self._suggested = ""  # the last output folder filled in for the user
        self._failures: list[tuple[str, str]] = []  # (relative path, reason) seen in events
        self._build_form(models)
        self._build_cluster_row(ray_installed() if cluster_available is None else cluster_available)
        self._build_progress()
        self._build_buttons()
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.validation_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.files_label)
        layout.addWidget(self.current_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.error_list, stretch=1)
        layout.addStretch(1)  # takes the spare height while the error list is hidden
        layout.addWidget(self.buttons)
        self._layout = layout
        if model_id is not None and (index := self.model_combo.findData(model_id)) >= 0:
            self.model_combo.setCurrentIndex(index)
        if input_dir is not None:
            self.input_edit.setText(str(input_dir))
        if output_dir is not None:
            self.output_edit.setText(str(output_dir))
        self._suggest_output()
        self._set_running(False)

    # ------------------------------------------------------------------------------------ building

    def _build_form(self, models: Sequence[tuple[str, str]]) -> None:
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("the folder of photos to restore")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("where the restored photos go (a mirrored tree)")
        for edit in (self.input_edit, self.output_edit):  # a path longer than the field: hover
            edit.textChanged.connect(edit.setToolTip)
        self.input_browse = QPushButton("Browse…")
        self.output_browse = QPushButton("Browse…")
        self.recursive_check = QCheckBox("Include subfolders")
        self.recursive_check.setChecked(False)  # as on the command line: subfolders only when asked
        self.model_combo = QComboBox()
        for model_id, label in models:
            self.model_combo.addItem(label, model_id)
        self.form = QFormLayout()
        self.form.addRow("Input folder", _row(self.input_edit, self.input_browse))
        self.form.addRow("Output folder", _row(self.output_edit, self.output_browse))
        self.form.addRow("", self.recursive_check)
        self.form.addRow("Model", self.model_combo)
        self.validation_label = QLabel()
        self.validation_label.setStyleSheet("color: #e5534b")
        self.validation_label.setWordWrap(True)
        self.validation_label.hide()
        self.input_edit.textChanged.connect(self._suggest_output)
        self.model_combo.currentIndexChanged.connect(self._suggest_output)
        self.input_browse.clicked.connect(self._browse_input)
        self.output_browse.clicked.connect(self._browse_output)

    def _build_cluster_row(self, available: bool) -> None:
        """The "Run on a Ray cluster" check box and its address (None where Ray is not installed)."""
        self.cluster_check: QCheckBox | None = None
        self.cluster_edit: QLineEdit | None = None
        if not available:
            return
        self.cluster_check = QCheckBox("Run on a Ray cluster")
        self.cluster_check.setToolTip(
            "Restore on the workers of a Ray cluster; both folders must be paths every node sees"
        )
        self.cluster_edit = QLineEdit(AUTO)
        self.cluster_edit.setPlaceholderText("auto, local, ray://HOST:PORT or HOST:PORT")
        self.cluster_edit.setToolTip(
            "auto: the running cluster; local: a Ray started on this computer; ray://HOST:PORT: Ray Client"
        )
        self.cluster_check.toggled.connect(lambda _on: self._set_running(self._running))
        self.form.addRow("", _row(self.cluster_check, self.cluster_edit))

    def _cluster_address(self) -> str:
        """The address asked for, or "" to run on this computer."""
        if self.cluster_check is None or self.cluster_edit is None or not self.cluster_check.isChecked():
            return ""
        return self.cluster_edit.text().strip()

    def _build_progress(self) -> None:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p %")
        self.files_label = QLabel("Existing outputs are skipped; a stopped batch resumes where it stopped.")
        self.current_label = QLabel()
        self.current_label.setWordWrap(True)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.error_list = QListWidget()
        self.error_list.setToolTip("Files that could not be restored, with the reason")
        self.error_list.setWordWrap(True)
        self.error_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.error_list.hide()

    def _build_buttons(self) -> None:
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton("Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)
        self.cancel_button.clicked.connect(self._cancel)
        self.close_button.clicked.connect(self.reject)

    # ------------------------------------------------------------------------------------ the form

    def request(self) -> BatchRequest | None:
        """The request the form describes, or None (with the reason shown) when it is incomplete."""
        problem = self._problem()
        self.validation_label.setText(problem)
        self.validation_label.setVisible(bool(problem))
        if problem:
            return None
        return BatchRequest(
            input_dir=Path(self.input_edit.text().strip()),
            output_dir=Path(self.output_edit.text().strip()),
            model_id=str(self.model_combo.currentData()),
            recursive=self.recursive_check.isChecked(),
            cluster=self._cluster_address(),
        )

    def _problem(self) -> str:
        source, target = self.input_edit.text().strip(), self.output_edit.text().strip()
        if self.model_combo.count() == 0:
            return "No model to run: choose a task with at least one model."
        if not source or not Path(source).is_dir():
            return "Choose an input folder that exists."
        if not target:
            return "Choose an output folder."
        if Path(target).resolve() == Path(source).resolve():
            return "The output folder must differ from the input folder."
        if self.cluster_check is not None and self.cluster_check.isChecked():
            try:
                check_address(self._cluster_address())
            except ValueError:
                return "Enter the Ray cluster's address: auto, local, ray://HOST:PORT or HOST:PORT."
        return ""

    def _suggest_output(self) -> None:
        """Fill the output with ``<input>_<model>`` while it is empty or still the last suggestion
        (a folder the user typed or picked is kept)."""
        source = self.input_edit.text().strip()
        if not source or self.model_combo.count() == 0:
            return
        if self.output_edit.text() not in ("", self._suggested):
            return
        self._suggested = str(default_output_dir(source, str(self.model_combo.currentData())))
        self.output_edit.setText(self._suggested)

    def _browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos", self.input_edit.text())
        if folder:
            self.input_edit.setText(folder)

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)

    # ------------------------------------------------------------------------------------ running

    def is_running(self) -> bool:
        return self._running

    def _start(self) -> None:
        request = self.request()
        if request is None:
            return
        self._failures = []
        self.error_list.clear()
        self.error_list.hide()
        self.summary_label.clear()
        self.progress_bar.setValue(0)
        self.files_label.setText("Starting…")
        self.current_label.clear()
        self._set_running(True)
        self.start_requested.emit(request)

    def _cancel(self) -> None:
        if self._running:
            self.cancel_button.setEnabled(False)
            self.current_label.setText("Cancelling after the current tile…")
            self.cancel_requested.emit()

    def _set_running(self, running: bool) -> None:
        self._running = running
        for widget in (
            self.input_edit,
            self.output_edit,
            self.input_browse,
            self.output_browse,
            self.recursive_check,
            self.model_combo,
            self.start_button,
        ):
            widget.setEnabled(not running)
        if self.cluster_check is not None and self.cluster_edit is not None:
            self.cluster_check.setEnabled(not running)
            self.cluster_edit.setEnabled(not running and self.cluster_check.isChecked())
        self.cancel_button.setEnabled(running)

    def on_event(self, event: BatchEvent) -> None:
        """A ``BatchEvent`` from the running batch: progress, current file, errors so far."""
        self.progress_bar.setValue(round(event.overall * PROGRESS_STEPS))
        self.files_label.setText(f"{event.finished} of {event.total} files done")
        if event.kind is BatchEventKind.STARTED:
            self.current_label.setText(f"Restoring {event.item.relative}")
        elif event.kind is BatchEventKind.PROGRESS:
            self.current_label.setText(f"Restoring {event.item.relative}: tile {event.tile} of {event.tiles}")
        elif event.kind is BatchEventKind.FAILED:
            self._failures.append((event.item.relative, event.message))

    def on_finished(self, report: BatchReport) -> None:
        """The batch ended: show the summary and every per-file error."""
        self._set_running(False)
        self.progress_bar.setValue(PROGRESS_STEPS)
        self.files_label.setText(f"All {report.total} files processed")
        self.current_label.clear()
        self.summary_label.setText(f"Finished: {report.summary()}.")
        self._show_errors([(failure.relative, failure.reason) for failure in report.failed])

    def on_failed(self, message: str) -> None:
        """The batch stopped on an error that is not one file's (e.g. the model or the device)."""
        self._set_running(False)
        self.current_label.clear()
        self.summary_label.setText(f"Stopped: {message} Start again to resume.")
        self._show_errors(self._failures)

    def on_cancelled(self) -> None:
        self._set_running(False)
        self.current_label.clear()
        self.summary_label.setText("Cancelled. The files written so far are kept; Start again to resume.")
        self._show_errors(self._failures)

    def errors(self) -> list[str]:
        """The per-file errors shown in the list, ``"<relative path>: <reason>"``."""
        return [self.error_list.item(row).text() for row in range(self.error_list.count())]

    def _show_errors(self, failures: Sequence[tuple[str, str]]) -> None:
        self.error_list.clear()
        for relative, reason in failures:
            item = QListWidgetItem(f"{relative}: {reason}")
            item.setToolTip(reason)
            self.error_list.addItem(item)
        self.error_list.setVisible(bool(failures))
        self._layout.setStretch(self._layout.indexOf(self.error_list) + 1, 0 if failures else 1)
        if failures:
            self.summary_label.setText(
                f"{self.summary_label.text()} {len(failures)} file(s) could not be restored:"
            )

    # ------------------------------------------------------------------------------------ closing

    def reject(self) -> None:
        """Esc, Close or the window's close button: cancels a running batch, then closes."""
        if self._running:
            self.cancel_requested.emit()
        super().reject()


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, stretch=1 if isinstance(widget, QLineEdit) else 0)
    return holder
