"""A real torchrun launch: 2 CPU processes (gloo, DDP) train a tiny model and write one checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from irstudio.training import TrainSection, list_checkpoints, load_checkpoint, save_config
from tests.training.helpers import tiny_config

REPO = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from irstudio.models import catalog
from irstudio.models.registry import Registry
from tests.training.helpers import TINY_SPECS

catalog.REGISTRY = Registry([*catalog.REGISTRY, *TINY_SPECS])
from irstudio.cli import main

sys.exit(main(["train", sys.argv[1]]))
"""


def test_torchrun_two_cpu_processes_train_and_write_one_checkpoint(tmp_path: Path) -> None:
    steps = 3
    config = tiny_config(
        tmp_path,
        name="ddp",
        train=TrainSection(steps=steps, validate_every=steps, checkpoint_every=100, log_every=1),
    )
    config_file = save_config(config, tmp_path / "ddp.toml")
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(worker),
        str(config_file),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("done at step 3/3") == 1  # only rank 0 reports

    checkpoints = list_checkpoints(config.run_dir)
    assert [p.name for p in checkpoints] == ["step_00000003.pt"]
    state = load_checkpoint(checkpoints[0])
    assert state.world_size == 2 and len(state.rng) == 2
    assert state.draws == steps * config.data.batch_size * 2  # each process drew its own share
    records = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records].count("started") == 1 and records[0]["world_size"] == 2
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2, 3]
