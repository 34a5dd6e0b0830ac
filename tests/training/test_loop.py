"""The training loop: exact resume, the NaN guard, stop/resume, checkpoints, logs, progressive patches."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from irstudio.core.cancel import CancelToken
from irstudio.models.archs import compacter
from irstudio.models.catalog import resolve_id
from irstudio.models.loading import save_weights
from irstudio.training import (
    CheckpointError,
    CheckpointSaved,
    ConfigError,
    NonFiniteLossError,
    Notice,
    PatchStage,
    Started,
    StepLog,
    TrainSection,
    Validation,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    run_to_end,
    train,
)
from irstudio.training.setup import prepare
from tests.training.helpers import TINY_COMPACTER, drain, install_tiny_models, tiny_config


@pytest.fixture(autouse=True)
def _tiny_models(monkeypatch) -> None:
    install_tiny_models(monkeypatch)


def _assert_same_tensors(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), f"{what}: {key} differs"


@pytest.mark.parametrize("model", ["tiny-compacter", "dropout-net"])
def test_n_steps_then_resume_then_n_steps_equals_2n_straight(tmp_path: Path, model: str) -> None:
    n = 4
    stages = (PatchStage(step=3, patch=24),)  # a patch change inside each half, to exercise draw accounting
    schedule = TrainSection(
        steps=2 * n, validate_every=3, checkpoint_every=100, log_every=1, progressive=stages
    )
    straight = tiny_config(tmp_path / "a", model=model, name="straight", train=schedule)
    summary = run_to_end(train(straight))
    assert summary.final_step == 2 * n and not summary.stopped

    halves = tiny_config(tmp_path / "b", model=model, name="halves", train=schedule)
    cancel = CancelToken()
    first = train(halves, cancel)
    for event in first:
        if isinstance(event, StepLog) and event.step == n:
            cancel.cancel()
    stopped = load_checkpoint(latest_checkpoint(halves.run_dir))
    assert stopped.step == n
    resumed_summary = run_to_end(train(halves, resume=True))
    assert resumed_summary.final_step == 2 * n and resumed_summary.steps_run == n

    a = load_checkpoint(latest_checkpoint(straight.run_dir))
    b = load_checkpoint(latest_checkpoint(halves.run_dir))
    assert a.step == b.step == 2 * n and a.draws == b.draws
    _assert_same_tensors(a.model, b.model, "model")
    _assert_same_tensors(a.ema, b.ema, "ema")
    for state_a, state_b in zip(a.optimizer["state"].values(), b.optimizer["state"].values(), strict=True):
        _assert_same_tensors(state_a, state_b, "optimizer")
    assert a.schedule == b.schedule
    assert a.psnr == pytest.approx(b.psnr, abs=0.0)


def test_checkpoint_holds_everything_and_loads_with_weights_only(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, steps=3)
    events, summary = drain(train(config))
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [e.step for e in saved] == [3] and summary.last_checkpoint == saved[0].path
    state = torch.load(saved[0].path, map_location="cpu", weights_only=True)
    assert {"model", "ema", "optimizer", "schedule", "rng", "step", "draws", "config"} <= set(state)
    assert state["step"] == 3 and state["draws"] == 3 * config.data.batch_size
    assert {"python", "numpy_keys", "torch", "cuda"} <= set(state["rng"][0])
    assert not list(config.run_dir.glob("checkpoints/*.tmp"))  # atomic: no temporary file left
    checkpoint = load_checkpoint(saved[0].path)
    assert checkpoint.step == 3 and checkpoint.model_id == "tiny-compacter" and checkpoint.run_name == "run"
    assert checkpoint.scores == (checkpoint.psnr, checkpoint.ssim) and checkpoint.psnr is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": "3"}, "'step' is not what it should be"),
        ({"model": None}, "'model' is not"),
        ({"rng": 5}, "'rng'"),
    ],
)
def test_a_checkpoint_with_a_damaged_field_is_refused_naming_it(tmp_path: Path, change, message) -> None:
    config = tiny_config(tmp_path, steps=1)
    drain(train(config))
    path = latest_checkpoint(config.run_dir)
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.save({**state, **change}, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    del state["draws"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="has no 'draws'"):
        load_checkpoint(path)


def test_event_stream_and_metrics_log(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        steps=4,
        train=TrainSection(steps=4, validate_every=2, checkpoint_every=2, log_every=2, keep_checkpoints=1),
    )
    events, summary = drain(train(config))
    assert isinstance(events[0], Started) and events[0].train_images + events[0].val_images == 6
    logs = [e for e in events if isinstance(e, StepLog)]
    assert [e.step for e in logs] == [2, 4] and set(logs[0].losses) == {"l1", "fft"}
    validations = [e for e in events if isinstance(e, Validation)]
    assert [v.step for v in validations] == [2, 4] and all(v.psnr > 5 for v in validations)
    assert validations[0].previews and validations[0].previews[0][1].dtype.name == "uint8"
    assert [p.name for p in list_checkpoints(config.run_dir)] == ["step_00000004.pt"]  # keep_checkpoints = 1
    records = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert next(r["event"] for r in records) == "started" and records[-1]["event"] == "finished"
    assert [r["step"] for r in records if r["event"] == "validation"] == [2, 4]
    assert (config.run_dir / "config.toml").is_file()
    assert summary.psnr == validations[-1].psnr


def test_nan_guard_names_the_loss_terms_and_stops(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        model="nan-net",
        steps=5,
        train=TrainSection(steps=5, validate_every=5, checkpoint_every=5, max_bad_steps=2),
    )
    seen = []
    with pytest.raises(
        NonFiniteLossError, match=r"not finite at step 3: loss term 'l1' = nan, loss term 'fft'"
    ):
        for event in train(config):
            seen.append(event)
    notices = [e for e in seen if isinstance(e, Notice)]
    assert [n.step for n in notices] == [1, 2] and "loss term 'l1'" in notices[0].message
    assert list_checkpoints(config.run_dir) == []  # no checkpoint of broken weights


def test_stop_writes_a_checkpoint_and_resume_finishes(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, steps=5)
    cancel = CancelToken()
    cancel.cancel()
    _, summary = drain(train(config, cancel))
    assert summary.stopped and summary.final_step == 0 and summary.last_checkpoint is not None
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        run_to_end(train(config))
    resumed = run_to_end(train(config, resume=True))
    assert resumed.final_step == 5 and not resumed.stopped
    steps = [
        json.loads(line)["step"]
        for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["event"] == "step"
    ]
    assert steps == [1, 2, 3, 4, 5]


def test_progressive_patches_change_the_patch_size(tmp_path: Path) -> None:
    stages = (PatchStage(step=2, patch=24, batch_size=1),)
    config = tiny_config(
        tmp_path,
        train=TrainSection(steps=4, validate_every=4, checkpoint_every=4, log_every=1, progressive=stages),
    )
    events, _ = drain(train(config))
    assert [e.patch for e in events if isinstance(e, StepLog)] == [16, 16, 24, 24]
    assert load_checkpoint(latest_checkpoint(config.run_dir)).draws == 2 * 2 + 2 * 1


def test_super_resolution_with_charbonnier(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, model="tiny-compacter-x2", steps=2)
    config = replace(config, loss=replace(config.loss, kind="charbonnier"))
    events, summary = drain(train(config))
    started = events[0]
    assert started.task == "sr" and started.scale == 2
    assert set(next(e for e in events if isinstance(e, StepLog)).losses) == {"charbonnier"}
    assert summary.psnr is not None


def test_a_transfer_start_takes_another_scales_weights_and_says_what_starts_afresh(tmp_path: Path) -> None:
    """The x4 body fills the x2 model; only the upsampler conv, shaped for x4, starts as built."""
    x4 = compacter.build(replace(TINY_COMPACTER, upscale=4))
    compacter_spec = resolve_id("tiny-compacter-x2")  # same architecture: its metadata fits
    weights = save_weights(x4, tmp_path / "x4.safetensors", spec=compacter_spec)
    config = tiny_config(tmp_path, model="tiny-compacter-x2", steps=1)
    config = replace(config, model=replace(config.model, weights=weights, transfer=True))
    run = prepare(config)
    try:
        body = "layers.0.blocks.0.attn.qkv.weight"
        assert torch.equal(run.net.state_dict()[body], x4.state_dict()[body])
        assert run.net.state_dict()["upsample.0.weight"].shape[0] == 12
    finally:
        run.close()
    events, _ = drain(train(config))
    notice = next(e for e in events if isinstance(e, Notice))
    assert notice.message.startswith("started from x4.safetensors:")
    assert notice.message.endswith("initialised afresh: upsample.0.bias, upsample.0.weight")


def test_a_task_the_model_does_not_do_is_refused(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    config = replace(config, model=replace(config.model, task="sr"))
    with pytest.raises(ConfigError, match="does not do 'sr'"):
        run_to_end(train(config))


def test_data_loader_workers_do_not_change_the_result(tmp_path: Path) -> None:
    results = []
    for workers in (0, 2):
        config = tiny_config(tmp_path / str(workers), steps=3)
        config = replace(config, data=replace(config.data, num_workers=workers))
        run_to_end(train(config))
        results.append(load_checkpoint(latest_checkpoint(config.run_dir)).model)
    _assert_same_tensors(results[0], results[1], "model")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_where_the_cpu_computes_it_natively(
    tmp_path: Path, monkeypatch, native
) -> None:
    """A CPU with AVX512_BF16/AMX trains under bf16 autocast (fp32 master weights); others in fp32,
    and asking for bf16 there is a clear configuration error."""
    from irstudio.training import setup as setup_module
    from irstudio.training.config import ConfigError, RuntimeSection

    monkeypatch.setattr(setup_module, "cpu_has_native_bf16", lambda: native)
    config = replace(
        tiny_config(tmp_path, model="tiny-compacter-bf16", steps=2),
        runtime=RuntimeSection(device="cpu", cpu_threads=1),
    )
    run = prepare(config)
    try:
        assert run.bf16 is native and run.precision == ("bf16" if native else "fp32")
        assert all(p.dtype == torch.float32 for p in run.net.parameters())
    finally:
        run.close()
    forced = replace(config, runtime=RuntimeSection(device="cpu", precision="bf16", cpu_threads=1))
    if native:
        _, summary = drain(train(forced))
        assert summary.final_step == 2 and summary.psnr is not None
    else:
        with pytest.raises(ConfigError, match="native bf16"):
            prepare(forced).close()
