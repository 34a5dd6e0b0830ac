"""The "Inside" dock: attention, energy, spectrum and error maps of the selected model.

``InsideController(parent=..., state=..., runner=..., compare=..., panel=..., add_dock=...,
models=...)`` docks an ``InsideView`` (``add_dock``) and keeps it in step with the window: the shown
image, reference, device and selected model of ``panel`` (with its weights); the compare view's
clicked pixel (the query) and visible region (the crop the maps are computed on); the selected
model's whole-image result, when there is one (spectra and error maps use it instead of running the
model). The view's ``compute_requested(MapRequest)`` runs ``inference.maps.compute_maps`` under
``MAPS_KEY`` on ``Lane.DEVICE`` (a newer request supersedes the older one; opening another image or
Esc cancels it) with ``models``, the window's ``ModelCache`` that its restores use on the same lane
(None: each computation opens its model); the job's handle reports back. A hidden dock asks for
nothing; shown again, it computes what was asked meanwhile.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from irstudio.gui.state import AppState
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.widgets.compare_view import CompareView
from irstudio.gui.widgets.inside_view import InsideView
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.gui.window_parts import AddDock
from irstudio.inference import ModelCache
from irstudio.inference.maps import MapKind, MapRequest, MapsResult, compute_maps, has_attention_maps

__all__ = ["MAPS_KEY", "MAPS_LANE", "InsideController"]

MAPS_KEY = "maps"
MAPS_LANE = Lane.DEVICE


class InsideController(QObject):
    """Wires the Inside view to the state, the compare view, the model panel and the runner."""

    def __init__(
        self,
        *,
        parent: QObject,
        state: AppState,
        runner: TaskRunner,
        compare: CompareView,
        panel: ModelPanel,
        add_dock: AddDock,
        models: ModelCache | None = None,
    ) -> None:
        super().__init__(parent)
        self._state, self._runner, self._panel, self._models = state, runner, panel, models
        self._pending = False  # a computation was asked for and has not reported yet
        self._attention_left = False  # the view left "attention" because a model had none
        self._following_model = False
        self.view = InsideView()
        self.dock = add_dock(
            "Inside", "InsideDock", self.view, Qt.DockWidgetArea.RightDockWidgetArea, sideways=True
        )
        view = self.view
        compare.pixel_clicked.connect(view.set_query)
        compare.visible_region_changed.connect(view.set_region)
        self.dock.visibilityChanged.connect(self._on_visibility)
        panel.model_selected.connect(lambda _key: self._on_model_selected())
        state.device_changed.connect(view.set_device)
        state.image_changed.connect(self._on_image_changed)
        state.reference_changed.connect(lambda: view.set_reference(state.reference))
        state.result_added.connect(lambda _key: self._sync_output())
        state.result_removed.connect(lambda _key: self._sync_output())
        state.results_cleared.connect(self._sync_output)
        view.compute_requested.connect(self.compute)
        view.kind_combo.currentIndexChanged.connect(lambda _index: self._on_kind_chosen())
        view.set_device(state.device)
        self._on_model_selected()

    def compute(self, request: MapRequest) -> None:
        """Run ``request`` on the worker (superseding the previous maps request)."""
        self._pending = True
        models = self._models
        job = self._runner.submit(
            MAPS_KEY, lambda token: compute_maps(request, token, models=models), lane=MAPS_LANE
        )
        job.progress.connect(self._on_progressed)
        job.result.connect(self._on_finished)
        job.error.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)

    # ------------------------------------------------------------------ window → view

    def _on_model_selected(self) -> None:
        """Show the selected model; the attention kind comes back for a model that has attention
        maps when the view left it only because the previous model had none."""
        choice = self._panel.current_choice()
        weights = str(choice.weights) if choice is not None and choice.weights is not None else None
        before = self.view.kind()
        self._following_model = True
        self.view.set_model(choice.spec if choice is not None else None, weights)
        if before is MapKind.ATTENTION and self.view.kind() is not MapKind.ATTENTION:
            self._attention_left = True
        elif self._attention_left and choice is not None and has_attention_maps(choice.spec):
            self.view.set_kind(MapKind.ATTENTION)
            self._attention_left = False
        self._following_model = False
        self._sync_output()

    def _on_kind_chosen(self) -> None:
        if not self._following_model:  # the user chose a kind: keep it
            self._attention_left = False

    def _on_image_changed(self) -> None:
        image = self._state.image
        self._pending = False
        self.view.set_image(image.rgb if image is not None else None)
        self.view.set_reference(self._state.reference)
        self._sync_output()

    def _sync_output(self) -> None:
        """The selected model's whole-image result, or None (then the maps code runs the model)."""
        choice = self._panel.current_choice()
        result = self._state.result(choice.key) if choice is not None else None
        self.view.set_output(result.image if result is not None and not result.is_preview else None)

    def _on_visibility(self, visible: bool) -> None:
        self.view.set_active(visible)
        if not visible or self._state.image is None or self.view.result() is not None:
            return  # (hidden also while the window is destroyed: touch no child widget then)
        if self.view.query() is not None or self.view.kind() is not MapKind.ATTENTION:
            self.view.request_maps()

    # ------------------------------------------------------------------ runner → view

    def _on_progressed(self, item: object) -> None:
        self.view.show_progress(str(item))

    def _on_finished(self, result: object) -> None:
        if self._pending and isinstance(result, MapsResult):  # else: an older image's
            self._pending = False
            self.view.show_result(result)

    def _on_failed(self, message: str) -> None:
        self._pending = False
        self.view.show_error(message)

    def _on_cancelled(self) -> None:
        if self._pending:
            self._pending = False
            self.view.show_progress("Cancelled. Click the photo or press Update to compute again.")
