from __future__ import annotations

import numpy as np
import pytest
import torch

from irstudio.models.catalog import REGISTRY, resolve_id
from irstudio.models.registry import Registry, UnknownModelError
from irstudio.models.spec import ModelSpec, Task


def _spec(model_id: str) -> ModelSpec:
    return ModelSpec(id=model_id, name=model_id, arch="x", tasks=(Task.SR,), scale=2, build=torch.nn.Identity)


def test_duplicate_id_raises() -> None:
    with pytest.raises(ValueError, match="duplicate model id 'a'"):
        Registry([_spec("a"), _spec("a")])


def test_unknown_id_suggests_close_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"did you mean .*bicubic-x2"):
        REGISTRY.get("bicubic-x")


def test_bicubic_alias_resolves_by_scale() -> None:
    assert resolve_id("bicubic", 4).id == "bicubic-x4"
    assert resolve_id("bicubic").id == "bicubic-x2"


def test_every_task_has_a_classical_baseline() -> None:
    for task in Task:
        assert any(not s.learned for s in REGISTRY.for_task(task)), task


@pytest.mark.parametrize("model_id", ["identity", "bicubic-x2", "bicubic-x3", "bicubic-x4", "nlmeans"])
def test_baselines_keep_the_contract(model_id: str) -> None:
    spec = REGISTRY.get(model_id)
    model = spec.build().eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((1, 3, 23, 31), dtype=np.float32))
    with torch.inference_mode():
        y = model(x)
    assert y.shape == (1, 3, 23 * spec.scale, 31 * spec.scale)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    if model_id == "identity":
        assert torch.equal(x, y)


def test_nlmeans_removes_noise() -> None:
    rng = np.random.default_rng(1)
    clean = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32), (64, 1))[..., None].repeat(3, axis=2)
    noisy = np.clip(clean + rng.normal(0, 20 / 255, clean.shape).astype(np.float32), 0, 1)
    model = REGISTRY.get("nlmeans").build()
    with torch.inference_mode():
        out = model(torch.from_numpy(noisy).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(out - clean).mean() < 0.5 * np.abs(noisy - clean).mean()


def test_manifest_entries_become_registry_entries_on_their_preset(tmp_path) -> None:
    from pathlib import Path

    from irstudio.models.catalog import shipped_specs
    from irstudio.models.loading import ShippedWeights, WeightsError

    entry = {
        "id": "compacter-x1-denoise",
        "preset": "compacter-x1",
        "task": "denoise",
        "name": "Compacter denoise",
    }
    shipped = ShippedWeights("compacter-x1-denoise", "compacter-x1", Path("w.safetensors"), "0" * 64, entry)
    (spec,) = shipped_specs([shipped])
    assert (spec.id, spec.weights, spec.tasks, spec.params) == (
        "compacter-x1-denoise",
        "w.safetensors",
        (Task.DENOISE,),
        REGISTRY.get("compacter-x1").params,
    )
    with pytest.raises(WeightsError, match="unknown preset 'nope'"):
        shipped_specs([ShippedWeights("x", "nope", Path("w.safetensors"), "0" * 64, {})])


@pytest.mark.parametrize("tasks", [5, None, "denoise"])
def test_a_manifest_entry_whose_tasks_are_not_a_list_is_refused_by_name(tasks: object) -> None:
    from pathlib import Path

    from irstudio.models.catalog import shipped_specs
    from irstudio.models.loading import ShippedWeights, WeightsError

    entry = {"id": "bad", "preset": "compacter-x1", "tasks": tasks}
    shipped = ShippedWeights("bad", "compacter-x1", Path("w.safetensors"), "0" * 64, entry)
    with pytest.raises(WeightsError, match="manifest entry 'bad': 'tasks' must be a list"):
        shipped_specs([shipped])
