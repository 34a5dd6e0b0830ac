"""Backends: verdict cache, channels_last, ONNX Runtime export/check/fallbacks, the chooser and its
cache, thread policy, timing helpers, GPU tile batching in the runner, and ``auto_plan``.

No timing is asserted: where the chooser's decision is tested, the measured seconds are injected.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import irstudio.inference.backends.chooser as chooser_module
import irstudio.inference.backends.onnxrt as onnxrt
from irstudio.core.device import DeviceInfo
from irstudio.inference.backends import (
    CHANNELS_LAST,
    COMPILE,
    EAGER,
    ONNX,
    OPENVINO,
    OPENVINO_BF16,
    TOLERANCE,
    BackendVerdict,
    ChannelsLast,
    OnnxModule,
    OnnxUnavailable,
    VerdictCache,
    backend_key,
    build_onnx_module,
    candidate_backends,
    choose_backend,
    compile_unavailable_reason,
    interleaved_medians,
    median_seconds,
    onnx_unavailable_reason,
    physical_cores,
    unwrap,
    weights_fingerprint,
)
from irstudio.inference.backends import cache as cache_module
from irstudio.inference.backends.hardware import _count_physical_cores
from irstudio.inference.planning import CPU_TILE, auto_plan, read_side
from irstudio.inference.planning.cpu_tile import CPU_TILE_SIDES
from irstudio.inference.runner import TilePlan, restore
from irstudio.models.spec import ModelSpec, Task

CPU = DeviceInfo("cpu", "Test CPU", None, None)
ORT_MISSING = onnx_unavailable_reason()
needs_ort = pytest.mark.skipif(ORT_MISSING is not None, reason=f"ONNX Runtime: {ORT_MISSING}")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TinyNet(nn.Module):
    """conv -> GELU -> conv (+ input), 8-px "window" padding like our architectures; any H, W."""

    def __init__(self, seed: int = 0, channels: int = 8) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * self.tail(nn.functional.gelu(self.head(x)))


def tiny_spec(model_id: str = "tiny") -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name="Tiny",
        arch="tiny",
        tasks=(Task.DENOISE,),
        scale=1,
        build=TinyNet,
        tile_multiple=8,
        context=8,
        half_dtypes=("bf16",),
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyNet, OnnxModule, Path]:
    """One real export (a few seconds) shared by the ONNX tests: the model, its wrapper, the cache dir."""
    if ORT_MISSING is not None:
        pytest.skip(f"ONNX Runtime: {ORT_MISSING}")
    folder = tmp_path_factory.mktemp("state") / "onnx"  # where a state folder keeps ONNX exports
    model = TinyNet().eval()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    module = build_onnx_module(model, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=folder)
    torch.set_num_threads(before)
    return model, module, folder


# ------------------------------------------------------------------------------- verdict cache


def test_cache_round_trips_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "backend-cache.json"
    VerdictCache(path).put("k", {"backend": "onnx", "seconds": {"eager": 2.0}})
    again = VerdictCache(path).get("k")
    assert again is not None and again["backend"] == "onnx" and again["seconds"] == {"eager": 2.0}
    assert VerdictCache(path).get("other") is None


def test_cache_ignores_entries_from_another_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.json"
    VerdictCache(path).put("k", {"backend": "onnx"})
    monkeypatch.setattr(cache_module, "environment_stamp", lambda: "torch 9.9; onnxruntime 9.9")
    assert VerdictCache(path).get("k") is None


def test_corrupt_or_unwritable_cache_is_treated_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json", encoding="utf-8")
    assert VerdictCache(path).get("k") is None
    blocked = tmp_path / "file"
    blocked.write_text("x", encoding="utf-8")
    cache = VerdictCache(blocked / "sub" / "c.json")  # parent is a file: cannot be created
    cache.put("k", {"backend": "eager"})  # no exception; kept in memory
    assert cache.get("k")["backend"] == "eager"


def test_backend_key_names_every_field_and_restricted_candidates() -> None:
    key = backend_key("asid-x2", CPU, (320, 320), "fp32")
    for part in (
        "model=asid-x2",
        "device=cpu",
        "device_name=Test CPU",
        "shape=320x320",
        "dtype=fp32",
        "threads=1",
    ):
        assert part in key
    assert "candidates" not in key
    assert backend_key("asid-x2", CPU, (320, 320), "fp32", ["eager"]) != key


# ------------------------------------------------------------------------------- eager backends


def test_channels_last_matches_eager_and_returns_contiguous_nchw() -> None:
    model = TinyNet().eval()
    x = torch.rand(1, 3, 24, 40)
    with torch.inference_mode():
        expected = model(x)
        wrapped = ChannelsLast(TinyNet().eval())
        got = wrapped(x)
    assert wrapped.inner.head.weight.is_contiguous(memory_format=torch.channels_last)
    assert got.is_contiguous() and got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert unwrap(wrapped) is wrapped.inner and unwrap(model) is model


def test_candidates_suit_device_and_precision() -> None:
    assert candidate_backends("cpu", "fp32") == [EAGER, CHANNELS_LAST, OPENVINO, OPENVINO_BF16]
    assert OPENVINO not in candidate_backends("cpu", "bf16")
    assert ONNX not in candidate_backends("cuda:0", "fp32")
    assert COMPILE in candidate_backends("cuda:0", "bf16", allow_compile=True)
    assert COMPILE not in candidate_backends("cpu", "fp32")


def test_compile_is_refused_with_a_reason_where_it_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "MPS" in compile_unavailable_reason("mps")
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert "C++ compiler" in compile_unavailable_reason("cpu")


# ------------------------------------------------------------------------------- ONNX Runtime


@needs_ort
def test_onnx_matches_pytorch_at_the_tile_shape_and_at_new_aligned_shapes(exported) -> None:
    model, module, _ = exported
    for shape in ((32, 40), (48, 24), (16, 64)):
        x = torch.rand(1, 3, *shape)
        with torch.inference_mode():
            expected = model(x)
            got = module(x)
        assert float((got - expected).abs().max()) <= TOLERANCE
    assert module.static_shape is None  # exported with dynamic height and width
    assert not module.notes


@needs_ort
def test_onnx_sends_what_it_cannot_serve_to_pytorch(exported) -> None:
    model, module, _ = exported
    calls = []
    handle = model.register_forward_hook(lambda *args: calls.append(args[1][0].shape))
    try:
        with torch.inference_mode():
            module(torch.rand(1, 3, 32, 40))  # verified shape: session only
            assert calls == []
            module(torch.rand(1, 3, 30, 40))  # not on the multiple of 8
            module(torch.rand(2, 3, 32, 40))  # batch of two
            with torch.autocast("cpu", dtype=torch.bfloat16):
                module(torch.rand(1, 3, 32, 40))
    finally:
        handle.remove()
    assert [tuple(shape) for shape in calls] == [(1, 3, 30, 40), (2, 3, 32, 40), (1, 3, 32, 40)]


@needs_ort
def test_a_session_that_disagrees_on_a_new_shape_is_not_used_for_it(exported) -> None:
    _, module, _ = exported
    other = TinyNet(seed=1).eval()  # same graph, other weights: the session no longer matches
    wrapper = OnnxModule(module.session, other, multiple=8, verify_new_shapes=True)
    x = torch.rand(1, 3, 24, 24)
    with torch.inference_mode():
        first = wrapper(x)
        second = wrapper(x)
        expected = other(x)
    torch.testing.assert_close(first, expected)
    torch.testing.assert_close(second, expected)
    assert len(wrapper.notes) == 1 and "differs from PyTorch" in wrapper.notes[0]


@needs_ort
def test_export_and_checked_shapes_are_cached_on_disk_by_weights(exported, monkeypatch) -> None:
    model, module, folder = exported
    assert len(list(folder.glob("tiny-*.onnx"))) == 1
    checking = OnnxModule(module.session, model, multiple=8, ledger=module.ledger, verify_new_shapes=True)
    with torch.inference_mode():
        checking(torch.rand(1, 3, 56, 16))  # a new shape: checked once, recorded in the ledger file

    def no_export(*args, **kwargs):
        raise AssertionError("exported again instead of loading the cached file")

    monkeypatch.setattr(onnxrt, "export_onnx", no_export)
    again = build_onnx_module(model, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=folder)
    # The export-time checks (tile shape, larger, smaller non-square) and the later one are remembered.
    assert {(1, 3, 32, 40), (1, 3, 40, 56), (1, 3, 16, 32), (1, 3, 56, 16)} <= again.ledger.verified
    with torch.inference_mode():
        x = torch.rand(1, 3, 32, 40)
        assert float((again(x) - model(x)).abs().max()) <= TOLERANCE
    retrained = TinyNet(seed=2).eval()
    assert weights_fingerprint(retrained) != weights_fingerprint(model)
    with pytest.raises(AssertionError, match="exported again"):
        build_onnx_module(retrained, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=folder)


@needs_ort
def test_an_export_that_differs_from_pytorch_is_refused(exported, tmp_path, monkeypatch) -> None:
    folder = exported[2]
    wrong_bytes = next(folder.glob("tiny-*.onnx")).read_bytes()  # TinyNet(seed=0)'s graph and weights
    monkeypatch.setattr(onnxrt, "export_onnx", lambda model, example: (wrong_bytes, True))
    monkeypatch.setattr(onnxrt, "_dynamo_export", lambda model, example, dynamic: wrong_bytes)
    with pytest.raises(OnnxUnavailable, match=r"dynamic: ONNX output differs .* static: ONNX output differs"):
        build_onnx_module(
            TinyNet(seed=3).eval(), model_id="t3", shape=(32, 32), multiple=8, cache_dir=tmp_path
        )
    assert not list(tmp_path.glob("*.onnx"))  # a refused export is not cached


def test_export_failure_names_both_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(model, example, dynamic):
        raise RuntimeError(f"cannot trace ({'dynamic' if dynamic else 'static'})")

    monkeypatch.setattr(onnxrt, "_dynamo_export", failing)
    with pytest.raises(OnnxUnavailable) as raised:
        onnxrt.export_onnx(TinyNet(), torch.rand(1, 3, 16, 16))
    assert "dynamic export: RuntimeError: cannot trace (dynamic)" in str(raised.value)
    assert "static export: RuntimeError: cannot trace (static)" in str(raised.value)


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnxrt, "_REQUIRED", ("onnxruntime_no_such_package",))
    reason = onnx_unavailable_reason()
    assert reason is not None and "onnxruntime_no_such_package" in reason and "irstudio[onnx]" in reason
    with pytest.raises(OnnxUnavailable, match="not installed"):
        build_onnx_module(TinyNet(), model_id="tiny", shape=(16, 16))


# ------------------------------------------------------------------------------- chooser


def _fixed_timings(seconds: dict[str, float]):
    def fake(candidates, device, *, repeat, warmup):
        return {name: seconds[name] for name, _ in candidates}

    return fake


def test_chooser_picks_the_fastest_and_caches_the_verdict(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(
        chooser_module, "interleaved_medians", _fixed_timings({EAGER: 2.0, CHANNELS_LAST: 1.5})
    )
    cache = VerdictCache(tmp_path / "backend-cache.json")
    model = TinyNet().eval()
    module, verdict = choose_backend(
        model, model_id="tiny", device=CPU, shape=(32, 32), candidates=[EAGER, CHANNELS_LAST], cache=cache
    )
    assert verdict.backend == CHANNELS_LAST and isinstance(module, ChannelsLast) and module.inner is model
    assert verdict.speedup_over(EAGER) == pytest.approx(2.0 / 1.5)
    stored = json.loads((tmp_path / "backend-cache.json").read_text())["entries"]
    (entry,) = stored.values()
    assert entry["backend"] == CHANNELS_LAST and entry["seconds"] == {EAGER: 2.0, CHANNELS_LAST: 1.5}

    def must_not_measure(*args, **kwargs):
        raise AssertionError("measured again despite a cached verdict")

    monkeypatch.setattr(chooser_module, "interleaved_medians", must_not_measure)
    again, cached = choose_backend(
        TinyNet().eval(),
        model_id="tiny",
        device=CPU,
        shape=(32, 32),
        candidates=[EAGER, CHANNELS_LAST],
        cache=VerdictCache(tmp_path / "backend-cache.json"),
    )
    assert cached.cached and cached.backend == CHANNELS_LAST and isinstance(again, ChannelsLast)


def test_measuring_channels_last_leaves_the_eager_model_untouched(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(
        chooser_module, "interleaved_medians", _fixed_timings({EAGER: 1.0, CHANNELS_LAST: 3.0})
    )
    model = TinyNet().eval()
    module, verdict = choose_backend(
        model,
        model_id="tiny",
        device=CPU,
        shape=(16, 16),
        candidates=[EAGER, CHANNELS_LAST],
        cache=VerdictCache(tmp_path / "c.json"),
    )
    assert verdict.backend == EAGER and module is model
    assert not model.head.weight.is_contiguous(memory_format=torch.channels_last)


def test_onnx_failure_falls_back_to_eager_and_is_cached_with_its_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(onnxrt, "_REQUIRED", ("onnxruntime_no_such_package",))
    model = TinyNet().eval()
    module, verdict = choose_backend(
        model,
        model_id="tiny",
        device=CPU,
        shape=(16, 16),
        candidates=[EAGER, ONNX],
        repeat=1,
        cache=VerdictCache(tmp_path / "c.json"),
    )
    assert verdict.backend == EAGER and module is model and set(verdict.seconds) == {EAGER}
    assert "not installed" in verdict.unavailable[ONNX]
    entry = next(iter(json.loads((tmp_path / "c.json").read_text())["entries"].values()))
    assert entry["backend"] == EAGER and "not installed" in entry["unavailable"][ONNX]


def test_a_cached_winner_that_cannot_be_built_now_runs_eager_with_a_note(tmp_path, monkeypatch) -> None:
    cache = VerdictCache(tmp_path / "c.json")
    key = backend_key("tiny", CPU, (16, 16), "fp32")
    cache.put(key, BackendVerdict(ONNX, (16, 16), {EAGER: 2.0, ONNX: 1.0}).to_json())
    monkeypatch.setattr(onnxrt, "_REQUIRED", ("onnxruntime_no_such_package",))
    model = TinyNet().eval()
    module, verdict = choose_backend(model, model_id="tiny", device=CPU, shape=(16, 16), cache=cache)
    assert module is model and verdict.backend == EAGER
    assert "onnx was chosen when measured but is unavailable now" in verdict.notes[0]


@needs_ort
def test_chooser_with_real_timings_returns_a_module_that_matches_the_model(exported, tmp_path) -> None:
    model, _, folder = exported
    module, verdict = choose_backend(
        model, model_id="tiny", device=CPU, shape=(32, 40), multiple=8, repeat=1,
        cache=VerdictCache(tmp_path / "c.json"), state_dir=folder.parent,
        candidates=[EAGER, CHANNELS_LAST, ONNX],
    )  # fmt: skip
    assert set(verdict.seconds) == {EAGER, CHANNELS_LAST, ONNX}
    assert verdict.backend == min(verdict.seconds, key=verdict.seconds.__getitem__)
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert float((module(x) - TinyNet().eval()(x)).abs().max()) <= TOLERANCE


# ------------------------------------------------------------------------------- hardware, timing

CPUINFO_HYPERTHREADED = "\n\n".join(
    f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 4}\nmodel name\t: Test" for i in range(8)
)


def test_physical_cores_count_distinct_cores_not_hardware_threads() -> None:
    assert _count_physical_cores(CPUINFO_HYPERTHREADED) == 4
    assert _count_physical_cores("processor\t: 0\nmodel name\t: no core ids") is None
    assert 1 <= physical_cores() <= (__import__("os").cpu_count() or 1)


def test_median_seconds_warms_up_then_times_each_run() -> None:
    calls = []
    seconds = median_seconds(lambda: calls.append(1), repeat=5, warmup=2)
    assert len(calls) == 7 and seconds >= 0.0


def test_interleaved_medians_alternates_candidates() -> None:
    order: list[str] = []
    result = interleaved_medians(
        [("a", lambda: order.append("a")), ("b", lambda: order.append("b"))], repeat=2
    )
    assert order == ["a", "b", "a", "b", "a", "b"] and set(result) == {"a", "b"}


# ------------------------------------------------------------------------------- runner batching


class BatchSpy(nn.Module):
    """A per-sample model that records the batch sizes it was called with."""

    def __init__(self, fail_above: int | None = None) -> None:
        super().__init__()
        self.net = TinyNet()
        self.batches: list[int] = []
        self.fail_above = fail_above

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail_above is not None and x.shape[0] > self.fail_above:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        self.batches.append(x.shape[0])
        return self.net(x)


def _image(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).random((height, width, 3), dtype=np.float32)


def test_batched_tiles_give_the_same_image_as_one_at_a_time() -> None:
    image = _image(96, 160)
    common = {"tile": 32, "context": 8, "multiple": 8}
    single, batched = BatchSpy(), BatchSpy()
    one = restore(single, image, TilePlan(**common))
    four = restore(batched, image, TilePlan(**common, batch=4))
    np.testing.assert_allclose(four, one, atol=1e-6)
    assert set(single.batches) == {1} and 1 < max(batched.batches) <= 4
    assert sum(batched.batches) == sum(single.batches)  # every tile exactly once


def test_out_of_memory_halves_the_batch_before_the_tile() -> None:
    image = _image(64, 128)
    spy = BatchSpy(fail_above=1)
    progress = []
    out = restore(spy, image, TilePlan(tile=32, context=8, multiple=8, batch=4), on_progress=progress.append)
    reference = restore(BatchSpy(), image, TilePlan(tile=32, context=8, multiple=8))
    np.testing.assert_allclose(out, reference, atol=1e-6)
    assert set(spy.batches) == {1} and {p.tile for p in progress} == {32}  # tile size kept


def test_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch"):
        TilePlan(batch=0)


# ------------------------------------------------------------------------------- auto_plan


def test_auto_plan_measuring_on_cpu_measures_once_and_restores_like_the_model(tmp_path) -> None:
    spec, model = tiny_spec(), TinyNet()
    planned = auto_plan(spec, model, CPU, state_dir=tmp_path, repeat=1, measure=True)
    assert planned.precision.dtype == "fp32" and "CPU" in planned.precision.note
    assert planned.plan.batch == 1 and planned.plan.tile in CPU_TILE_SIDES
    assert planned.cpu_tile is not None and planned.cpu_tile.tile == planned.plan.tile
    assert planned.backend.shape == (read_side(replace(planned.plan, tile=CPU_TILE)),) * 2
    assert ONNX not in planned.backend.seconds  # timed only when named
    assert (tmp_path / "backend-cache.json").exists() and (tmp_path / "autotile-cache.json").exists()
    image = _image(80, 72)
    expected = restore(TinyNet(), image, planned.plan)
    tolerance = 0.05 if getattr(planned.module, "dtype", "fp32") == "bf16" else 1e-4
    np.testing.assert_allclose(restore(planned.module, image, planned.plan), expected, atol=tolerance)
    assert planned.describe().startswith(f"backend {planned.backend.backend}")
    notices: list[str] = []
    again = auto_plan(
        spec,
        TinyNet(),
        CPU,
        state_dir=tmp_path,
        repeat=1,
        on_measure=lambda: notices.append("x"),
        measure=True,
    )
    assert again.backend.cached and again.tile is not None and again.tile.cached
    assert again.cpu_tile is not None and again.cpu_tile.cached and again.plan == planned.plan
    assert notices == []  # everything was cached: nothing announced


def test_auto_plan_announces_measuring_once(tmp_path) -> None:
    notices: list[str] = []
    auto_plan(
        tiny_spec(), TinyNet(), CPU, state_dir=tmp_path, repeat=1, on_measure=lambda: notices.append("x"),
        measure=True, backends=(EAGER, CHANNELS_LAST),
    )  # fmt: skip
    assert notices == ["x"]  # the tile probe and the backend race: one notice


def test_auto_plan_forced_eager_times_nothing(tmp_path) -> None:
    planned = auto_plan(tiny_spec(), TinyNet(), CPU, tile=48, backends=(EAGER,), state_dir=tmp_path)
    assert planned.backend.backend == EAGER and planned.backend.seconds == {}
    assert not (tmp_path / "backend-cache.json").exists()


def test_auto_plan_keeps_explicit_choices(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(onnxrt, "_REQUIRED", ("onnxruntime_no_such_package",))
    planned = auto_plan(tiny_spec(), TinyNet(), CPU, tile=48, dtype="bf16", state_dir=tmp_path, repeat=1)
    assert planned.plan.tile == 48 and planned.plan.dtype == "bf16" and planned.tile is None
    assert ONNX not in planned.backend.seconds  # ONNX Runtime serves fp32 only


@pytest.mark.slow
def test_compiled_backend_matches_eager() -> None:
    """Real ``torch.compile`` on the CPU (needs a C++ compiler; tens of seconds, hence slow)."""
    reason = compile_unavailable_reason("cpu")
    if reason is not None:
        pytest.skip(reason)
    model = TinyNet().eval()
    compiled = chooser_module.build_backend(COMPILE, model, model_id="tiny", device="cpu", shape=(32, 32))
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-5)
    assert unwrap(compiled) is model


class _FailingSession:
    """Stands in for an ONNX Runtime session that rejects every input."""

    def get_inputs(self):
        return [type("Input", (), {"name": "input"})()]

    def run(self, outputs, feeds):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Reshape failed")


def test_a_shape_the_session_fails_on_is_run_by_pytorch_from_then_on() -> None:
    model = TinyNet().eval()
    wrapper = OnnxModule(_FailingSession(), model, multiple=8)
    x = torch.rand(1, 3, 16, 24)
    with torch.inference_mode():
        torch.testing.assert_close(wrapper(x), model(x))
        torch.testing.assert_close(wrapper(x), model(x))
    assert (1, 3, 16, 24) in wrapper.ledger.rejected
    assert len(wrapper.notes) == 1 and "Reshape failed" in wrapper.notes[0]


@needs_ort
def test_a_dynamic_graph_that_fails_a_check_shape_falls_back_to_a_static_one(exported, tmp_path, monkeypatch):
    model, _, folder = exported
    graph = next(folder.glob("tiny-*.onnx")).read_bytes()
    real_check = onnxrt._checked_session

    def fails_on_other_shapes(data, reference, checks, threads):
        if len(checks) > 1:  # like LIR: reflect padding of a small map baked into the dynamic graph
            raise OnnxUnavailable("ONNX Runtime failed on a check input: Pad reflect: pre-pad exceeds")
        return real_check(data, reference, checks, threads)

    monkeypatch.setattr(onnxrt, "export_onnx", lambda m, example: (graph, True))
    monkeypatch.setattr(onnxrt, "_dynamo_export", lambda m, example, dynamic: graph)
    monkeypatch.setattr(onnxrt, "_checked_session", fails_on_other_shapes)
    module = build_onnx_module(model, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=tmp_path)
    assert module.static_shape == (32, 40) and not module.ledger.dynamic
    assert module.ledger.verified == {(1, 3, 32, 40)}


@needs_ort
def test_a_damaged_cached_export_is_exported_again_not_run(exported, tmp_path, monkeypatch) -> None:
    model = exported[0]
    state = tmp_path / "onnx"
    build_onnx_module(model, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=state)
    graph = next(state.glob("tiny-*.onnx"))
    data = bytearray(graph.read_bytes())
    data[-64] ^= 0xFF  # one flipped byte among the weights: wrong pixels if it were trusted
    graph.write_bytes(bytes(data))
    exports = []
    real_export = onnxrt.export_onnx
    monkeypatch.setattr(onnxrt, "export_onnx", lambda m, x: exports.append(1) or real_export(m, x))
    again = build_onnx_module(model, model_id="tiny", shape=(32, 40), multiple=8, cache_dir=state)
    assert exports == [1]
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        assert float((again(x) - model(x)).abs().max()) <= TOLERANCE


def test_a_converted_graph_is_keyed_by_the_code_that_traces_it_too(tmp_path, monkeypatch) -> None:
    """An upgrade that lays a model out differently (same weights) converts it again, instead of
    running the graph traced from the old code."""
    import sys
    import types

    from irstudio.inference.backends.exported import graph_fingerprint

    model = TinyNet(seed=0).eval()
    first = graph_fingerprint(model)
    assert first == graph_fingerprint(TinyNet(seed=0).eval()) != weights_fingerprint(model)
    source = tmp_path / "arch.py"
    source.write_text("x = 1\n")
    monkeypatch.setitem(sys.modules, type(model).__module__, types.SimpleNamespace(__file__=str(source)))
    before = graph_fingerprint(model)
    source.write_text("x = 2\n")
    assert graph_fingerprint(model) != before and before != first
