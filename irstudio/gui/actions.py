"""The main window's actions and menus, with their shortcuts, in one table-like place.

Shortcuts: Ctrl+O open, Ctrl+V paste an image, Ctrl+S save, Ctrl+Q quit; Ctrl+R run the whole
image, Ctrl+Shift+R preview the visible region, Esc cancel; Ctrl+1..6 compare modes (single, side
by side, split, flicker, grid, difference); F or Ctrl+0 zoom to fit, Ctrl+Alt+0 100 %, Ctrl++ and
Ctrl+- zoom in/out. Inside the compare view, keys 1-6 pick the result and Space shows the original.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from irstudio.gui.widgets.compare_view import CompareMode

__all__ = ["MODE_TITLES", "Actions", "build_actions"]

MODE_TITLES = {
    CompareMode.SINGLE: "&Single",
    CompareMode.SIDE_BY_SIDE: "Side &by side",
    CompareMode.SPLIT: "S&plit wipe",
    CompareMode.FLICKER: "&Flicker A/B",
    CompareMode.GRID: "&Grid",
    CompareMode.DIFFERENCE: "&Difference map",
}


@dataclass
class Actions:
    """Every action of the window (tests trigger them; menus hold them)."""

    open: QAction
    paste: QAction
    save: QAction
    quit: QAction
    run: QAction
    preview: QAction
    live_preview: QAction
    cancel: QAction
    optimise: QAction
    modes: dict[CompareMode, QAction]
    zoom_fit: QAction
    zoom_actual: QAction
    zoom_in: QAction
    zoom_out: QAction
    themes: dict[str, QAction]
    about: QAction
    recent_menu: QMenu
    file_menu: QMenu
    run_menu: QMenu
    view_menu: QMenu
    help_menu: QMenu


def _action(
    window: QMainWindow,
    text: str,
    slot: Callable[..., object],
    *shortcuts: QKeySequence | QKeySequence.StandardKey | str,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)  # shortcuts work even when the menu bar is hidden
    return action


def _checkable_group(window: QMainWindow, actions: list[QAction]) -> None:
    group = QActionGroup(window)
    group.setExclusive(True)
    for action in actions:
        action.setCheckable(True)
        group.addAction(action)


def build_actions(window, recent_filler: Callable[[QMenu], None]) -> Actions:
    """Create the actions of ``window`` (a ``MainWindow``) and its menu bar."""
    w = window
    key = QKeySequence.StandardKey
    actions = Actions(
        open=_action(w, "&Open…", w.opener.choose_file, key.Open, tip="Open a photo"),
        paste=_action(w, "&Paste image", w.opener.paste, key.Paste, tip="Open the clipboard's image"),
        save=_action(w, "&Save result…", w.saver.save_current, key.Save, tip="Save the active result"),
        quit=_action(w, "&Quit", w.close, key.Quit),
        run=_action(w, "&Run on whole image", w.runs.run, "Ctrl+R", tip="Restore the whole image"),
        preview=_action(
            w, "&Preview visible region", w.runs.preview, "Ctrl+Shift+R", tip="Restore what is visible"
        ),
        live_preview=_action(w, "&Live preview", lambda: None, tip="Preview again after each pan/zoom"),
        cancel=_action(w, "&Cancel", w.runs.cancel, "Esc", tip="Stop at the next tile"),
        optimise=_action(
            w,
            "&Optimise for this computer",
            w.runs.optimise,
            tip="Measure how the chosen model runs fastest here (about a minute; later runs use it)",
        ),
        modes={
            mode: _action(w, title, lambda m=mode: w.compare.set_mode(m), f"Ctrl+{i}")
            for i, (mode, title) in enumerate(MODE_TITLES.items(), start=1)
        },
        zoom_fit=_action(w, "Zoom to &fit", w.compare.zoom_fit, "F", "Ctrl+0"),
        zoom_actual=_action(w, "&100 %", w.compare.zoom_actual, "Ctrl+Alt+0"),
        zoom_in=_action(w, "Zoom &in", w.compare.zoom_in, key.ZoomIn),
        zoom_out=_action(w, "Zoom &out", w.compare.zoom_out, key.ZoomOut),
        themes={
            "dark": _action(w, "&Dark", lambda: w.set_theme("dark")),
            "light": _action(w, "&Light", lambda: w.set_theme("light")),
        },
        about=_action(w, "&About IR Studio", w.show_about),
        recent_menu=QMenu("Open &recent", w),
        file_menu=QMenu("&File", w),
        run_menu=QMenu("&Run", w),
        view_menu=QMenu("&View", w),
        help_menu=QMenu("&Help", w),
    )
    actions.live_preview.setCheckable(True)
    actions.live_preview.toggled.connect(w.runs.set_live_preview)
    _checkable_group(w, list(actions.modes.values()))
    _checkable_group(w, list(actions.themes.values()))
    actions.recent_menu.aboutToShow.connect(lambda: recent_filler(actions.recent_menu))
    _build_menus(w, actions)
    return actions


def _build_menus(window: QMainWindow, a: Actions) -> None:
    """File, Run, View and Help menus (other parts add their own entries to ``a.*_menu``)."""
    bar = window.menuBar()
    for menu in (a.file_menu, a.run_menu, a.view_menu, a.help_menu):
        bar.addMenu(menu)
    a.file_menu.addActions([a.open])
    a.file_menu.addMenu(a.recent_menu)
    a.file_menu.addActions([a.paste, a.save])
    a.file_menu.addSeparator()
    a.file_menu.addAction(a.quit)
    a.run_menu.addActions([a.run, a.preview, a.live_preview])
    a.run_menu.addSeparator()
    a.run_menu.addActions([a.optimise, a.cancel])
    a.view_menu.addActions(list(a.modes.values()))
    a.view_menu.addSeparator()
    a.view_menu.addActions([a.zoom_fit, a.zoom_actual, a.zoom_in, a.zoom_out])
    a.view_menu.addSeparator()
    a.view_menu.addMenu("&Theme").addActions(list(a.themes.values()))
    a.view_menu.addSeparator()
    a.help_menu.addAction(a.about)
