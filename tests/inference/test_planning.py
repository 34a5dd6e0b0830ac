"""The planning package: on the CPU the first restore plans without measuring (committed table or this
computer's calibration record, tile fitted to free memory); measuring is explicit and records what it
chose; records are merged safely and malformed ones are ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import irstudio.inference.backends.chooser as chooser_module
import irstudio.inference.planning.plan as plan_module
from irstudio.core.device import DeviceInfo
from irstudio.inference.backends import EAGER, OPENVINO, OPENVINO_BF16, VerdictCache
from irstudio.inference.backends.openvino_rt import openvino_unavailable_reason
from irstudio.inference.planning import auto_plan, fit_tile, plan_for
from irstudio.inference.planning.calibration import (
    CALIBRATION_NAME,
    Calibration,
    read_calibration,
    write_calibration,
)
from irstudio.inference.planning.cpu_tile import read_side_of
from irstudio.inference.planning.known import KNOWN_CPU_PLANS, MEMORY_SHARE, MIN_CPU_TILE, KnownPlan
from irstudio.inference.runner import restore
from irstudio.models.catalog import REGISTRY
from tests.inference.test_backends import TinyNet, tiny_spec
from tests.training.helpers import drain

CPU = DeviceInfo("cpu", "Test CPU", None, None)
needs_ov = pytest.mark.skipif(openvino_unavailable_reason() is not None, reason="OpenVINO not installed")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def nothing_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any timing, memory probe or precision probe fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("measured on the critical path")

    monkeypatch.setattr(chooser_module, "interleaved_medians", forbidden)
    monkeypatch.setattr(plan_module, "auto_tile_size", forbidden)
    monkeypatch.setattr(plan_module, "choose_cpu_tile", forbidden)
    monkeypatch.setattr(plan_module, "choose_precision", forbidden)


def test_every_architecture_in_the_registry_has_a_known_cpu_plan() -> None:
    archs = {spec.arch for spec in REGISTRY if spec.learned}
    assert archs <= set(KNOWN_CPU_PLANS)


@needs_ov
def test_the_first_cpu_plan_measures_nothing_and_restores_like_the_model(tmp_path, nothing_measured) -> None:
    model = TinyNet().eval()
    chosen = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path)
    assert chosen.backend.backend in (OPENVINO, OPENVINO_BF16)
    assert "known plan for tiny" in chosen.describe()
    image = torch.rand(40, 56, 3).numpy()
    expected = restore(model, image, plan_for(tiny_spec(), CPU, tile=chosen.plan.tile))
    got = restore(chosen.module, image, chosen.plan)
    tolerance = 1e-4 if chosen.module.dtype == "fp32" else 0.05
    assert abs(got - expected).max() <= tolerance


@needs_ov
def test_a_one_off_conversion_is_announced_once(tmp_path, nothing_measured) -> None:
    said: list[str] = []
    for _ in range(2):
        auto_plan(tiny_spec(), TinyNet().eval(), CPU, state_dir=tmp_path, on_prepare=said.append)
    assert len(said) == 1 and "OpenVINO" in said[0]


def test_forced_backend_and_precision_win_over_the_table(tmp_path, nothing_measured) -> None:
    model = TinyNet().eval()
    eager = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path, backends=(EAGER,))
    assert eager.backend.backend == EAGER and eager.module is model
    half = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path, dtype="bf16")
    assert half.backend.backend == EAGER and half.plan.dtype == "bf16"
    tiled = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path, backends=(EAGER,), tile=48)
    assert tiled.plan.tile == 48


@needs_ov
def test_forced_fp32_runs_openvino_in_fp32(tmp_path, nothing_measured) -> None:
    chosen = auto_plan(tiny_spec(), TinyNet().eval(), CPU, state_dir=tmp_path, dtype="fp32")
    assert chosen.backend.backend == OPENVINO and chosen.module.dtype == "fp32"


def test_this_computers_calibration_wins_over_the_table(tmp_path, nothing_measured) -> None:
    model = TinyNet().eval()
    write_calibration("tiny", model, CPU, tmp_path, Calibration(EAGER, 64))
    chosen = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path)
    assert chosen.backend.backend == EAGER and chosen.plan.tile == 64
    assert "measured on this computer" in chosen.describe()
    other_weights = TinyNet(seed=3).eval()
    assert read_calibration("tiny", other_weights, CPU, tmp_path) is None


def test_measuring_records_the_outcome_as_this_computers_calibration(tmp_path, monkeypatch) -> None:
    model = TinyNet().eval()
    monkeypatch.setattr(
        chooser_module, "interleaved_medians", lambda runs, *a, **k: {name: 1.0 for name, _ in runs}
    )
    chosen = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path, measure=True, backends=None, tile=None)
    record = read_calibration("tiny", model, CPU, tmp_path)
    assert record == Calibration(chosen.backend.backend, chosen.plan.tile)


@pytest.mark.parametrize(
    "entry",
    [None, 3, [], {}, {"backend": "warp-drive", "tile": 256}, {"backend": EAGER, "tile": "256"},
     {"backend": EAGER, "tile": -1}, {"backend": EAGER, "tile": True}],
)  # fmt: skip
def test_a_malformed_calibration_record_reads_as_missing(tmp_path: Path, entry) -> None:
    model = TinyNet().eval()
    write_calibration("tiny", model, CPU, tmp_path, Calibration(EAGER, 64))
    path = tmp_path / CALIBRATION_NAME
    data = json.loads(path.read_text())
    key = next(iter(data["entries"]))
    data["entries"][key] = entry if not isinstance(entry, dict) else {**entry, **{
        "environment": data["entries"][key]["environment"]}}  # fmt: skip
    path.write_text(json.dumps(data))
    assert read_calibration("tiny", model, CPU, tmp_path) is None


def test_two_processes_writing_one_cache_keep_each_others_entries(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    first, second = VerdictCache(path), VerdictCache(path)
    first.get("x")  # both loaded the (empty) file before either wrote
    second.get("x")
    first.put("a", {"value": 1})
    second.put("b", {"value": 2})
    entries = json.loads(path.read_text())["entries"]
    assert set(entries) == {"a", "b"}
    assert VerdictCache(path).get("a")["value"] == 1


def test_the_tile_shrinks_until_its_estimate_fits_the_free_memory() -> None:
    known = KnownPlan(EAGER, tile=512, base_mib=100.0, mib_per_read_mpx=10000.0)
    plan = plan_for(tiny_spec(), CPU, tile=512)
    assert fit_tile(known, plan, None, 512) == 512
    assert fit_tile(known, plan, 2**40, 512) == 512
    budget = 2 * 2**30
    side = fit_tile(known, plan, budget, 512)
    assert side < 512 and known.estimate_bytes(read_side_of(plan, side)) <= MEMORY_SHARE * budget
    assert known.estimate_bytes(read_side_of(plan, side + 32)) > MEMORY_SHARE * budget
    assert fit_tile(known, plan, 1, 512) >= MIN_CPU_TILE  # never below the floor


def test_a_shipped_model_plans_on_the_cpu_without_measuring(tmp_path, nothing_measured, monkeypatch) -> None:
    monkeypatch.setattr(plan_module, "build_backend", lambda name, model, **kwargs: model)
    spec = next(spec for spec in REGISTRY if spec.id == "compacter-x1")
    model = spec.build()
    chosen = auto_plan(spec, model, CPU, state_dir=tmp_path)
    assert chosen.backend.backend == KNOWN_CPU_PLANS["compacter"].backend
    assert chosen.plan.tile is not None and chosen.plan.tile <= KNOWN_CPU_PLANS["compacter"].tile


def test_optimise_reports_its_steps_and_records_this_computers_plan(tmp_path) -> None:
    from irstudio.inference.planning.optimise import OptimiseStep, optimise

    model = TinyNet().eval()
    steps, chosen = drain(optimise(tiny_spec(), model, CPU, state_dir=tmp_path))
    assert all(isinstance(step, OptimiseStep) for step in steps) and len(steps) == steps[0].total
    assert [step.done for step in steps] == list(range(len(steps)))
    assert read_calibration("tiny", model, CPU, tmp_path) == Calibration(
        chosen.backend.backend, chosen.plan.tile
    )
    again = auto_plan(tiny_spec(), model, CPU, state_dir=tmp_path)  # later runs use it, measuring nothing
    assert again.backend.backend == chosen.backend.backend and "measured on this computer" in again.describe()


def test_optimise_stops_between_steps_when_cancelled(tmp_path) -> None:
    from irstudio.core.cancel import Cancelled, CancelToken
    from irstudio.inference.planning.optimise import optimise

    token = CancelToken()
    steps = optimise(tiny_spec(), TinyNet().eval(), CPU, state_dir=tmp_path, cancel=token)
    next(steps)
    token.cancel()
    with pytest.raises(Cancelled):
        next(steps)
    assert read_calibration("tiny", TinyNet().eval(), CPU, tmp_path) is None
