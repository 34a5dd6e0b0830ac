"""``core.precision.Precision``: the one vocabulary of precisions (names, torch dtypes, autocast)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from irstudio.core import PRECISION_NAMES, Precision
from irstudio.core.precision import REDUCED_PRECISION_NAMES
from irstudio.inference import TilePlan
from irstudio.models import REGISTRY


def test_names_dtypes_and_labels() -> None:
    assert PRECISION_NAMES == ("fp32", "bf16", "fp16") and REDUCED_PRECISION_NAMES == ("bf16", "fp16")
    assert [p.torch_dtype for p in Precision] == [torch.float32, torch.bfloat16, torch.float16]
    assert Precision("bf16") is Precision.BF16 and Precision.BF16 == "bf16"  # plain names still work
    assert f"{Precision.FP16}" == str(Precision.FP16) == Precision.FP16.label == "fp16"
    assert all(p.description for p in Precision) and not Precision.FP32.reduced
    with pytest.raises(ValueError, match=r"unknown precision 'fp8' \(known: fp32, bf16, fp16\)"):
        Precision.parse("fp8")


def test_autocast_runs_reduced_precisions_only() -> None:
    layer = torch.nn.Linear(4, 4)
    x = torch.rand(2, 4)
    with Precision.FP32.autocast("cpu"):
        assert layer(x).dtype == torch.float32
    with Precision.BF16.autocast(torch.device("cpu")):
        assert layer(x).dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32  # the model's own parameters are not cast


def test_the_users_share_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="dtype must be one of fp32, bf16, fp16"):
        TilePlan(dtype="half")
    spec = REGISTRY.get("compacter-x1")
    assert spec.precisions == ("fp32", *spec.half_dtypes) and set(spec.half_dtypes) <= set(PRECISION_NAMES)


def test_the_vocabulary_does_not_load_torch() -> None:
    code = "import sys, irstudio.core.precision; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
