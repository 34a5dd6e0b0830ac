"""The optional codec packages, looked up when a file needs them: pillow-heif, Pillow's AVIF plugin, rawpy.

HEIC/HEIF photos are read and written through ``pillow_heif`` (libheif, HEVC), AVIF photos through
Pillow's own ``AvifImagePlugin`` (Pillow 11.3 or newer built with libavif; pillow-heif 1.x no longer
reads AVIF) and camera RAW files through ``rawpy`` (LibRaw). None of them is a core dependency: each
is imported on first use, and a file that needs a missing one is refused with a message naming the
package to install (``MISSING``). Imports go through ``importlib.import_module``, so a test can hide a
package by putting None in ``sys.modules``. Nothing here imports a package at import time.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from PIL import Image

_log = logging.getLogger(__name__)

HEIF_PACKAGE = "pillow-heif"
RAW_PACKAGE = "rawpy"

MISSING = {
    "HEIF": "HEIC/HEIF photos need the pillow-heif package: pip install pillow-heif",
    "AVIF": "AVIF photos need Pillow 11.3 or newer with AVIF support: pip install --upgrade Pillow",
    "RAW": "camera RAW photos need the rawpy package: pip install rawpy",
}
"""Per format family, why a file cannot be read or written here and what to install."""


def _module(name: str) -> ModuleType | None:
    """The module, or None when it is not installed or fails to load (a missing shared library)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
    except OSError as exc:  # a wheel whose native library cannot be loaded
        _log.warning("%s is installed but cannot be loaded (%s)", name, exc)
        return None


def pillow_heif() -> ModuleType | None:
    """``pillow_heif``, or None when it is missing."""
    return _module("pillow_heif")


def rawpy() -> ModuleType | None:
    """``rawpy``, or None when it is missing."""
    return _module("rawpy")


def avif_plugin() -> ModuleType | None:
    """Pillow's ``AvifImagePlugin`` when this Pillow was built with AVIF support, else None."""
    plugin = _module("PIL.AvifImagePlugin")
    return plugin if plugin is not None and getattr(plugin, "SUPPORTED", False) else None


def heif_encoder_available() -> bool:
    """True when pillow-heif loads and its libheif has an HEVC encoder (HEIC can be written)."""
    module = pillow_heif()
    if module is None:
        return False
    try:
        return bool(module.libheif_info().get("HEIF"))
    except Exception:  # an unexpected pillow-heif build: treat it as unable to write
        return False


def avif_encoder_available() -> bool:
    """True when Pillow's AVIF plugin loads and its libavif has an AV1 encoder (AVIF can be written)."""
    plugin = avif_plugin()
    if plugin is None or "AVIF" not in Image.SAVE:
        return False
    try:
        versions = plugin._avif.codec_versions()  # e.g. "dav1d [dec]:1.5.3, aom [enc]:3.14.1"
    except Exception:  # no way to list the codecs: Pillow registered the writer, trust it
        return True
    return "enc" in versions
