"""Package faces: ``irstudio.core``, ``irstudio.models`` and ``irstudio.inference`` list the names the
app and the command line use, import each on first use, and the GUI imports only through them."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from irstudio.core.lazy import exported_names

FACES = ("irstudio.core", "irstudio.models", "irstudio.inference")
GUI = Path(__file__).resolve().parents[1] / "irstudio" / "gui"
SUB_FACES = ("irstudio.core.image_io", "irstudio.inference.maps", "irstudio.inference.cluster")
"""Sub-packages with faces of their own (images; the Inside view's maps; Ray), imported by name."""
NOT_YET_MIGRATED: set[str] = set()
"""Files still importing deep modules (none left)."""


@pytest.mark.parametrize("face", FACES)
def test_every_listed_name_is_its_modules_object(face: str) -> None:
    package = importlib.import_module(face)
    owners = exported_names(package.EXPORTS)
    assert sorted(package.__all__) == sorted(owners)
    for name, module in owners.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name), name
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        package.nothing_here  # noqa: B018


def test_importing_the_faces_loads_nothing_heavy() -> None:
    code = (
        f"import sys\nfor f in {FACES!r}: __import__(f)\n"
        + "print([m for m in ('torch', 'cv2') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_gui_imports_core_models_and_inference_through_their_faces() -> None:
    deep = []
    for path in GUI.rglob("*.py"):
        if path.name in NOT_YET_MIGRATED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith(tuple(f"{face}." for face in FACES)) and module not in SUB_FACES:
                deep.append(f"{path.relative_to(GUI)}:{node.lineno} {module}")
    assert deep == []
