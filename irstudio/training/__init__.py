"""Fine-tuning: configuration, the training loop, checkpoints and export.

    config = load_config("run.toml")                 # or TrainConfig(...) built in code
    for event in train(config, cancel): ...          # Started, StepLog, Validation, CheckpointSaved, Notice
    export_model(config.run_dir)                     # EMA weights → the user's model library

Resume with ``train(config, cancel, resume=True)``. Multi-GPU / multi-node: launch the same code with
``torchrun`` (see ``distributed``). Imports models, data and core; never inference, never Qt.
"""

from __future__ import annotations

from irstudio.training.checkpoints import (
    CheckpointError,
    TrainingCheckpoint,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from irstudio.training.config import (
    ConfigError,
    DataSection,
    LossSection,
    ModelSection,
    OptimSection,
    PatchStage,
    RuntimeSection,
    TrainConfig,
    TrainSection,
)
from irstudio.training.config_io import (
    config_from_dict,
    config_from_json,
    config_to_dict,
    config_to_json,
    config_to_toml,
    load_config,
    parse_toml,
    save_config,
    with_overrides,
)
from irstudio.training.events import (
    CheckpointSaved,
    Notice,
    Started,
    StepLog,
    TrainEvent,
    TrainSummary,
    Validation,
)
from irstudio.training.export import ExportError, export_model
from irstudio.training.loop import run_to_end, train
from irstudio.training.losses import NonFiniteLossError, build_loss

__all__ = [
    "CheckpointError",
    "CheckpointSaved",
    "ConfigError",
    "DataSection",
    "ExportError",
    "LossSection",
    "ModelSection",
    "NonFiniteLossError",
    "Notice",
    "OptimSection",
    "PatchStage",
    "RuntimeSection",
    "Started",
    "StepLog",
    "TrainConfig",
    "TrainEvent",
    "TrainSection",
    "TrainSummary",
    "TrainingCheckpoint",
    "Validation",
    "build_loss",
    "config_from_dict",
    "config_from_json",
    "config_to_dict",
    "config_to_json",
    "config_to_toml",
    "export_model",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_config",
    "parse_toml",
    "run_to_end",
    "save_config",
    "train",
    "with_overrides",
]
