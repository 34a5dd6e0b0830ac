"""``irstudio models`` and the app's model panel list the same models, in the same order, with the
same names and kinds (both come from ``models.choices``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from irstudio import paths
from irstudio.cli import main
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.models import LIBRARY, REGISTRY, TASKS, Task
from irstudio.models.loading import save_weights
from tests.gui.test_model_panel import DEVICES


def _export_one() -> Path:
    """One model in the (test-isolated) library, as ``training.export`` writes it: a x1 JPEG remover."""
    spec = REGISTRY.get("compacter-x1")
    torch.manual_seed(5)
    path = paths.user_library_dir() / "my-jpeg.safetensors"
    return save_weights(spec.build(), path, spec=spec, extra={"name": "My JPEG fixer", "task": "jpeg"})


def test_the_cli_listing_and_the_model_panel_agree(qtbot, capsys) -> None:
    exported = _export_one()
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    widget = ModelPanel(library_dir=exported.parent, manifest_path=paths.manifest_path(), devices=DEVICES)
    qtbot.addWidget(widget)
    for task in TASKS:
        widget.set_task(task.key)
        shown = [(c.model_id, c.label, c.kind) for c in widget.choices()]
        expected = [
            (entry["id"], entry["name"], entry["kind"])
            for entry in listed
            if task.task.value in entry["tasks"] and entry["scale"] == task.scale
        ]
        assert shown == expected, task.key
    mine = next(entry for entry in listed if entry["kind"] == LIBRARY)
    assert (mine["id"], mine["name"], mine["tasks"]) == ("my-jpeg", "My JPEG fixer", [Task.JPEG.value])
    kinds = [entry["kind"] for entry in listed]
    assert kinds == sorted(kinds, key=["shipped", "library", "baseline", "untrained"].index)
