"""The model panel: tasks first, then models (trained, library, baselines, untrained), card, options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from irstudio.core import DeviceInfo
from irstudio.gui.restore_jobs import RunOptions
from irstudio.gui.widgets.model_panel import ModelPanel
from irstudio.inference import TilePlan, restore
from irstudio.models import REGISTRY, SHIPPED, ModelChoice, manifest_records, model_card
from irstudio.models.loading import load_model, save_weights
from irstudio.paths import manifest_path
from tests.gui.app_helpers import gradient_image, make_window, restore_app_look, write_png

SHIPPED_IDS = {spec.id for spec in REGISTRY if spec.learned and spec.weights is not None}
"""Models with trained weights in weights/manifest.json (listed before the others)."""

_look = pytest.fixture(autouse=True)(restore_app_look)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: the worker and the GUI thread share a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DEVICES = [
    DeviceInfo("cuda:0", "Test GPU", 8 * 1024**3, 6 * 1024**3),
    DeviceInfo("cpu", "Test CPU", None, None),
]


def panel(qtbot, tmp_path: Path, manifest: dict | None = None) -> ModelPanel:
    manifest_file = tmp_path / "manifest.json"
    if manifest is not None:
        manifest_file.write_text(json.dumps(manifest))
    widget = ModelPanel(library_dir=tmp_path / "library", manifest_path=manifest_file, devices=DEVICES)
    qtbot.addWidget(widget)
    return widget


def library_model(folder: Path, name: str = "My SR x2") -> Path:
    """A user model as training.export writes it: compacter-x2 weights with our metadata."""
    spec = REGISTRY.get("compacter-x2")
    torch.manual_seed(7)
    model = spec.build()
    training = {"steps": 1200, "data": {"clean": "my/photos"}, "psnr": 30.123, "ssim": 0.8765}
    extra = {"name": name, "task": "sr", "scale": 2, "base_model": spec.id, "training": training}
    return save_weights(model, folder / "my-sr.safetensors", spec=spec, extra=extra)


def test_tasks_come_first_and_each_lists_only_its_models(qtbot, tmp_path: Path) -> None:
    widget = panel(qtbot, tmp_path)
    labels = [widget.task_combo.itemText(i) for i in range(widget.task_combo.count())]
    assert labels == [
        "Denoise",
        "Super-resolution ×2",
        "Super-resolution ×4",
        "Remove JPEG artifacts",
        "Remove rain",
        "Restore a real photo",
        "Restore a real photo ×4",
    ]
    keys = {}
    for task in ("denoise", "sr2", "sr4", "jpeg", "derain", "realphoto", "realphoto4"):
        widget.set_task(task)
        keys[task] = [c.key for c in widget.choices()]
    for task in keys:  # shipped trained weights (weights/manifest.json) come first
        first = [key for key in keys[task] if key in SHIPPED_IDS]
        assert keys[task][: len(first)] == first
        keys[task] = keys[task][len(first) :]
    assert keys["denoise"][:2] == ["identity", "nlmeans"] and "compacter-x1" in keys["denoise"]
    assert keys["sr2"] == ["bicubic-x2", "compacter-x2", "asid-x2"]
    assert keys["sr4"] == ["bicubic-x4", "compacter-x4", "asid-x4", "asidd8-x4"]
    assert "nlmeans" not in keys["jpeg"] and "identity" in keys["derain"]
    assert keys["realphoto"][:2] == ["identity", "nlmeans"] and "compacter-x1" in keys["realphoto"]
    assert keys["realphoto4"][0] == "nlmeans-bicubic-x4" and "asid-x4" in keys["realphoto4"]
    headers = [widget.model_list.item(i).text() for i in range(widget.model_list.count())]
    assert "Classical baselines" in headers and "Untrained presets (random weights)" in headers
    header = widget.model_list.item(headers.index("Classical baselines"))
    assert header.flags() == Qt.ItemFlag.NoItemFlags  # a header cannot be selected


def test_untrained_presets_say_so_and_offer_their_precisions(qtbot, tmp_path: Path) -> None:
    widget = panel(qtbot, tmp_path)
    widget.set_task("sr2")
    assert widget.select_model("asid-x2")
    card = widget.card.text()
    assert "Untrained (random weights)" in card and "297.5 k" in card and "77.8 G" in card
    combo = widget.precision_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["Auto", "fp32", "bf16"]
    assert [combo.itemData(i) for i in range(combo.count())] == ["auto", "fp32", "bf16"]
    assert combo.currentData() == "auto" and widget.run_options().precision == "auto"
    assert widget.select_model("bicubic-x2")
    assert "Classical method" in widget.card.text()
    assert [combo.itemData(i) for i in range(combo.count())] == ["auto", "fp32"]
    assert not widget.select_model("asid-x4")  # not a model for this task


def test_run_options_default_to_auto_and_follow_the_widgets(qtbot, tmp_path: Path) -> None:
    widget = panel(qtbot, tmp_path)
    devices = [widget.device_combo.itemData(i) for i in range(widget.device_combo.count())]
    assert devices == ["auto", "cuda:0", "cpu"]
    assert widget.device_combo.itemText(0) == "Auto (cuda:0)"
    assert widget.run_options() == RunOptions()
    widget.set_task("denoise")
    widget.select_model("compacter-x1")
    widget.set_device("cpu")
    widget.precision_combo.setCurrentText("bf16")
    widget.set_tiling(128, 0)
    assert widget.run_options() == RunOptions(device="cpu", precision="bf16", tile=128, context=0)
    assert widget.tile_spin.text() == "128 px"
    widget.set_tiling(None, None)
    assert widget.tile_spin.text() == "Auto" and widget.context_spin.text() == "Auto"
    widget.precision_combo.setCurrentIndex(0)
    assert widget.precision_combo.currentText() == "Auto" and widget.run_options().precision == "auto"


def test_the_last_run_plan_line_shows_what_it_is_given(qtbot, tmp_path: Path) -> None:
    widget = panel(qtbot, tmp_path)
    widget.show()
    assert widget.plan_label.isHidden()
    widget.show_plan("cpu, backend onnx (1.25x eager), fp32, tile 256")
    assert widget.plan_label.isVisible()
    assert widget.plan_label.text() == "Last run: cpu, backend onnx (1.25x eager), fp32, tile 256"
    widget.show_plan("")
    assert widget.plan_label.isHidden()


def test_signals_for_task_model_and_requests(qtbot, tmp_path: Path) -> None:
    widget = panel(qtbot, tmp_path)
    tasks, models = [], []
    widget.task_selected.connect(tasks.append)
    widget.model_selected.connect(models.append)
    widget.set_task("sr4")
    shipped_sr4 = [spec.id for spec in REGISTRY if spec.id in SHIPPED_IDS and spec.scale == 4]
    assert tasks == ["sr4"] and models == [(shipped_sr4 or ["bicubic-x4"])[0]]
    with qtbot.waitSignal(widget.model_selected) as blocker:
        widget.select_model("asid-x4")
    assert blocker.args == ["asid-x4"]
    with qtbot.waitSignal(widget.run_requested):
        widget.run_button.click()
    with qtbot.waitSignal(widget.preview_requested):
        widget.preview_button.click()
    with qtbot.waitSignal(widget.run_requested):
        widget.model_list.itemDoubleClicked.emit(widget.model_list.currentItem())


def test_the_user_library_is_listed_with_its_training_record(qtbot, tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    library_model(tmp_path / "library")
    (tmp_path / "library" / "junk.safetensors").write_bytes(b"not a safetensors file")
    widget = panel(qtbot, tmp_path)
    widget.set_task("sr2")
    keys = [c.key for c in widget.choices() if c.key not in SHIPPED_IDS]
    assert keys == ["library:my-sr.safetensors", "bicubic-x2", "compacter-x2", "asid-x2"]
    assert widget.current_choice().key == widget.choices()[0].key  # the first listed is selected
    widget.select_model("library:my-sr.safetensors")
    assert widget.current_choice().key == "library:my-sr.safetensors"
    card = widget.card.text()
    assert "Your model, based on compacter-x2" in card and "30.12 dB" in card and "1,200" in card
    assert "my/photos" in card
    widget.set_task("sr4")
    assert not any(c.key.startswith("library:") for c in widget.choices())


def test_a_library_model_runs_with_its_own_weights(qtbot, tmp_path: Path, eager_gui_plans) -> None:
    library = tmp_path / "library"
    library.mkdir()
    weights = library_model(library)
    window = make_window(qtbot, tmp_path, library=library)
    assert window.open_file(write_png(tmp_path / "small.png", gradient_image(16, 16)))
    window.model_panel.set_task("sr2")
    assert window.model_panel.select_model("library:my-sr.safetensors")
    assert "My SR x2" in window.windowTitle()
    with qtbot.waitSignal(window.state.result_added, timeout=30_000):
        window.runs.run(options=RunOptions(device="cpu", tile=32))  # one tile: the whole image
    result = window.state.result("library:my-sr.safetensors")
    spec = REGISTRY.get("compacter-x2")
    expected = restore(
        load_model(spec, weights),
        window.state.image.rgb,
        TilePlan(tile=256, context=spec.context, multiple=spec.tile_multiple, scale=2),
    )
    np.testing.assert_array_equal(result.image, expected)
    assert window.saver.default_path(result).name == "small_My_SR_x2.png"


def test_the_manifest_gives_training_data_and_scores(tmp_path: Path) -> None:
    manifest = {
        "format": 1,
        "models": [
            {
                "id": "asid-x2",
                "sha256": "0" * 64,
                "training": {
                    "data": "DIV2K 800 + Flickr2K",
                    "iterations": 500000,
                    "started_from": "asid-x4.safetensors",
                },
                "scores": [
                    {
                        "benchmark": "Set5 x2",
                        "psnr": 38.01,
                        "ssim": 0.9605,
                        "baseline": {"model": "bicubic-x2", "psnr": 33.68},
                    },
                    {"benchmark": "Urban100 x2", "psnr": 32.41},
                ],
            }
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    entries = manifest_records(tmp_path / "manifest.json")
    spec = REGISTRY.get("asid-x2")
    choice = ModelChoice(
        "asid-x2", spec.name, spec, SHIPPED, tmp_path / "asid-x2.safetensors", entries["asid-x2"]
    )
    rows = dict(model_card(choice))
    assert rows["Status"].startswith("Trained weights shipped")
    assert rows["Training data"] == "DIV2K 800 + Flickr2K" and rows["Iterations"] == "500,000"
    assert rows["Scores"] == (
        "Set5 x2: 38.01 dB, SSIM 0.9605 (bicubic-x2 33.68 dB, +4.33)\nUrban100 x2: 32.41 dB"
    )
    assert rows["Started from"] == "asid-x4" and "Caution" not in rows
    assert rows["Weights"] == "asid-x2.safetensors"
    worse = {**entries["asid-x2"], "scores": [{"benchmark": "B", "psnr": 1.0, "baseline": {"psnr": 2.0}}]}
    rows = dict(model_card(ModelChoice("asid-x2", spec.name, spec, SHIPPED, None, worse)))
    assert rows["Caution"] == "scores below its baseline on B: not yet a good choice"
    assert manifest_records(tmp_path / "absent.json") == {}


@pytest.mark.parametrize(
    "document",
    ["{not json", '{"format": 1}', '{"models": [{"id": "asid-x2"}]}'],  # unreadable, no list, no sha256
)
def test_a_damaged_manifest_lists_no_shipped_models_and_is_logged(tmp_path: Path, caplog, document) -> None:
    """The strict reader refuses it; the model lists go on without shipped models (a warning logged)."""
    (tmp_path / "bad.json").write_text(document)
    with caplog.at_level("WARNING", logger="irstudio.models.choices"):
        assert manifest_records(tmp_path / "bad.json") == {}
    assert "shipped models not listed: bad.json" in caplog.text


def test_every_shipped_model_card_shows_its_iterations_and_scores() -> None:
    """The cards read the real manifest's schema (training.iterations, a list of scores)."""
    entries = manifest_records(manifest_path())
    assert entries
    for model_id, entry in entries.items():
        spec = REGISTRY.get(model_id)
        rows = dict(model_card(ModelChoice(model_id, spec.name, spec, SHIPPED, None, entry)))
        assert rows["Iterations"] == f"{entry['training']['iterations']:,}", model_id
        assert rows["Scores"].count("\n") == len(entry["scores"]) - 1, model_id
        assert all(f"{score['psnr']:.2f} dB" in rows["Scores"] for score in entry["scores"]), model_id


def test_section_headers_are_readable_on_both_themes(qtbot, tmp_path: Path) -> None:
    """They were drawn in the disabled grey, nearly invisible on the light theme's white."""
    from irstudio.gui.widgets.model_panel import HEADER_BRUSH

    def luminance(r: int, g: int, b: int) -> float:
        channel = [(v / 255) / 12.92 if v <= 10 else (((v / 255) + 0.055) / 1.055) ** 2.4 for v in (r, g, b)]
        return 0.2126 * channel[0] + 0.7152 * channel[1] + 0.0722 * channel[2]

    def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
        high, low = sorted((luminance(*a), luminance(*b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    window = make_window(qtbot, tmp_path)
    headers = [
        window.model_panel.model_list.item(i)
        for i in range(window.model_panel.model_list.count())
        if window.model_panel.model_list.item(i).flags() == Qt.ItemFlag.NoItemFlags
    ]
    assert headers and all(h.foreground().color() == HEADER_BRUSH.color() for h in headers)
    colour = HEADER_BRUSH.color().getRgb()[:3]
    assert contrast(colour, (255, 255, 255)) >= 3.0 and contrast(colour, (25, 35, 45)) >= 3.0
