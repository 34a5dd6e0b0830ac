"""Where resources/, weights/ and the user's model library live, in a checkout and in a PyInstaller bundle.

This module is the only place that knows these locations.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "IR Studio"


def install_root() -> Path:
    """The folder holding resources/ and weights/: the bundle's unpack dir, or the source checkout."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return install_root() / "resources"


def weights_dir() -> Path:
    return install_root() / "weights"


def manifest_path() -> Path:
    return weights_dir() / "manifest.json"


def user_library_dir() -> Path:
    """The user's own models (exported from training); created on demand by the writer."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


STATE_DIR_VARIABLE = "IRSTUDIO_STATE_DIR"


def user_state_dir() -> Path:
    """Caches and resumable-batch records: ``$IRSTUDIO_STATE_DIR`` when set (``irstudio bench --cold``
    uses it for an empty state folder), else the platform's user state folder."""
    override = os.environ.get(STATE_DIR_VARIABLE)
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
