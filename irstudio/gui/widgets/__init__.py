"""Reusable widgets of the desktop app (PySide6; main thread only). Import each from its own module;
this package imports none of them eagerly (a widget module that is being edited never breaks another).

- ``image_canvas``: ``ImageCanvas`` (zoom/pan view of one image, nearest neighbour above 100 %),
  ``SplitCanvas`` (two images with a draggable wipe divider), ``CanvasImage`` (an image converted
  once for display, with a zoom pyramid).
- ``compare_view``: ``CompareView`` and ``CompareMode`` (single, side by side, split, flicker, grid,
  difference; all canvases of a mode share zoom and centre).
- ``model_panel`` (task, model, device choices), ``ground_truth_panel`` (degrade + metrics table),
  ``batch_dialog`` (folder restore), ``inside_view`` (attention / frequency maps).
"""

from __future__ import annotations
