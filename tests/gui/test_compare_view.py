"""CompareView: every mode keeps its canvases on the same zoom and pan; split, flicker, grid and
difference behaviour; clicks and the visible region in original-image pixels (also for SR results)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt

from irstudio.gui.qimage import colormap_lut
from irstudio.gui.widgets.compare_view import CompareMode, CompareView, difference_map
from irstudio.gui.widgets.image_canvas import CanvasImage, ImageCanvas, SplitCanvas
from irstudio.gui.widgets.image_canvas import picture as canvas_picture
from tests.gui.canvas_events import click, drag, rendered, wheel

ORIGINAL_COLOUR = (0.0, 0.0, 0.0)
RESULT_COLOURS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]


def _flat(height: int, width: int, colour: tuple[float, float, float]) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.float32), (height, width, 3)).copy()


def _view(qtbot, width: int = 640, height: int = 400) -> CompareView:
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    return view


def _with_results(view: CompareView, count: int, size: tuple[int, int] = (60, 80)) -> None:
    view.set_original(_flat(*size, ORIGINAL_COLOUR))
    for i in range(count):
        view.set_result(f"m{i}", f"Model {i + 1}", _flat(*size, RESULT_COLOURS[i % 3]))


def _centre_colour(canvas: ImageCanvas) -> np.ndarray:
    pixels = rendered(canvas.viewport())
    return pixels[pixels.shape[0] // 2, pixels.shape[1] // 2]


def _assert_synced(canvases: list[ImageCanvas]) -> None:
    lead = canvases[0]
    for other in canvases[1:]:
        assert other.zoom() == lead.zoom()
        assert other.centre() == lead.centre()


def _settled(qtbot, view: CompareView) -> None:
    """Wait until the current mode's canvases have their final size (layouts run in the event loop)."""
    qtbot.waitUntil(lambda: all(canvas.viewport().width() > 100 for canvas in view.canvases()))


@pytest.mark.parametrize("mode", list(CompareMode))
def test_every_mode_shows_its_images_with_the_same_zoom_and_pan(qtbot, mode: CompareMode) -> None:
    view = _view(qtbot)
    _with_results(view, 3)
    view.set_mode(mode)
    _settled(qtbot, view)
    canvases = view.canvases()
    expected_count = {CompareMode.SIDE_BY_SIDE: 2, CompareMode.GRID: 4}.get(mode, 1)
    assert len(canvases) == expected_count
    assert all(canvas.has_image() and canvas.isVisible() for canvas in canvases)

    last = canvases[-1]  # a user zooms in on one canvas (the last) ...
    wheel(last.viewport(), QPointF(30, 30), 3)
    assert last.zoom() > 1.0
    _assert_synced(canvases)
    drag(last.viewport(), QPointF(60, 60), QPointF(20, 40))  # ... and pans it
    _assert_synced(canvases)
    assert view.zoom() == last.zoom() and view.centre() == last.centre()
    for canvas in canvases:
        assert canvas.visible_rect() == last.visible_rect()
    if mode == CompareMode.SPLIT:
        split = canvases[0]
        assert isinstance(split, SplitCanvas) and split.has_overlay()
        assert split.overlay_transformation_mode() == split.transformation_mode()

    view.zoom_fit()  # the toolbar actions drive all of them too
    _assert_synced(canvases)
    assert all(canvas.is_fit() for canvas in canvases)


def test_the_view_is_kept_when_switching_modes(qtbot) -> None:
    view = _view(qtbot)
    _with_results(view, 2)
    canvas = view.canvases()[0]
    canvas.set_zoom(3.0)
    drag(canvas.viewport(), QPointF(100, 100), QPointF(70, 130))
    zoom, centre = canvas.zoom(), canvas.centre()
    for mode in (CompareMode.SIDE_BY_SIDE, CompareMode.GRID, CompareMode.SPLIT, CompareMode.DIFFERENCE):
        view.set_mode(mode)
        _settled(qtbot, view)
        for each in view.canvases():
            assert each.zoom() == zoom and each.centre() == centre


def test_mode_changed_and_modes_by_name(qtbot) -> None:
    view = _view(qtbot)
    with qtbot.waitSignal(view.mode_changed) as changed:
        view.set_mode("grid")
    assert changed.args == ["grid"] and view.mode() is CompareMode.GRID


def test_split_divider_drag_changes_the_split_and_it_survives_zoom_and_mode_changes(qtbot) -> None:
    view = _view(qtbot)
    _with_results(view, 1)
    view.set_mode(CompareMode.SPLIT)
    _settled(qtbot, view)
    split = view.canvases()[0]
    assert isinstance(split, SplitCanvas)
    width, y = split.viewport().width(), split.viewport().height() // 2
    assert split.captions() == ("Original", "1 · Model 1")
    pixels = rendered(split.viewport())
    assert pixels[y, int(width * 0.4)].max() == 0  # original (black) left of the divider
    np.testing.assert_array_equal(pixels[y, int(width * 0.6)], [255, 0, 0])  # result right of it

    drag(split.viewport(), QPointF(width / 2, y - 50), QPointF(width * 0.2, y - 50))
    assert view.split_position() == pytest.approx(0.2, abs=0.01)
    pixels = rendered(split.viewport())
    np.testing.assert_array_equal(pixels[y, int(width * 0.3)], [255, 0, 0])

    view.zoom_in()
    view.set_mode(CompareMode.SINGLE)
    view.set_mode(CompareMode.SPLIT)
    assert view.split_position() == pytest.approx(0.2, abs=0.01)


def test_flicker_keys_switch_results_and_space_holds_the_original(qtbot) -> None:
    view = _view(qtbot)
    _with_results(view, 3)
    view.set_mode(CompareMode.FLICKER)
    _settled(qtbot, view)
    canvas = view.canvases()[0]
    assert view.active_key() == "m2"  # the newest result
    for key, index in [(Qt.Key.Key_1, 0), (Qt.Key.Key_3, 2), (Qt.Key.Key_2, 1)]:
        qtbot.keyPress(view, key)
        assert view.active_key() == f"m{index}"
        assert view.shown_label() == f"Model {index + 1}"
        assert canvas.caption() == f"{index + 1} · Model {index + 1}"
        np.testing.assert_array_equal(_centre_colour(canvas), np.array(RESULT_COLOURS[index]) * 255)
    assert "[2] Model 2" in view.flicker_hint() and "Space" in view.flicker_hint()
    qtbot.keyPress(view, Qt.Key.Key_6)  # no sixth result: nothing changes
    assert view.active_key() == "m1"

    qtbot.keyPress(view, Qt.Key.Key_Space)
    assert view.is_holding_original() and view.shown_label() == "Original"
    assert canvas.caption().startswith("Original")
    np.testing.assert_array_equal(_centre_colour(canvas), [0, 0, 0])
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert not view.is_holding_original() and view.shown_label() == "Model 2"
    np.testing.assert_array_equal(_centre_colour(canvas), [0, 255, 0])


def test_keys_pressed_on_a_focused_canvas_reach_the_view(qtbot) -> None:
    view = _view(qtbot)
    _with_results(view, 2)
    canvas = view.canvases()[0]
    qtbot.keyPress(canvas, Qt.Key.Key_1)
    assert view.active_key() == "m0"


def test_grid_shows_the_original_the_reference_and_up_to_six_labelled_results(qtbot) -> None:
    view = _view(qtbot, 800, 400)
    _with_results(view, 3)
    view.set_mode(CompareMode.GRID)
    _settled(qtbot, view)
    assert [canvas.caption() for canvas in view.canvases()] == [
        "Original",
        "1 · Model 1",
        "2 · Model 2",
        "3 · Model 3",
    ]
    assert len({(c.width(), c.height()) for c in view.canvases()}) == 1  # 2 x 2, equal cells

    view.set_reference(_flat(60, 80, (0.5, 0.5, 0.5)))
    for i in range(3, 8):
        view.set_result(f"m{i}", f"Model {i + 1}", _flat(60, 80, RESULT_COLOURS[i % 3]))
    _settled(qtbot, view)
    captions = [canvas.caption() for canvas in view.canvases()]
    assert captions == ["Original", "Reference"] + [f"{n} · Model {n}" for n in range(1, 7)]
    assert all(canvas.isVisible() and canvas.has_image() for canvas in view.canvases())
    np.testing.assert_array_equal(_centre_colour(view.canvases()[1]), [128, 128, 128])
    view.canvases()[3].set_zoom(5.0)
    _assert_synced(view.canvases())


def test_difference_map_values_on_a_constructed_case(qtbot) -> None:
    view = _view(qtbot)
    original = np.zeros((10, 12, 3), np.float32)
    result = np.full((10, 12, 3), 0.1, np.float32)
    result[4, 3] = [0.2, 0.4, 0.6]  # mean |result - original| = 0.4, the maximum
    view.set_original(original)
    view.set_result("a", "Sharp", result)
    view.set_mode(CompareMode.DIFFERENCE)
    _settled(qtbot, view)
    expected = np.full((10, 12), 0.1, np.float32)
    expected[4, 3] = 0.4
    np.testing.assert_allclose(view.difference_map(), expected, atol=1e-6)
    assert view.difference_maximum() == pytest.approx(0.4)
    assert "max 0.4000" in view.colour_bar().maximum_text()
    canvas = view.canvases()[0]
    assert canvas.caption() == "|Sharp − original|"
    canvas.set_view(16.0, QPointF(3.5, 4.5))  # the brightest pixel in the middle of the view
    lut = colormap_lut("inferno")
    np.testing.assert_array_equal(_centre_colour(canvas), lut[255])
    canvas.set_view(16.0, QPointF(6.5, 6.5))
    np.testing.assert_array_equal(_centre_colour(canvas), lut[64])  # 0.1 / 0.4 of the range

    reference = np.full((10, 12, 3), 0.1, np.float32)
    view.set_reference(reference)  # with a ground truth, the difference is taken against it
    assert canvas.caption() == "|Sharp − reference|"
    assert view.difference_maximum() == pytest.approx(0.3)  # mean of |0.1|, |0.3|, |0.5|
    np.testing.assert_allclose(view.difference_map()[4, 3], 0.3, atol=1e-6)
    assert view.difference_map()[0, 0] == 0.0


def test_difference_of_an_sr_result_is_taken_against_the_bicubic_upscale() -> None:
    original = np.full((6, 5, 3), 0.25, np.float32)
    result = np.full((12, 10, 3), 0.75, np.float32)
    values = difference_map(result, original)
    assert values.shape == (12, 10)
    np.testing.assert_allclose(values, 0.5, atol=1e-6)
    gray = difference_map(np.full((2, 2), 255, np.uint8), np.zeros((2, 2, 3), np.float32))
    np.testing.assert_allclose(gray, 1.0)


def test_sr_results_are_aligned_and_clicks_map_back_to_original_pixels(qtbot) -> None:
    view = _view(qtbot)
    ys, xs = np.indices((10, 20))
    original = np.stack([xs / 20, ys / 10, np.zeros_like(xs, float)], axis=2).astype(np.float32)
    view.set_original(original)
    view.set_result("x4", "SR x4", np.repeat(np.repeat(original, 4, axis=0), 4, axis=1))
    clicked: list[tuple[int, int]] = []
    view.pixel_clicked.connect(lambda x, y: clicked.append((x, y)))
    regions: list[QRectF] = []
    view.visible_region_changed.connect(regions.append)

    canvas = view.canvases()[0]
    canvas.set_zoom(16.0)
    drag(canvas.viewport(), QPointF(100, 100), QPointF(100 - 16 * (22 - 40), 100 - 16 * (14 - 20)))
    assert canvas.centre() == QPointF(22, 14)  # frame units: result pixels
    centre = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    click(canvas.viewport(), centre + QPointF(8, 8))  # result pixel (22, 14) = original pixel (5, 3)
    assert clicked == [(5, 3)]
    seen = canvas.visible_rect()
    assert regions[-1] == QRectF(seen.x() / 4, seen.y() / 4, seen.width() / 4, seen.height() / 4)
    assert view.visible_region() == regions[-1]

    view.set_mode(CompareMode.SIDE_BY_SIDE)
    _settled(qtbot, view)
    left, right = view.canvases()
    assert left.image_size() == right.image_size()  # the original is drawn at the result size
    assert left.transformation_mode() == Qt.TransformationMode.FastTransformation
    for canvas in (left, right):
        canvas.set_view(8.0, QPointF(22, 14))
        middle = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
        click(canvas.viewport(), middle)
        assert clicked[-1] == (5, 3)
        # each result pixel is one original pixel repeated: both canvases draw the same colour there
        np.testing.assert_array_equal(_centre_colour(canvas), _centre_colour(left))


def test_removing_and_clearing_results(qtbot) -> None:
    view = _view(qtbot)
    _with_results(view, 3)
    announced: list[tuple[str, str]] = []
    view.active_changed.connect(lambda key: announced.append((key, view.canvases()[0].caption())))
    view.set_active("m1")
    view.remove_result("m1")
    assert view.result_keys() == ["m0", "m2"] and view.active_key() == "m2"
    view.clear_results()
    assert view.result_keys() == [] and view.active_key() is None
    # each change is announced once, after the canvas shows it
    assert announced == [("m1", "2 · Model 2"), ("m2", "2 · Model 3"), ("", "Original")]
    assert view.shown_label() == "Original"  # single mode falls back to the original
    view.set_mode(CompareMode.DIFFERENCE)
    assert view.difference_map() is None and not view.canvases()[0].has_image()
    with pytest.raises(KeyError):
        view.set_active("nope")


def test_a_picture_prepared_elsewhere_is_shown_as_the_original_without_converting(qtbot, monkeypatch) -> None:
    view = _view(qtbot)
    image = _flat(30, 40, ORIGINAL_COLOUR)
    picture, wrong_size = CanvasImage(image), CanvasImage(_flat(10, 10, ORIGINAL_COLOUR))
    monkeypatch.setattr(canvas_picture, "to_qimage", lambda _image: pytest.fail("converted again"))
    view.set_original(image, picture=picture)
    canvas = view.canvases()[0]
    assert canvas.has_image() and view.shown_label() == "Original"
    np.testing.assert_allclose(_centre_colour(canvas) / 255.0, ORIGINAL_COLOUR, atol=1 / 255)

    with pytest.raises(ValueError, match="40x30"):
        view.set_original(image, picture=wrong_size)
