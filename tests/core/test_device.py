from __future__ import annotations

import os

import pytest
import torch

from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.core.device import (
    DeviceError,
    default_cpu_threads,
    is_out_of_memory,
    list_devices,
    resolve_device,
)


def test_cpu_is_always_listed_last_and_auto_picks_the_first() -> None:
    devices = list_devices()
    assert devices[-1].spec == "cpu"
    assert resolve_device("auto") == devices[0]
    assert resolve_device("cpu").spec == "cpu"
    assert "cpu" in resolve_device("cpu").describe()


def test_absent_device_is_refused_with_the_list_of_present_ones() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(DeviceError, match=r"available: .*cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError):
        resolve_device("tpu")


def test_out_of_memory_classification() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_cpu_threads_leave_room_for_the_gui() -> None:
    assert 1 <= default_cpu_threads() <= (os.cpu_count() or 1)


def test_cancel_token() -> None:
    token = CancelToken()
    token.raise_if_cancelled()
    assert not token.cancelled
    token.cancel()
    assert token.cancelled
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()
