"""The Inside dock: a query (set or clicked) requests maps and the shown map follows it; heads, kinds,
charts and export; screenshots of every architecture's maps on a real photo (random weights) go to
test-artifacts/inside_<arch>_<map>.png for review."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF

from irstudio.core.image_io import OutputExistsError, read_image
from irstudio.core.tiling import Region
from irstudio.gui.widgets.inside_view import InsideView
from irstudio.inference.maps import MapKind, compute_maps
from tests.gui.canvas_events import click
from tests.inference.maps_helpers import single_thread, tiny_spec

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

_one_thread = pytest.fixture(scope="module", autouse=True)(single_thread)


def _drain(generator):
    while True:
        try:
            next(generator)
        except StopIteration as finished:
            return finished.value


def _view(qtbot, model_id: str, image: np.ndarray) -> tuple[InsideView, list]:
    """A shown InsideView wired to compute synchronously with a small random-weight model."""
    spec = tiny_spec(model_id)
    torch.manual_seed(0)
    model = spec.build().eval()
    view = InsideView()
    qtbot.addWidget(view)
    view.resize(760, 820)
    view.show()
    requests = []

    def compute(request) -> None:
        requests.append(request)
        view.show_result(_drain(compute_maps(request, spec=spec, model=model)))

    view.compute_requested.connect(compute)
    view.set_model(spec)
    view.set_image(image)
    return view, requests


def _photo(seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:64, 0:80] / 64.0
    rng = np.random.default_rng(seed)
    rgb = np.stack([np.sin(7 * xx) * 0.4 + 0.5, np.cos(5 * yy) * 0.4 + 0.5, rng.random((64, 80))], axis=2)
    return rgb.astype(np.float32)


def test_setting_and_clicking_a_pixel_updates_the_map(qtbot, tmp_path) -> None:
    view, requests = _view(qtbot, "compacter-x1", _photo())
    view.set_layer("layers.0.blocks.1.attn")
    assert not requests and "query" in view.status.text()  # no query yet: nothing to compute
    # and nothing empty on screen: no bare 0-1 chart axes, the map list says it waits
    assert not view.charts.plot.isVisible() and view.map_combo.placeholderText() == "No map yet"
    with qtbot.waitSignal(view.compute_requested):
        view.set_query(30, 20)
    shown = view.current_map()
    crop = view.result().crop
    assert view.charts.plot.isVisible()
    assert shown.key == "spatial/h0" and shown.marker == (30 - crop.x0, 20 - crop.y0)
    assert requests[-1].layer == "layers.0.blocks.1.attn" and requests[-1].pixel == (30, 20)
    first = shown.values.copy()

    # click another pixel on the map itself (drawn zoomed to the window around the query)
    x0, y0 = view.map_panel.box()[:2]
    target = (shown.focus[0] + 1, shown.focus[1] + 2)  # crop pixel inside the shown window
    point = view.canvas.mapFromScene(QPointF(target[0] - x0 + 0.5, target[1] - y0 + 0.5))
    with qtbot.waitSignal(view.compute_requested) as blocker:
        click(view.canvas.viewport(), QPointF(point))
    expected = (crop.x0 + target[0], crop.y0 + target[1])
    assert blocker.args[0].pixel == expected and view.query() == expected
    moved = view.current_map()
    assert moved.marker == (
        target[0] - view.result().crop.x0 + crop.x0,
        target[1] - view.result().crop.y0 + crop.y0,
    )
    assert not np.array_equal(np.nan_to_num(moved.values), np.nan_to_num(first))

    # another head is shown from the same result, without recomputing
    with qtbot.assertNotEmitted(view.compute_requested):
        view.head_spin.setValue(1)
    assert view.current_map().key == "spatial/h1"
    view.select_map("channel")
    matrix = view.current_map()
    assert matrix.grid == "matrix" and view.color_bar.labels()[0] == f"{matrix.vmin:.3g}"
    assert not view.zoom_check.isEnabled()  # a matrix has no window to zoom to

    written = view.export_map(tmp_path / "channel.png")
    picture = read_image(written).rgb
    assert picture.shape[0] > 16 and picture.shape[1] > 16
    with pytest.raises(OutputExistsError):
        view.export_map(tmp_path / "channel.png")


def test_spectrum_kind_draws_curves_and_follows_the_region(qtbot) -> None:
    view, _ = _view(qtbot, "compacter-x1", _photo(1))
    with qtbot.waitSignal(view.compute_requested):
        view.set_kind(MapKind.FFT)
    assert view.current_map().grid == "spectrum"
    assert len(view.plot.getPlotItem().listDataItems()) == 3  # input, output, difference
    assert "HF ratio, output" in view.info.text()
    with qtbot.waitSignal(view.compute_requested, timeout=3000):
        view.set_region(Region(8, 8, 40, 56))  # recomputed once the pan settles
    assert view.result().crop == Region(8, 8, 40, 56)
    assert view.current_map().values.shape == (32, 48)


def test_error_kind_asks_for_a_reference(qtbot) -> None:
    view, requests = _view(qtbot, "compacter-x1", _photo(2))
    view.set_kind(MapKind.ERROR)
    assert not requests and "reference" in view.status.text()
    view.set_reference(_photo(3))
    with qtbot.waitSignal(view.compute_requested):
        view.request_maps()
    assert view.current_map().key == "error/abs"


def test_choosing_error_without_a_reference_clears_the_previous_spectrum(qtbot) -> None:
    view, requests = _view(qtbot, "compacter-x1", _photo(4))
    with qtbot.waitSignal(view.compute_requested):
        view.set_kind(MapKind.FFT)
    assert view.current_map() is not None and view.result() is not None
    view.set_kind(MapKind.ERROR)
    assert len(requests) == 1 and "reference" in view.status.text()
    assert view.result() is None and view.current_map() is None  # no spectrum left under "Error map"
    assert view.info.text() == "" and view.map_combo.count() == 0


# -------------------------------------------------------------------------------- screenshots


SCREENSHOTS = {
    "compacter-x1": ("layers.0.blocks.1.attn", ("spatial/h0", "channel", "spatial_gate")),
    "ast-t": ("decoderlayer_3.blocks.1.attn.attend", ("dense/h0", "sparse/h0", "fused/h0")),
    "lir": ("EAA1.0.stage2", ("gate", "response", "group")),
    "asid-x2": ("block1", ("shared/SLA1", "shared/SGA1", "channel/window")),
}


def _baboon(shared_data: Path) -> np.ndarray:
    return read_image(shared_data / "bench" / "sr" / "Set14" / "HR" / "baboon.png").rgb


def _save(view: InsideView, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / f"inside_{name}.png"))


@pytest.mark.data
@pytest.mark.parametrize("model_id", list(SCREENSHOTS))
def test_screenshots_of_each_architecture_on_a_real_photo(qtbot, shared_data, model_id: str) -> None:
    view, _ = _view(qtbot, model_id, _baboon(shared_data))
    view.set_region(Region(120, 200, 280, 360))
    layer, keys = SCREENSHOTS[model_id]
    view.set_layer(layer)
    with qtbot.waitSignal(view.compute_requested):
        view.set_query(262, 171)
    arch = model_id.split("-")[0]
    for key in keys:
        view.select_map(key)
        assert np.isfinite(view.current_map().values).any()
        _save(view, f"{arch}_{key.replace('/h0', '').replace('/', '-')}")


@pytest.mark.data
def test_screenshots_of_spectra_and_errors(qtbot, shared_data) -> None:
    photo = _baboon(shared_data)
    view, _ = _view(qtbot, "compacter-x1", photo)
    view.set_region(Region(120, 200, 280, 360))
    with qtbot.waitSignal(view.compute_requested):
        view.set_kind(MapKind.FFT)
    _save(view, "compacter_fft")
    view.set_reference(np.clip(photo + 0.02, 0, 1))
    with qtbot.waitSignal(view.compute_requested):
        view.set_kind(MapKind.ERROR)
    _save(view, "compacter_error")
    with qtbot.waitSignal(view.compute_requested):
        view.set_kind(MapKind.ENERGY)
    _save(view, "compacter_energy")


@pytest.mark.data
def test_screenshot_of_jpeg_grid_peaks(qtbot, shared_data) -> None:
    photo = _baboon(shared_data)
    encoded = cv2.imencode(
        ".jpg", (photo[..., ::-1] * 255).round().astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 15]
    )[1]
    jpeg = (cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1] / 255.0).astype(np.float32)
    view = InsideView()
    qtbot.addWidget(view)
    view.resize(760, 820)
    view.show()
    view.compute_requested.connect(lambda request: view.show_result(_drain(compute_maps(request))))
    view.set_model("identity")
    view.set_image(jpeg)
    view.set_region(Region(0, 0, 256, 256))
    assert view.kind() is MapKind.FFT  # identity has no attention: the view switched to spectra
    with qtbot.waitSignal(view.compute_requested):
        view.request_maps()
    assert view.result().numbers["8x8 grid peaks, input (decades)"] > 0.6
    view.select_map("grid/input")  # dots at k/8 cycles per pixel
    _save(view, "fft_jpeg_grid")
