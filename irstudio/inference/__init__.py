"""Running models on photos: the tiled runner, planning, the model cache, ground truth, folders.

The face below is what the app and the command line use; each name is imported from its module on
first use (``core.lazy``), so optional engines (OpenVINO, ONNX Runtime, Ray) stay unloaded until used:

- Running: ``run_tiled`` (a generator: ``TileProgress`` per tile), ``restore`` (drains it),
  ``TilePlan`` (``runner``).
- Planning: ``AutoPlan``, ``auto_plan``, ``plan_for`` (``planning``); measuring on request:
  ``OptimiseStep``, ``optimise`` (``planning.optimise``).
- Models in memory: ``ModelCache`` (bounded, least recently used out first; one per owner),
  ``ModelKey``, ``model_key``, ``open_on``, ``UNTRAINED_SEED`` (``model_cache``).
- Ground truth: ``GroundTruthSpec``, ``GroundTruthPair``, ``make_ground_truth``, ``score_input``,
  ``score_result`` (``ground_truth``).
- Folders: ``BatchRequest``, ``BatchReport``, ``BatchEvent``, ``BatchEventKind``,
  ``run_batch_request``, ``default_output_dir`` (``batch``); output names: ``output_names``,
  ``unique_labels`` (``naming``); ``EvalDataError`` (``evaluation``).

Sub-packages with faces of their own: ``inference.maps`` (the Inside view's maps and their vocabulary),
``inference.planning`` and ``inference.backends`` (the maintainers' ``irstudio bench``),
``inference.cluster`` (Ray).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irstudio.core.lazy import lazy_face

EXPORTS = {
    "irstudio.inference.batch": (
        "BatchEvent",
        "BatchEventKind",
        "BatchReport",
        "BatchRequest",
        "default_output_dir",
        "run_batch_request",
    ),
    "irstudio.inference.evaluation": ("EvalDataError",),
    "irstudio.inference.ground_truth": (
        "GroundTruthPair",
        "GroundTruthSpec",
        "make_ground_truth",
        "score_input",
        "score_result",
    ),
    "irstudio.inference.model_cache": ("UNTRAINED_SEED", "ModelCache", "ModelKey", "model_key", "open_on"),
    "irstudio.inference.naming": ("output_names", "unique_labels"),
    "irstudio.inference.planning": ("AutoPlan", "auto_plan", "plan_for"),
    "irstudio.inference.planning.optimise": ("OptimiseStep", "optimise"),
    "irstudio.inference.runner": ("TilePlan", "TileProgress", "restore", "run_tiled"),
}
"""The face: defining module -> names (``__all__`` lists the same names)."""

__getattr__, __dir__ = lazy_face(__name__, EXPORTS)

if TYPE_CHECKING:
    from irstudio.inference.batch import (
        BatchEvent,
        BatchEventKind,
        BatchReport,
        BatchRequest,
        default_output_dir,
        run_batch_request,
    )
    from irstudio.inference.evaluation import EvalDataError
    from irstudio.inference.ground_truth import (
        GroundTruthPair,
        GroundTruthSpec,
        make_ground_truth,
        score_input,
        score_result,
    )
    from irstudio.inference.model_cache import UNTRAINED_SEED, ModelCache, ModelKey, model_key, open_on
    from irstudio.inference.naming import output_names, unique_labels
    from irstudio.inference.planning import AutoPlan, auto_plan, plan_for
    from irstudio.inference.planning.optimise import OptimiseStep, optimise
    from irstudio.inference.runner import TilePlan, TileProgress, restore, run_tiled

__all__ = [
    "UNTRAINED_SEED",
    "AutoPlan",
    "BatchEvent",
    "BatchEventKind",
    "BatchReport",
    "BatchRequest",
    "EvalDataError",
    "GroundTruthPair",
    "GroundTruthSpec",
    "ModelCache",
    "ModelKey",
    "OptimiseStep",
    "TilePlan",
    "TileProgress",
    "auto_plan",
    "default_output_dir",
    "make_ground_truth",
    "model_key",
    "open_on",
    "optimise",
    "output_names",
    "plan_for",
    "restore",
    "run_batch_request",
    "run_tiled",
    "score_input",
    "score_result",
    "unique_labels",
]
