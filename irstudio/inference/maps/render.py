"""Draw maps and charts as RGB pictures with NumPy and OpenCV only (no Qt, no matplotlib).

``render_map(map_image, background)`` -> uint8 (h, w, 3): the map in its colour map, upscaled (nearest)
to at least ``min_side`` pixels, NaN cells drawn as the dimmed photo (``background``, image grids) or dark
grey, the query marked with a cyan cross, the focus window outlined, a title line on top and a colour bar
with its range and units on the right. ``render_chart(chart)`` -> uint8 (360, 640, 3): bars or curves
with axes, tick values, category labels (thinned when crowded) and a legend.

``colorize(values, cmap, vmin, vmax)``: uint8 RGB of scalar values; "inferno" and "viridis" are OpenCV's
copies of the matplotlib maps, "coolwarm" is interpolated from five anchors of Moreland's diverging map.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from irstudio.inference.maps.types import Chart, MapImage

__all__ = ["colorize", "lut", "render_chart", "render_map"]

_OPENCV = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS}
_COOLWARM = ((59, 76, 192), (141, 176, 254), (221, 221, 221), (245, 196, 172), (180, 4, 38))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT = (235, 235, 235)
_PANEL = (32, 32, 32)
_SERIES_COLOURS = ((86, 180, 233), (230, 159, 0), (0, 158, 115), (204, 121, 167), (240, 228, 66))


@cache
def lut(name: str) -> np.ndarray:
    """256 x 3 uint8 RGB table of colour map ``name`` (row 0 = lowest value)."""
    if name in _OPENCV:
        ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
        return np.ascontiguousarray(cv2.applyColorMap(ramp, _OPENCV[name]).reshape(256, 3)[:, ::-1])
    if name == "coolwarm":
        anchors = np.asarray(_COOLWARM, dtype=np.float64)
        at = np.linspace(0.0, 1.0, len(anchors))
        samples = np.linspace(0.0, 1.0, 256)
        return (
            np.stack([np.interp(samples, at, anchors[:, c]) for c in range(3)], axis=1)
            .round()
            .astype(np.uint8)
        )
    raise ValueError(f"unknown colour map {name!r} (inferno, viridis, coolwarm)")


def colorize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """uint8 RGB (values.shape + (3,)); values clipped to [vmin, vmax]; NaN gives black."""
    data = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(data)
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((np.where(finite, data, vmin) - vmin) / span, 0.0, 1.0)
    colours = lut(cmap)[np.floor(scaled * 255 + 0.5).astype(np.uint8)]
    colours[~finite] = 0
    return colours


def _compose(map_image: MapImage, background: np.ndarray | None) -> np.ndarray:
    """The coloured map with NaN cells showing the dimmed photo (image grids) or dark grey."""
    colours = colorize(map_image.values, map_image.cmap, map_image.vmin, map_image.vmax)
    missing = ~np.isfinite(map_image.values)
    if not missing.any():
        return colours
    if map_image.grid == "image" and background is not None and background.shape[:2] == missing.shape:
        grey = (np.clip(background, 0, 1) @ np.array([0.299, 0.587, 0.114]) * 0.45 * 255).astype(np.uint8)
        colours[missing] = grey[missing][:, None]
    else:
        colours[missing] = 48
    return colours


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(canvas, text, origin, _FONT, scale, _TEXT, 1, cv2.LINE_AA)


def _format(value: float) -> str:
    return f"{value:.3g}"


def _colour_bar(height: int, map_image: MapImage) -> np.ndarray:
    """A vertical bar (vmax at the top) with three tick values and the units, on a dark panel."""
    panel = np.full((height, 110, 3), _PANEL, dtype=np.uint8)
    top, bottom = 24, height - 24
    ramp = lut(map_image.cmap)[np.linspace(255, 0, bottom - top).round().astype(int)]
    panel[top:bottom, 10:30] = ramp[:, None, :]
    for fraction in (0.0, 0.5, 1.0):
        y = round(bottom - 1 - fraction * (bottom - top - 1))
        value = map_image.vmin + fraction * (map_image.vmax - map_image.vmin)
        cv2.line(panel, (30, y), (35, y), _TEXT, 1)
        _text(panel, _format(value), (38, y + 5), 0.4)
    _text(panel, map_image.units[:16], (4, height - 6), 0.35)
    return panel


def _upscaled(
    colours: np.ndarray,
    box: tuple[int, int, int, int],
    map_image: MapImage,
    side: int,
    *,
    height: int | None = None,
) -> np.ndarray:
    """``box`` = (x0, y0, x1, y1) of ``colours`` enlarged (nearest, integer factor) so its shorter side
    reaches ``side`` px, or its height stays within ``height``; focus outline and marker drawn."""
    x0, y0, x1, y1 = box
    part = colours[y0:y1, x0:x1]
    if height is not None:
        factor = max(1, height // max(1, part.shape[0]))
    else:
        factor = max(1, int(np.ceil(side / max(1, min(part.shape[:2])))))
    picture = np.ascontiguousarray(np.repeat(np.repeat(part, factor, axis=0), factor, axis=1))
    if map_image.focus is not None:
        fx0, fy0, fx1, fy1 = map_image.focus
        corner_a = ((fx0 - x0) * factor, (fy0 - y0) * factor)
        corner_b = ((fx1 - x0) * factor - 1, (fy1 - y0) * factor - 1)
        cv2.rectangle(picture, corner_a, corner_b, (255, 255, 255), 1)
    if map_image.marker is not None:
        mx, my = (int((c - o + 0.5) * factor) for c, o in zip(map_image.marker, (x0, y0), strict=True))
        cv2.drawMarker(picture, (mx, my), (0, 255, 255), cv2.MARKER_CROSS, max(9, 2 * factor), 1)
    return picture


def _zoom_box(map_image: MapImage) -> tuple[int, int, int, int]:
    """The focus window with a margin of half its size on every side, clipped to the map."""
    x0, y0, x1, y1 = map_image.focus or (0, 0, *map_image.values.shape[::-1])
    margin = max(x1 - x0, y1 - y0) // 2
    height, width = map_image.values.shape
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


def _fit_height(picture: np.ndarray, height: int) -> np.ndarray:
    """Pad ``picture`` at the bottom with the panel colour (or crop) to ``height`` rows."""
    if picture.shape[0] >= height:
        return picture[:height]
    pad = np.full((height - picture.shape[0], picture.shape[1], 3), _PANEL, dtype=np.uint8)
    return np.concatenate([picture, pad], axis=0)


def render_map(
    map_image: MapImage, background: np.ndarray | None = None, *, min_side: int = 384
) -> np.ndarray:
    """The map as a picture with title and colour bar (see the module doc); uint8 (h, w, 3).

    A map with a ``focus`` gets a second panel: the focus window and its surroundings, enlarged.
    """
    colours = _compose(map_image, background)
    height, width = colours.shape[:2]
    panels = [_upscaled(colours, (0, 0, width, height), map_image, min_side)]
    if map_image.focus is not None:
        zoom = _upscaled(colours, _zoom_box(map_image), map_image, 0, height=panels[0].shape[0])
        gap = np.full((panels[0].shape[0], 8, 3), _PANEL, dtype=np.uint8)
        panels += [gap, _fit_height(zoom, panels[0].shape[0])]
    picture = np.concatenate(panels, axis=1)
    body = np.concatenate([picture, _colour_bar(picture.shape[0], map_image)], axis=1)
    title = np.full((28, body.shape[1], 3), _PANEL, dtype=np.uint8)
    _text(title, map_image.title[: body.shape[1] // 8], (6, 19))
    return np.concatenate([title, body], axis=0)


# ------------------------------------------------------------------------------------------- charts

_W, _H = 640, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 48, 56


def _value_range(chart: Chart) -> tuple[float, float]:
    values = np.concatenate([np.asarray(s.values, dtype=np.float64) for s in chart.series])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if chart.style == "bars":
        low, high = min(low, 0.0), max(high, 0.0)
    if high <= low:
        high = low + 1.0
    pad = 0.05 * (high - low)
    return low - (0 if chart.style == "bars" and low == 0 else pad), high + pad


def render_chart(chart: Chart) -> np.ndarray:
    """The chart as a 640 x 360 picture (see the module doc); uint8 RGB."""
    canvas = np.full((_H, _W, 3), _PANEL, dtype=np.uint8)
    _text(canvas, chart.title[:76], (8, 20))
    low, high = _value_range(chart)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def to_y(value: float) -> int:
        return round(_TOP + plot_h - (value - low) / (high - low) * plot_h)

    for fraction in np.linspace(0, 1, 5):
        value = low + fraction * (high - low)
        y = to_y(value)
        cv2.line(canvas, (_LEFT, y), (_W - _RIGHT, y), (70, 70, 70), 1)
        _text(canvas, _format(value), (4, y + 4), 0.38)
    if chart.style == "bars":
        _draw_bars(canvas, chart, to_y, plot_w)
    else:
        _draw_curves(canvas, chart, to_y, plot_w)
    cv2.rectangle(canvas, (_LEFT, _TOP), (_W - _RIGHT, _TOP + plot_h), (160, 160, 160), 1)
    _text(canvas, chart.x_label, (_LEFT + plot_w // 2 - 30, _H - 6), 0.4)
    _text(canvas, chart.y_label[:40], (4, _TOP - 12), 0.38)
    for index, series in enumerate(chart.series):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        x = _W - _RIGHT - 190
        y = _TOP + 14 + 16 * index
        cv2.rectangle(canvas, (x, y - 8), (x + 12, y + 2), colour, -1)
        _text(canvas, series.name[:24], (x + 18, y + 2), 0.38)
    return canvas


def _draw_bars(canvas: np.ndarray, chart: Chart, to_y, plot_w: int) -> None:
    count = len(chart.categories)
    groups = len(chart.series)
    slot = plot_w / max(count, 1)
    bar = max(1.0, slot * 0.8 / groups)
    zero = to_y(0.0)
    for index, series in enumerate(chart.series):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        for position, value in enumerate(series.values):
            if not np.isfinite(value):
                continue
            x0 = int(_LEFT + position * slot + slot * 0.1 + index * bar)
            cv2.rectangle(
                canvas, (x0, min(zero, to_y(value))), (int(x0 + bar - 1), max(zero, to_y(value))), colour, -1
            )
    step = max(1, int(np.ceil(count / (plot_w / 48))))
    for position in range(0, count, step):
        x = int(_LEFT + (position + 0.5) * slot)
        _text(canvas, chart.categories[position][:7], (x - 16, _H - _BOTTOM + 16), 0.33)


def _draw_curves(canvas: np.ndarray, chart: Chart, to_y, plot_w: int) -> None:
    x = np.asarray(
        chart.x if chart.x is not None else np.arange(len(chart.series[0].values)), dtype=np.float64
    )
    x_low, x_high = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1.0

    def to_x(value: float) -> int:
        return round(_LEFT + (value - x_low) / (x_high - x_low) * plot_w)

    for fraction in np.linspace(0, 1, 6):
        value = x_low + fraction * (x_high - x_low)
        _text(canvas, _format(value), (to_x(value) - 12, _H - _BOTTOM + 16), 0.35)
    if chart.vline is not None:
        vx = to_x(chart.vline)
        for y in range(_TOP, _H - _BOTTOM, 8):
            cv2.line(canvas, (vx, y), (vx, y + 4), (200, 200, 200), 1)
    for index, series in enumerate(chart.series):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        values = np.asarray(series.values, dtype=np.float64)
        keep = np.isfinite(values)
        points = np.array(
            [(to_x(a), to_y(b)) for a, b in zip(x[keep], values[keep], strict=True)], dtype=np.int32
        )
        if len(points) > 1:
            cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)
