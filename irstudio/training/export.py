"""Export a trained run as a model: the EMA weights as ``.safetensors`` with our metadata.

``export_model(run_or_checkpoint)`` writes ``<name>.safetensors`` into the user's model library
(``paths.user_library_dir()``, where the app lists the user's models) or into ``destination``
(e.g. ``paths.weights_dir()`` for weights we ship). The file loads with ``models.loading`` like any
other: metadata ``format``/``arch``/``preset``/``hparams`` from ``save_weights``, plus JSON values
``name``, ``task``, ``scale``, ``base_model`` and ``training`` (steps, data, degradation, loss,
validation PSNR/SSIM, whether the EMA or the raw weights were written).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from irstudio.models.catalog import resolve_id
from irstudio.models.loading import load_state, save_weights
from irstudio.paths import user_library_dir
from irstudio.training.checkpoints import (
    CheckpointError,
    TrainingCheckpoint,
    latest_checkpoint,
    load_checkpoint,
)
from irstudio.training.optim import ModelEMA

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(ValueError):
    """The export cannot be written (target exists, nothing to export); the message says which."""


def _checkpoint_of(source: Path) -> Path:
    if source.is_dir():
        found = latest_checkpoint(source)
        if found is None:
            raise CheckpointError(f"{source}: the run folder has no checkpoint to export")
        return found
    return source


def training_record(
    checkpoint: TrainingCheckpoint, used_ema: bool, psnr: float | None, ssim: float | None
) -> dict[str, object]:
    """What the exported file says about its training (stored as JSON metadata)."""
    config = json.loads(checkpoint.config)
    return {
        "steps": checkpoint.step,
        "run": config.get("name"),
        "base_weights": config.get("model", {}).get("weights"),
        "transfer": config.get("model", {}).get("transfer", False),
        "data": {k: v for k, v in config.get("data", {}).items() if k in ("clean", "input", "target")},
        "degradation": config.get("degradation"),
        "loss": config.get("loss", {}).get("kind"),
        "weights": "ema" if used_ema else "raw",
        "best_psnr": checkpoint.best_psnr,
        "psnr": psnr,
        "ssim": ssim,
    }


def export_model(
    source: str | Path,
    *,
    destination: str | Path | None = None,
    name: str | None = None,
    use_ema: bool = True,
    half: bool = False,
    overwrite: bool = False,
    psnr: float | None = None,
    ssim: float | None = None,
) -> Path:
    """Write the weights of a run (its latest checkpoint) or of one checkpoint file; returns the path.

    ``name``: the model's display name and file stem (default ``<run name>-<step>``). ``use_ema``:
    the EMA weights when the run kept them (else the raw weights). ``half``: store fp16 (loads back
    as fp32). ``psnr``/``ssim``: validation figures to record (default: the checkpoint's last).
    An existing file is kept unless ``overwrite``.
    """
    path = _checkpoint_of(Path(source))
    checkpoint = load_checkpoint(path)
    spec = resolve_id(checkpoint.model_id)
    model = spec.build()
    used_ema = use_ema and checkpoint.ema is not None
    weights = dict(checkpoint.ema if used_ema and checkpoint.ema is not None else checkpoint.model)
    weights.pop(ModelEMA.UPDATES_KEY, None)
    load_state(model, weights, path.name)
    label = name or f"{checkpoint.run_name}-{checkpoint.step}"
    stem = _UNSAFE.sub("_", label).strip("._") or "model"
    target = Path(destination) if destination is not None else user_library_dir()
    target = target / f"{stem}.safetensors"
    if target.exists() and not overwrite:
        raise ExportError(f"{target}: already exists (choose another name, or overwrite)")
    extra = {
        "name": label,
        "task": checkpoint.task,
        "scale": checkpoint.scale,
        "base_model": spec.id,
        "training": training_record(
            checkpoint,
            used_ema,
            psnr if psnr is not None else checkpoint.psnr,
            ssim if ssim is not None else checkpoint.ssim,
        ),
    }
    return save_weights(model.eval(), target, spec=spec, extra=extra, half=half)
