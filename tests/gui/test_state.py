"""AppState: change signals fire once per real change, arrays are frozen, results keep their order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from irstudio.core.image_io import ImageInfo, LoadedImage
from irstudio.core.tiling import Region
from irstudio.gui.state import AppState, Result


def loaded(height: int = 4, width: int = 5) -> LoadedImage:
    info = ImageInfo(Path("x.png"), "PNG", width, height, 8, "RGB", False, None, None, 1)
    return LoadedImage(np.zeros((height, width, 3), np.float32), None, info)


def result(key: str, region: Region | None = None) -> Result:
    return Result(key, key.upper(), key, np.zeros((4, 5, 3), np.float32), region=region)


def record(state: AppState) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    state.image_changed.connect(lambda: events.append(("image", None)))
    state.reference_changed.connect(lambda: events.append(("reference", None)))
    state.result_added.connect(lambda key: events.append(("added", key)))
    state.result_removed.connect(lambda key: events.append(("removed", key)))
    state.results_cleared.connect(lambda: events.append(("cleared", None)))
    state.task_changed.connect(lambda key: events.append(("task", key)))
    state.model_changed.connect(lambda key: events.append(("model", key)))
    state.device_changed.connect(lambda key: events.append(("device", key)))
    return events


def test_a_new_image_clears_results_and_bumps_the_generation() -> None:
    state = AppState()
    events = record(state)
    state.set_image(loaded(), Path("/photos/a.png"))
    assert state.name == "a.png" and state.generation == 1 and events == [("image", None)]
    state.add_result(result("m1"))
    state.add_result(result("m2"))
    assert list(state.results) == ["m1", "m2"]
    reference = np.ones((4, 5, 3), np.float32)
    state.set_image(loaded(), None, name="Clipboard", reference=reference)
    assert state.generation == 2 and state.name == "Clipboard" and state.path is None
    assert state.results == {} and state.reference is reference
    assert events[-3:] == [("cleared", None), ("image", None), ("reference", None)]


def test_arrays_are_frozen_so_workers_and_views_can_share_them() -> None:
    state = AppState()
    image = loaded()
    state.set_image(image, None)
    with pytest.raises(ValueError):
        image.rgb[0, 0, 0] = 1.0
    r = result("m")
    state.add_result(r)
    with pytest.raises(ValueError):
        r.image[0, 0, 0] = 1.0


def test_results_are_replaced_in_place_and_removed() -> None:
    state = AppState()
    events = record(state)
    state.add_result(result("a", Region(0, 0, 2, 2)))
    assert state.result("a").is_preview
    state.add_result(result("b"))
    state.add_result(result("a"))  # the full run replaces the preview
    assert list(state.results) == ["a", "b"] and not state.result("a").is_preview
    state.remove_result("a")
    state.remove_result("absent")
    assert events == [("added", "a"), ("added", "b"), ("added", "a"), ("removed", "a")]


def test_selection_signals_fire_only_on_change() -> None:
    state = AppState()
    events = record(state)
    for _ in range(2):
        state.set_task("sr2")
        state.set_model("asid-x2")
        state.set_device("cpu")
    state.set_device("auto")
    assert events == [("task", "sr2"), ("model", "asid-x2"), ("device", "cpu"), ("device", "auto")]
    assert (state.task, state.model, state.device) == ("sr2", "asid-x2", "auto")
