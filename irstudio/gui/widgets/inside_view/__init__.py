"""The "Inside" dock: attention, feature-energy, spectrum and error maps of the current model (GUI only).

``InsideView(QWidget)`` takes plain data and asks for work through a signal; it never computes on the
main thread. Wiring (the main window does it):

- inputs: ``set_model(spec_or_id, weights=None)``, ``set_image(rgb)``, ``set_output(rgb)`` (the current
  model's whole result, or None), ``set_reference(rgb)``, ``set_region(QRectF | Region | None)`` (the part
  of the original image on screen, original-image pixels), ``set_device(name)``, ``set_active(bool)``
  (a hidden dock does not ask for work), and the slot ``set_query(x, y)`` (a clicked original-image
  pixel, e.g. from ``CompareView.pixel_clicked``).
- ``compute_requested(object)`` carries an ``irstudio.inference.maps.MapRequest``; run
  ``compute_maps(request, token)`` in the worker and hand the ``MapsResult`` to ``show_result``;
  progress text to ``show_progress``, failures to ``show_error``.

What it shows: kind (attention / feature energy / spectrum / error), layer and head selectors, one map
at a time in an ``ImageCanvas`` (colour map from ``irstudio.gui.qimage.colormap``; cells without a value
show the dimmed photo), its colour-bar legend, the query and the attention window outlined, optional
zoom to that window, a pyqtgraph chart (fusion / filter / gate / energy bars, radial spectra curves),
the numbers and notes of the result, and export of the shown map (with title and colour bar) as PNG.
Clicking a map drawn in image coordinates chooses a new query there.

Modules: ``view`` (``InsideView``), ``controls`` (the choice rows), ``map_panel`` (map, outlines,
legend), ``charts`` (chart chooser and plot), ``color_bar`` (``ColorBar``), ``map_picture`` (pure
helpers: display box, composed colours, click mapping, texts). ``InsideView`` keeps its child widgets
as attributes (``kind_combo``, ``canvas``, ``color_bar``, ``plot``, ``map_panel`` ...).
"""

from __future__ import annotations

from irstudio.gui.widgets.inside_view.color_bar import ColorBar
from irstudio.gui.widgets.inside_view.controls import KIND_LABELS
from irstudio.gui.widgets.inside_view.view import InsideView

__all__ = ["KIND_LABELS", "ColorBar", "InsideView"]
