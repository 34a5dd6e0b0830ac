"""ImageCanvas: fit, zoom around the cursor, pan, clicks, syncing without feedback, sampling; SplitCanvas."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QImage

from irstudio.gui.qimage import from_qimage, to_qimage
from irstudio.gui.widgets.image_canvas import ZOOM_STEPS, CanvasImage, ImageCanvas, SplitCanvas
from irstudio.gui.widgets.image_canvas.picture import halved
from tests.gui.canvas_events import click, drag, rendered, wheel

VIEW_W, VIEW_H = 200, 160


def _canvas(qtbot, canvas: ImageCanvas | None = None) -> ImageCanvas:
    canvas = canvas or ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(VIEW_W, VIEW_H)
    canvas.show()
    qtbot.waitExposed(canvas)
    assert (canvas.viewport().width(), canvas.viewport().height()) == (VIEW_W, VIEW_H)
    return canvas


def _checker(height: int, width: int) -> np.ndarray:
    """uint8 RGB, black and white pixels alternating."""
    cells = (np.indices((height, width)).sum(axis=0) % 2).astype(np.uint8) * 255
    return np.repeat(cells[:, :, None], 3, axis=2)


def _ramp(height: int, width: int) -> np.ndarray:
    """uint8 RGB where every pixel has its own colour: R = 10 * x, G = 10 * y."""
    ys, xs = np.indices((height, width))
    return np.stack([xs * 10, ys * 10, np.full_like(xs, 77)], axis=2).astype(np.uint8)


def test_a_new_image_is_fitted_and_centred_and_an_image_of_the_same_size_keeps_the_view(qtbot) -> None:
    canvas = _canvas(qtbot)
    with qtbot.waitSignal(canvas.view_changed) as changed:
        canvas.set_image(np.zeros((40, 100, 3), np.float32))
    assert canvas.is_fit()
    assert canvas.zoom() == pytest.approx(2.0)  # min(200/100, 160/40)
    assert changed.args == [pytest.approx(2.0), QPointF(50, 20)]
    assert canvas.visible_rect() == QRectF(0, 0, 100, 40)

    canvas.set_zoom(4.0)
    canvas.set_image(np.ones((40, 100, 3), np.float32))
    assert canvas.zoom() == 4.0 and not canvas.is_fit()
    canvas.set_image(np.ones((10, 10), np.uint8))
    assert canvas.is_fit() and canvas.zoom() == pytest.approx(16.0)


def test_fit_follows_resizes_until_the_user_zooms(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(np.zeros((50, 50, 3), np.float32))
    assert canvas.zoom() == pytest.approx(160 / 50)
    canvas.resize(100, 300)
    qtbot.waitUntil(lambda: canvas.zoom() == pytest.approx(2.0))
    canvas.zoom_in()
    assert canvas.zoom() == 3.0  # the next step of the ladder
    canvas.resize(300, 300)
    qtbot.waitUntil(lambda: canvas.viewport().width() == 300)
    assert canvas.zoom() == 3.0


def test_zoom_steps_actual_size_and_limits(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(np.zeros((400, 400, 3), np.uint8))
    canvas.zoom_actual()
    assert canvas.zoom() == 1.0
    canvas.zoom_in()
    assert canvas.zoom() == 1.5
    canvas.zoom_out()
    canvas.zoom_out()
    assert canvas.zoom() == 0.75
    canvas.zoom_pixel_peep()
    assert canvas.zoom() == 8.0
    assert canvas.transformation_mode() == Qt.TransformationMode.FastTransformation
    for _ in range(40):
        canvas.zoom_in()
    assert canvas.zoom() == ZOOM_STEPS[-1] == 64.0


def test_wheel_zooms_around_the_point_under_the_cursor(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(_ramp(16, 20))
    canvas.set_view(4.0, QPointF(10, 8))
    cursor = QPointF(150.0, 40.0)
    before = canvas.map_to_scene(cursor)
    with qtbot.waitSignal(canvas.view_changed):
        wheel(canvas.viewport(), cursor, 2)
    assert canvas.zoom() == 8.0  # two ladder steps: 4 -> 6 -> 8
    after = canvas.map_to_scene(cursor)
    assert after.x() == pytest.approx(before.x(), abs=0.15)
    assert after.y() == pytest.approx(before.y(), abs=0.15)
    wheel(canvas.viewport(), cursor, -1)
    assert canvas.zoom() == 6.0


def test_dragging_pans_by_the_mouse_distance_and_a_click_reports_the_pixel(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(_ramp(16, 20))
    canvas.set_view(8.0, QPointF(10, 8))
    clicks: list[tuple[int, int]] = []
    canvas.pixel_clicked.connect(lambda x, y: clicks.append((x, y)))
    views: list[tuple[float, QPointF]] = []
    canvas.view_changed.connect(lambda zoom, centre: views.append((zoom, centre)))

    drag(canvas.viewport(), QPointF(100, 80), QPointF(60, 96))  # 40 px left, 16 px down
    assert canvas.centre() == QPointF(15, 6)  # the image moved with the mouse: +5, -2 pixels
    assert views[-1] == (8.0, QPointF(15, 6))
    assert clicks == []  # a drag is not a click

    # pixel (17, 9) is drawn at viewport (100 + (17 - 15) * 8, 80 + (9 - 6) * 8) + half a pixel
    click(canvas.viewport(), QPointF(100 + 2 * 8 + 4, 80 + 3 * 8 + 4))
    assert clicks == [(17, 9)]
    click(canvas.viewport(), QPointF(100 - 20 * 8, 80))  # outside the image: no pixel
    assert clicks == [(17, 9)]


def test_set_view_applies_without_emitting_so_synced_canvases_do_not_loop(qtbot) -> None:
    first, second = _canvas(qtbot), _canvas(qtbot)
    for canvas in (first, second):
        canvas.set_image(_ramp(16, 20))
    first.view_changed.connect(second.set_view)
    second.view_changed.connect(first.set_view)
    emitted: list[float] = []
    second.view_changed.connect(lambda zoom, _centre: emitted.append(zoom))
    first.set_zoom(6.0, anchor=QPointF(20, 20))
    assert second.zoom() == 6.0 and second.centre() == first.centre()
    assert second.visible_rect() == first.visible_rect()
    assert emitted == []


def test_nearest_neighbour_at_and_above_100_percent_and_smooth_below(qtbot) -> None:
    canvas = _canvas(qtbot)
    image = _checker(8, 8)
    canvas.set_image(image)
    canvas.set_view(8.0, QPointF(4, 4))
    assert canvas.transformation_mode() == Qt.TransformationMode.FastTransformation
    pixels = rendered(canvas.viewport())
    inside = pixels[80 - 32 : 80 + 32, 100 - 32 : 100 + 32]  # the 64x64 px drawn image
    assert set(np.unique(inside)) <= {0, 255}  # crisp 8x8 blocks, no blending
    for y, x in [(0, 0), (3, 5), (7, 7), (4, 1)]:  # each block shows its own pixel
        centre = pixels[80 + (y - 4) * 8 + 4, 100 + (x - 4) * 8 + 4]
        np.testing.assert_array_equal(centre, image[y, x])

    canvas.set_view(1.0, QPointF(4, 4))
    assert canvas.transformation_mode() == Qt.TransformationMode.FastTransformation
    canvas.set_view(0.8, QPointF(4, 4))
    assert canvas.transformation_mode() == Qt.TransformationMode.SmoothTransformation


def test_zoomed_out_views_draw_an_area_averaged_pyramid_level(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(_checker(512, 512))
    canvas.set_view(0.25, QPointF(256, 256))
    pixels = rendered(canvas.viewport())[20:140, 40:160]
    assert np.abs(pixels.astype(int) - 128).max() <= 3  # a fine checker averages to grey, no moiré
    picture = CanvasImage(_checker(120, 200))
    assert [picture.level_for(scale) for scale in (1.0, 0.6, 0.5, 0.2)] == [0, 0, 1, 2]
    assert picture.level_for(0.01) == 2  # 30x50 is the smallest level (no side below 16)
    assert picture.level_scale(1) == (2.0, 2.0) and picture.pixmap(2).width() == 50


def test_display_scale_maps_clicks_to_the_pixels_of_the_shown_image(qtbot) -> None:
    canvas = _canvas(qtbot)
    canvas.set_image(_ramp(4, 5), scale=4.0)  # a 5x4 image shown as 20x16 scene units
    assert canvas.image_size().width() == 20 and canvas.image_size().height() == 16
    canvas.set_view(4.0, QPointF(10, 8))
    clicked = []
    canvas.pixel_clicked.connect(lambda x, y: clicked.append((x, y)))
    click(canvas.viewport(), QPointF(100 + 4 * 4 + 2, 80 + 4 * 4 + 2))  # scene (14.5, 12.5)
    assert clicked == [(3, 3)]
    pixels = rendered(canvas.viewport())
    np.testing.assert_array_equal(pixels[80 + 18, 100 + 18], _ramp(4, 5)[3, 3])


def test_split_canvas_divider_drag_and_it_keeps_its_place_when_zooming(qtbot) -> None:
    canvas = _canvas(qtbot, SplitCanvas())
    canvas.set_image(np.zeros((40, 50, 3), np.float32))
    canvas.set_overlay(np.ones((40, 50, 3), np.float32))
    canvas.set_captions("Original", "Model")
    assert canvas.split_position() == 0.5
    pixels = rendered(canvas.viewport())
    assert pixels[120, 60].max() == 0 and pixels[120, 140].min() == 255  # left original, right result

    with qtbot.waitSignal(canvas.split_changed):
        drag(canvas.viewport(), QPointF(100, 120), QPointF(50, 120))
    assert canvas.split_position() == pytest.approx(0.25)
    assert canvas.zoom() == pytest.approx(4.0) and canvas.is_fit()  # dragging the divider does not pan
    pixels = rendered(canvas.viewport())
    assert pixels[120, 40].max() == 0 and pixels[120, 60].min() == 255

    canvas.set_zoom(8.0)
    drag(canvas.viewport(), QPointF(150, 100), QPointF(120, 100))  # a pan away from the divider
    assert canvas.split_position() == pytest.approx(0.25)
    pixels = rendered(canvas.viewport())
    assert pixels[100, 40].max() == 0 and pixels[100, 60].min() == 255


def test_a_picture_built_on_a_worker_thread_is_drawn_from_its_pyramid(qtbot) -> None:
    built: list[CanvasImage] = []

    def build() -> None:  # what the open job does: QImages only, no QPixmap off the main thread
        picture = CanvasImage(_ramp(64, 128))
        built.append(picture)
        built.append(picture.build_pyramid())

    worker = threading.Thread(target=build)
    worker.start()
    worker.join(timeout=10)
    picture, levels = built
    assert levels == 3  # 128x64, 64x32, 32x16; halving again would go below 16 px
    assert [picture.level_scale(level) for level in range(levels)] == [(1.0, 1.0), (2.0, 2.0), (4.0, 4.0)]

    canvas = _canvas(qtbot)
    canvas.set_image(picture)
    canvas.set_zoom(0.2)  # a fifth: drawn from level 2 (a quarter of the size), smooth
    assert picture.level_for(0.2) == 2
    assert canvas.transformation_mode() == Qt.TransformationMode.SmoothTransformation
    canvas.set_zoom(2.0)  # crisp, from the full-size level
    assert canvas.transformation_mode() == Qt.TransformationMode.FastTransformation
    centre = rendered(canvas.viewport())[VIEW_H // 2 + 1, VIEW_W // 2 + 1]  # image pixel (64, 32)
    assert tuple(int(v) for v in centre[:3]) == tuple(int(v) for v in _ramp(64, 128)[32, 64])


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("size", [(8, 10), (7, 9)])
def test_halving_averages_areas_without_aliasing_and_rounds_odd_sizes_up(channels: int, size) -> None:
    """A checkerboard halves to mid grey, also at odd sizes (areas of 1.8 x 1.75 pixels); RGB and
    grey keep their format, RGBA becomes premultiplied (opaque here, so the colours are the same)."""
    checker = _checker(*size)[:, :, :1]
    pixels = np.repeat(checker, channels, axis=2) if channels > 1 else checker[:, :, 0]
    if channels == 4:
        pixels = pixels.copy()
        pixels[..., 3] = 255
    image = to_qimage(pixels)
    half = halved(image)
    expected = ((size[1] + 1) // 2, (size[0] + 1) // 2)
    assert (half.width(), half.height()) == expected
    premultiplied = QImage.Format.Format_RGBA8888_Premultiplied
    assert half.format() == (premultiplied if channels == 4 else image.format())
    values = from_qimage(half).reshape(expected[1], expected[0], -1)
    assert np.all(np.abs(values[:, :, :3].astype(int) - 128) <= 4)
    if channels == 4:
        assert np.all(values[:, :, 3] == 255)
