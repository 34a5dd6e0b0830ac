"""The blind real-photo test: seeded inputs from clean benchmark images, the classical chain it is
compared with, and the commands that reproduce its scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from irstudio.core.image_io import write_image
from irstudio.core.resize import imresize
from irstudio.data.pipeline import Degradation
from irstudio.inference.benchmarks import benchmarks_for
from irstudio.inference.evaluation import EvalProtocol, find_cases, make_pair
from irstudio.inference.ground_truth import GroundTruthSpec, make_ground_truth, score_input
from irstudio.models import baselines
from irstudio.models.catalog import REGISTRY
from irstudio.models.spec import Task


def _folder(tmp_path: Path, count: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for index in range(count):
        image = np.clip(0.5 + 0.2 * rng.standard_normal((66, 70, 3)), 0, 1).astype(np.float32)
        write_image(tmp_path / f"img{index}.png", image)
    return tmp_path


def test_protocol_measures_rgb_and_crops_the_scale_when_enlarging() -> None:
    x4 = EvalProtocol(Task.REALPHOTO, scale=4, seed=2)
    assert x4.space == "rgb" and x4.crop == 4 and "x4" in x4.describe() and "seed 2" in x4.describe()
    assert EvalProtocol(Task.REALPHOTO).crop == 0


def test_pairs_are_seeded_per_image_and_sized_by_the_scale(tmp_path: Path) -> None:
    protocol = EvalProtocol(Task.REALPHOTO, scale=4, seed=0)
    cases = find_cases(_folder(tmp_path), protocol)
    first = make_pair(cases[0], protocol, 0)
    assert first[0].shape == (16, 17, 3) and first[1].shape == (64, 68, 3)
    np.testing.assert_array_equal(make_pair(cases[0], protocol, 0)[0], first[0])
    assert not np.array_equal(make_pair(cases[0], protocol, 1)[0], first[0])


def test_benchmarks_compare_with_the_classical_chain() -> None:
    x1 = benchmarks_for(Task.REALPHOTO, 1)
    assert [b.baseline for b in x1] == ["nlmeans"]
    assert "--ids" in x1[0].argv("m") and "--scale" not in x1[0].argv("m")
    x4 = benchmarks_for(Task.REALPHOTO, 4)
    assert {b.baseline for b in x4} == {"nlmeans-bicubic-x4"}
    assert x4[0].argv("m")[-2:] == ["--scale", "4"] and "realphoto" in x4[0].argv("m")
    for benchmark in (*x1, *x4):
        assert benchmark.baseline in REGISTRY


def test_nlmeans_bicubic_denoises_then_enlarges() -> None:
    image = np.clip(0.5 + 0.1 * np.random.default_rng(1).standard_normal((24, 20, 3)), 0, 1).astype(
        np.float32
    )
    model = REGISTRY.get("nlmeans-bicubic-x4").build()
    out = model(torch.from_numpy(image).permute(2, 0, 1)[None]).permute(0, 2, 3, 1)[0].numpy()
    denoised = baselines.NLMeans()(torch.from_numpy(image).permute(2, 0, 1)[None]).permute(0, 2, 3, 1)[0]
    np.testing.assert_allclose(out, imresize(denoised.numpy(), 4), atol=1e-5)
    assert REGISTRY.get("nlmeans-bicubic-x4").scale == 4


def test_the_ground_truth_panel_pair_uses_the_same_protocol() -> None:
    clean = np.full((64, 64, 3), 0.5, np.float32)
    pair = make_ground_truth(clean, GroundTruthSpec(Degradation.for_task(Task.REALPHOTO, 4), seed=1))
    assert pair.protocol == EvalProtocol(Task.REALPHOTO, scale=4, seed=1)
    assert pair.degraded.shape == (16, 16, 3) and score_input(pair)[0] == "input (bicubic ×4)"
    with pytest.raises(ValueError, match="one step"):
        GroundTruthSpec(Degradation(()), seed=0)
