"""``AppState``: the one place that holds what the app is showing; views subscribe to its signals.

It holds the current image (``LoadedImage``) and where it came from, the reference (ground truth,
when one exists), the restored results per model key, and the selected task, model and device.
Setters emit past-tense signals only when a value actually changes, so two-way bindings do not
loop. Everything here is touched on the main thread only; workers get immutable snapshots.

Arrays handed in are made read-only (``flags.writeable = False``): they are shared with worker
threads and views without copies, so nobody may write into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from irstudio.core import Region
from irstudio.core.image_io import LoadedImage

__all__ = ["AppState", "Result"]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Result:
    """One restored image.

    ``key``: the model choice it came from (unique per model and weights); ``label``: display name;
    ``model_id``: the registry id; ``image``: float32 (H * scale, W * scale, 3) in [0, 1], the size
    of the whole output. For a region preview (``region`` not None, input pixels) only that region
    holds restored pixels; the rest shows the input (resized for SR), so views can align it.
    ``seconds``: compute time; ``details``: a line about device, precision and tiles.
    """

    key: str
    label: str
    model_id: str
    image: np.ndarray
    region: Region | None = None
    seconds: float = 0.0
    details: str = ""

    @property
    def is_preview(self) -> bool:
        return self.region is not None


class AppState(QObject):
    """The current image, reference, results and selection, with change signals."""

    image_changed = Signal()
    reference_changed = Signal()
    result_added = Signal(str)
    result_removed = Signal(str)
    results_cleared = Signal()
    task_changed = Signal(str)
    model_changed = Signal(str)
    device_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._image: LoadedImage | None = None
        self._path: Path | None = None
        self._name = ""
        self._reference: np.ndarray | None = None
        self._input_label = "Original"
        self._results: dict[str, Result] = {}
        self._generation = 0
        self._task = ""
        self._model = ""
        self._device = "auto"

    # ------------------------------------------------------------------ image and reference

    @property
    def image(self) -> LoadedImage | None:
        return self._image

    @property
    def path(self) -> Path | None:
        """The file the image came from; None for pasted or generated images."""
        return self._path

    @property
    def input_label(self) -> str:
        """What the current image is: "Original" for a photo as opened, else what was done to it."""
        return self._input_label

    @property
    def name(self) -> str:
        """A display name: the file name, or what the caller called it ("Clipboard")."""
        return self._name

    @property
    def generation(self) -> int:
        """Increases with every new image; a result computed for an older generation is stale."""
        return self._generation

    def set_image(
        self,
        image: LoadedImage,
        path: Path | None,
        *,
        name: str | None = None,
        reference: np.ndarray | None = None,
        input_label: str = "Original",
    ) -> None:
        """Show a new image: results are cleared, the reference replaced (None: no reference).
        ``input_label``: what the image is, as the views caption it ("Original", or a degraded
        input's description)."""
        _frozen(image.rgb)
        self._image, self._path = image, path
        self._input_label = input_label
        self._name = name if name is not None else (path.name if path is not None else "Untitled")
        self._generation += 1
        self.clear_results()
        had_reference = self._reference is not None
        self._reference = None if reference is None else _frozen(reference)
        self.image_changed.emit()
        if had_reference or reference is not None:
            self.reference_changed.emit()

    @property
    def reference(self) -> np.ndarray | None:
        """Ground truth (float32 HxWx3 [0, 1], the size of a restored output), or None."""
        return self._reference

    def set_reference(self, reference: np.ndarray | None) -> None:
        self._reference = None if reference is None else _frozen(reference)
        self.reference_changed.emit()

    # ------------------------------------------------------------------ results

    @property
    def results(self) -> dict[str, Result]:
        """Results by key, in the order they were added (a copy)."""
        return dict(self._results)

    def result(self, key: str) -> Result | None:
        return self._results.get(key)

    def add_result(self, result: Result) -> None:
        """Add or replace the result for ``result.key`` (a full run replaces its preview)."""
        _frozen(result.image)
        self._results[result.key] = result
        self.result_added.emit(result.key)

    def remove_result(self, key: str) -> None:
        if self._results.pop(key, None) is not None:
            self.result_removed.emit(key)

    def clear_results(self) -> None:
        if self._results:
            self._results.clear()
            self.results_cleared.emit()

    # ------------------------------------------------------------------ selection

    @property
    def task(self) -> str:
        return self._task

    def set_task(self, task: str) -> None:
        if task != self._task:
            self._task = task
            self.task_changed.emit(task)

    @property
    def model(self) -> str:
        """The selected model choice key ("" when none)."""
        return self._model

    def set_model(self, key: str) -> None:
        if key != self._model:
            self._model = key
            self.model_changed.emit(key)

    @property
    def device(self) -> str:
        """ "auto" or a device spec ("cpu", "cuda:0", "mps")."""
        return self._device

    def set_device(self, device: str) -> None:
        if device != self._device:
            self._device = device
            self.device_changed.emit(device)
