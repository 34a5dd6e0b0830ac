"""The status bar shows the memory the app holds and the device in use."""

from __future__ import annotations

import sys

import pytest

from irstudio.gui.widgets.resource_status import ResourceStatus, format_bytes
from tests.gui.app_helpers import restore_app_look

_look = pytest.fixture(autouse=True)(restore_app_look)


def test_bytes_read_as_people_write_them() -> None:
    assert format_bytes(1_400_000_000) == "1.4 GB" and format_bytes(350_000_000) == "350 MB"
    assert format_bytes(None) == "—"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory from /proc")
def test_the_readout_names_memory_and_device(qtbot) -> None:
    status = ResourceStatus()
    qtbot.addWidget(status)
    status.set_device("cpu")
    memory, device = status.text().split(" · ")
    assert memory.startswith("RAM ") and memory.endswith(("MB", "GB")) and device
    status.set_device("cuda:7")  # absent here
    assert "unavailable" in status.text() or "cuda:7" in status.text()


def test_the_main_window_has_the_readout(qtbot, tmp_path) -> None:
    from tests.gui.app_helpers import make_window

    window = make_window(qtbot, tmp_path)
    assert window.resources.text().startswith("RAM ")
    assert window.resources in window.statusBar().findChildren(ResourceStatus)
