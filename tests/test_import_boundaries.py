"""Layer rules: nothing below the GUI imports Qt; training and inference do not import each other."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import irstudio

QT_MODULES = ("PySide6", "shiboken6", "superqt", "qtpy", "pyqtgraph", "qdarkstyle")
GUI_PACKAGES = ("irstudio.gui", "irstudio.app")


def _non_gui_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(irstudio.__path__, prefix="irstudio."):
        if info.name.startswith(GUI_PACKAGES) or info.name == "irstudio.__main__":
            continue
        names.append(info.name)
    return names


def test_every_non_gui_module_imports_without_qt() -> None:
    modules = _non_gui_modules()
    assert "irstudio.core.image_io" in modules and "irstudio.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"leaked = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(','.join(sorted(leaked)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"Qt imported below the GUI: {result.stdout.strip()}"


def test_training_and_inference_do_not_import_each_other() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import irstudio.{a}\n"
        "for info in pkgutil.walk_packages(irstudio.{a}.__path__, prefix='irstudio.{a}.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(any(m.startswith('irstudio.{b}') for m in sys.modules))\n"
    )
    for a, b in (("training", "inference"), ("inference", "training")):
        result = subprocess.run(
            [sys.executable, "-c", code.format(a=a, b=b)], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "False", f"irstudio.{a} imports irstudio.{b}"


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "importlinter.cli", "--no-cache"], capture_output=True, text=True
    )
    if "No module named" in result.stderr:
        result = subprocess.run(["lint-imports", "--no-cache"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
