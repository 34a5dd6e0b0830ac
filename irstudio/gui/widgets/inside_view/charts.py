"""``ChartPanel``: the Inside view's chart chooser and pyqtgraph plot (fusion / filter / gate / energy
bars, radial spectra curves), and the functions that draw a ``Chart``.

``ChartPanel`` owns the two widgets (``chart_combo``, ``plot``; the view lays them out) and their logic:
``show_charts(charts)`` lists them (keeping the chosen key when present) and draws the chosen one;
both widgets are hidden when there are none (and before the first). ``clear()`` empties and
hides it; ``current_chart()``. Main thread only.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from irstudio.inference.maps import Chart

__all__ = ["ChartPanel", "draw_bars", "draw_curves"]

SERIES_COLOURS = ("#56b4e9", "#e69f00", "#009e73", "#cc79a7", "#f0e442")
_MAX_TICKS = 16


class ChartPanel:
    """A chart chooser and a plot (two widgets the view lays out); see the module docstring."""

    def __init__(self) -> None:
        self._charts: tuple[Chart, ...] = ()
        self.chart_combo = QComboBox()
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setBackground("#202020")
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.chart_combo.currentIndexChanged.connect(self._chart_selected)
        self._show_widgets(False)  # an empty plot draws bare 0-1 axes: nothing until there are charts

    def _show_widgets(self, visible: bool) -> None:
        for widget in self.widgets():
            widget.setVisible(visible)

    def widgets(self) -> tuple[QComboBox, pg.PlotWidget]:
        """The chooser and the plot, to be laid out one above the other."""
        return self.chart_combo, self.plot

    def clear(self) -> None:
        self._charts = ()
        self.chart_combo.clear()
        self.plot.clear()
        self._show_widgets(False)

    def show_charts(self, charts: tuple[Chart, ...]) -> None:
        previous = self.chart_combo.currentData()
        self._charts = charts
        self.chart_combo.blockSignals(True)
        self.chart_combo.clear()
        for chart in charts:
            self.chart_combo.addItem(chart.title, chart.key)
        keys = [chart.key for chart in charts]
        self.chart_combo.setCurrentIndex(keys.index(previous) if previous in keys else 0)
        self.chart_combo.blockSignals(False)
        self.chart_combo.setEnabled(len(charts) > 1)
        self._show_widgets(bool(charts))
        self._chart_selected(self.chart_combo.currentIndex())

    def current_chart(self) -> Chart | None:
        key = self.chart_combo.currentData()
        return next((chart for chart in self._charts if chart.key == key), None)

    def _chart_selected(self, _index: int) -> None:
        self.plot.clear()
        chart = self.current_chart()
        if chart is None:
            return
        item = self.plot.getPlotItem()
        if item.legend is None:
            item.addLegend(offset=(-10, 10))
        item.legend.clear()
        self.plot.setLabel("bottom", chart.x_label)
        self.plot.setLabel("left", chart.y_label)
        if chart.style == "bars":
            draw_bars(self.plot, chart)
        else:
            draw_curves(self.plot, chart)
        self.plot.enableAutoRange()


def draw_bars(plot: pg.PlotWidget, chart: Chart) -> None:
    """Grouped bars: one group per category, one bar per series (legend when several series)."""
    count, groups = len(chart.categories), len(chart.series)
    width = 0.8 / max(groups, 1)
    for index, series in enumerate(chart.series):
        x = np.arange(count) - 0.4 + width * (index + 0.5)
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        bars = pg.BarGraphItem(x=x, height=np.nan_to_num(series.values), width=width, brush=colour)
        plot.addItem(bars)
        if groups > 1:
            plot.getPlotItem().legend.addItem(bars, series.name)
    step = max(1, math.ceil(count / _MAX_TICKS))
    plot.getAxis("bottom").setTicks([[(i, chart.categories[i]) for i in range(0, count, step)]])


def draw_curves(plot: pg.PlotWidget, chart: Chart) -> None:
    """One curve per series over ``chart.x`` (or the index); non-finite points are left out."""
    plot.getAxis("bottom").setTicks(None)
    x = chart.x if chart.x is not None else np.arange(len(chart.series[0].values))
    for index, series in enumerate(chart.series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        keep = np.isfinite(series.values)
        plot.plot(x[keep], series.values[keep], pen=pg.mkPen(colour, width=2), name=series.name)
    if chart.vline is not None:
        line = pg.InfiniteLine(
            pos=chart.vline, angle=90, pen=pg.mkPen("#bbbbbb", style=Qt.PenStyle.DashLine),
            label=f"cut-off {chart.vline:g}", labelOpts={"position": 0.9, "color": "#bbbbbb"},
        )  # fmt: skip
        plot.addItem(line)
