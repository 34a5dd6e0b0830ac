"""Ground-truth mode: the "Ground truth" dock, degrading the shown photo, and the live score table.

``GroundTruthController(parent=..., state=..., runner=..., add_dock=..., select_task=..., warn=...,
status=...)`` docks a ``GroundTruthPanel`` (``add_dock``). "Degrade this photo" makes a
``GroundTruthPair`` (``inference.ground_truth.make_ground_truth``, the degradation code training
uses) on the ``GROUND_TRUTH_LANE`` worker; the degraded image then becomes the shown input, the
clean photo the reference, and ``select_task`` switches the model panel to the task that restores
it. Degrading again starts from the same clean photo, not from the degraded one.

Scores: whenever a whole-image result is added or removed, the results not yet scored are scored
(``score_result`` under the pair's protocol) on the same worker, newest request superseding older
ones; the table shows the input row, then one row per model in the order the results came, under
the protocol header. Opening any other image leaves ground-truth mode (the table is cleared).

The degraded noisy input is not clipped (the papers' protocol); views clip it for display.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt

from irstudio.core import CancelToken
from irstudio.core.image_io import LoadedImage
from irstudio.gui.state import AppState
from irstudio.gui.tasks import Lane, TaskRunner
from irstudio.gui.widgets.ground_truth_panel import GroundTruthPanel
from irstudio.gui.window_parts import AddDock, Status, Warn
from irstudio.inference import GroundTruthPair, GroundTruthSpec, make_ground_truth, score_input, score_result
from irstudio.models import TASKS, task_choice

__all__ = ["DEGRADE_KEY", "GROUND_TRUTH_LANE", "SCORE_KEY", "GroundTruthController", "is_gray_mode"]

DEGRADE_KEY = "ground-truth:degrade"
SCORE_KEY = "ground-truth:scores"
GROUND_TRUTH_LANE = Lane.GROUND_TRUTH
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

Score = tuple[float, float]


def is_gray_mode(mode: str) -> bool:
    """True for Pillow modes of grey photos (scored on their grey channel, as Set12/Classic5)."""
    return mode in GRAY_MODES


@dataclasses.dataclass(frozen=True)
class _Source:
    """The clean photo a pair was made from, and what to call it."""

    image: LoadedImage
    name: str


def _score_work(pair: GroundTruthPair, images: dict[str, np.ndarray], with_input: bool):
    """Worker: scores of ``images`` (by key; NaN when the size does not match the reference) and,
    when ``with_input``, the input row."""

    def work(token: CancelToken):
        token.raise_if_cancelled()
        input_row = score_input(pair) if with_input else None
        scores: dict[str, Score] = {}
        for key, image in images.items():
            token.raise_if_cancelled()
            try:
                scores[key] = score_result(image, pair)
            except ValueError:  # another scale's result, or too small for SSIM
                scores[key] = (math.nan, math.nan)
        return pair, images, scores, input_row

    return work


class GroundTruthController(QObject):
    """Wires the ground-truth panel to the state and the runner; ``select_task(key)`` chooses the
    model panel's task, ``warn``/``status`` tell the user."""

    def __init__(
        self,
        *,
        parent: QObject,
        state: AppState,
        runner: TaskRunner,
        add_dock: AddDock,
        select_task: Callable[[str], None],
        warn: Warn,
        status: Status,
    ) -> None:
        super().__init__(parent)
        self._state, self._runner, self._select_task_key = state, runner, select_task
        self._warn, self._status = warn, status
        self.panel = GroundTruthPanel()
        self.dock = add_dock(
            "Ground truth",
            "GroundTruthDock",
            self.panel,
            Qt.DockWidgetArea.RightDockWidgetArea,
            sideways=True,
        )
        self._idle_text = self.panel.protocol()
        self._source: _Source | None = None
        self._pair: GroundTruthPair | None = None
        self._shown: LoadedImage | None = None  # the degraded image this controller put into the state
        self._input_row: tuple[str, float, float] | None = None
        self._scores: dict[str, tuple[np.ndarray, Score]] = {}  # result key -> (scored image, score)
        self.panel.degrade_requested.connect(self.degrade)
        self._state.image_changed.connect(self._on_image_changed)
        self._state.task_changed.connect(self._follow_task)
        if self._state.task:
            self._follow_task(self._state.task)
        for signal in (self._state.result_added, self._state.result_removed):
            signal.connect(lambda _key: self.rescore())
        self._state.results_cleared.connect(self.rescore)

    @property
    def pair(self) -> GroundTruthPair | None:
        """The pair being scored (None outside ground-truth mode)."""
        return self._pair

    def degrade(self, spec: GroundTruthSpec) -> bool:
        """Degrade the clean photo on the worker; False (with a status message) without a photo."""
        image = self._state.image
        if image is None:
            self._status("Open a photo first, then degrade it")
            return False
        source = self._source if self._in_mode() else _Source(image, self._state.name)
        assert source is not None
        gray = is_gray_mode(source.image.info.mode)
        generation = self._state.generation

        def work(token: CancelToken):
            token.raise_if_cancelled()
            return generation, source, make_ground_truth(source.image.rgb, spec, is_gray=gray)

        job = self._runner.submit(DEGRADE_KEY, work, lane=GROUND_TRUTH_LANE)
        job.result.connect(self._on_degraded)
        job.error.connect(lambda message: self._warn("Cannot degrade this photo", message))
        self._status(f"Degrading {source.name}: {spec.describe()}")
        return True

    def rescore(self) -> None:
        """Score the whole-image results not scored yet (on the worker); redraw the table."""
        if self._pair is None:
            return
        results = [r for r in self._state.results.values() if not r.is_preview]
        missing = {
            r.key: r.image
            for r in results
            if r.key not in self._scores or self._scores[r.key][0] is not r.image
        }
        self._show_table()
        if missing or self._input_row is None:
            work = _score_work(self._pair, missing, self._input_row is None)
            job = self._runner.submit(SCORE_KEY, work, lane=GROUND_TRUTH_LANE)
            job.result.connect(self._on_scored)
            job.error.connect(lambda message: self._status(f"Scoring failed: {message}"))

    # ------------------------------------------------------------------ reactions

    def _in_mode(self) -> bool:
        return self._pair is not None and self._shown is not None and self._state.image is self._shown

    def _on_image_changed(self) -> None:
        if self._in_mode():
            return
        self._source = self._pair = self._shown = self._input_row = None
        self._scores.clear()
        self.panel.clear_scores()
        self.panel.set_protocol(self._idle_text)

    def _on_degraded(self, outcome: object) -> None:
        generation, source, pair = outcome  # type: ignore[misc]
        self._show_pair(generation, source, pair)

    def _on_scored(self, outcome: object) -> None:
        pair, images, scores, input_row = outcome  # type: ignore[misc]
        if pair is not self._pair:
            return  # scored for an earlier pair
        if input_row is not None:
            self._input_row = input_row
        self._scores.update({k: (images[k], s) for k, s in scores.items()})
        self._show_table()

    def _show_pair(self, generation: int, source: _Source, pair: GroundTruthPair) -> None:
        """Make ``pair.degraded`` the shown input (the photo changed meanwhile: dropped)."""
        if generation != self._state.generation:
            return
        height, width = pair.degraded.shape[:2]
        info = dataclasses.replace(source.image.info, width=width, height=height, has_alpha=False)
        degraded = LoadedImage(pair.degraded, None, info)
        self._source, self._pair, self._shown = source, pair, degraded
        self._input_row = None
        self._scores.clear()
        self._state.set_image(
            degraded,
            None,
            name=f"{source.name}, {pair.spec.describe()}",
            reference=pair.reference,
            input_label=f"Degraded input: {pair.spec.describe()}",
        )
        self._select_task(pair.spec)
        self.panel.set_scores([], protocol=pair.header)
        self.rescore()

    def _follow_task(self, key: str) -> None:
        """The degradation offered follows the task chosen in the model panel."""
        choice = task_choice(key)
        self.panel.follow_task(choice.task, choice.scale)

    def _select_task(self, spec: GroundTruthSpec) -> None:
        task = next((t for t in TASKS if t.task is spec.task and t.scale == spec.scale), None)
        if task is None:
            self._status(f"No task of the model panel restores {spec.describe()}")
        else:
            self._select_task_key(task.key)

    def _show_table(self) -> None:
        if self._pair is None or self._input_row is None:
            return
        rows = [self._input_row]
        for result in self._state.results.values():
            scored = self._scores.get(result.key)
            if not result.is_preview and scored is not None and scored[0] is result.image:
                rows.append((result.label, *scored[1]))
        self.panel.set_scores(rows, protocol=self._pair.header)
