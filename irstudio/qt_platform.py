"""Can Qt open a window here? The system libraries its Linux (xcb) platform plugin needs.

Without them Qt prints a long plugin message and aborts the process. ``missing_qt_libraries()``
asks ``ldd`` which libraries the plugin cannot find, before Qt is started (nothing here imports
Qt); ``install_hint(missing)`` names the Debian/Ubuntu packages that provide them. The app checks
before it starts, ``irstudio --self-test`` reports it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["install_hint", "missing_qt_libraries", "uses_xcb"]

DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def uses_xcb(environ: dict[str, str] | None = None) -> bool:
    """Whether Qt will pick its xcb plugin: Linux, and no other platform asked for."""
    environ = dict(os.environ) if environ is None else environ
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    return platform in ("", "xcb") and not (platform == "" and environ.get("WAYLAND_DISPLAY"))


def _xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_qt_libraries(plugin: Path | None = None) -> list[str]:
    """Shared libraries (``libxcb-cursor.so.0``, ...) the xcb plugin needs and the system lacks,
    sorted; [] off Linux, or when it cannot tell (no plugin, no ``ldd``)."""
    plugin = plugin or _xcb_plugin()
    if not sys.platform.startswith("linux") or plugin is None or shutil.which("ldd") is None:
        return []
    try:
        listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split("=>")[0].strip() for line in listing.splitlines() if "not found" in line})


def install_hint(missing: list[str]) -> str:
    """One message: what is missing and the apt command that installs it."""
    packages = sorted({DEBIAN_PACKAGES.get(name, name) for name in missing})
    return (
        f"Qt cannot open a window: the system lacks {', '.join(missing)}. "
        f"On Debian or Ubuntu: sudo apt-get install {' '.join(packages)}"
    )
