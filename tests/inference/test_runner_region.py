"""``run_tiled(..., region=...)``: the region preview equals the same crop of the full run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.core.tiling import Region, plan_tiles
from irstudio.inference.runner import TilePlan, TileProgress, restore, run_tiled


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny convs gain nothing from intra-op threads on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


class ConvNet(nn.Module):
    """Random dilated 3x3 convs (receptive radius 7 px) and an optional pixel-shuffle head."""

    def __init__(self, scale: int = 1, channels: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=4, dilation=4),
        )
        self.head = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = 0.5 + 0.1 * self.head(self.body(x))
        return F.pixel_shuffle(y, self.scale) if self.scale > 1 else y


def run(model: nn.Module, image: np.ndarray, plan: TilePlan, region: Region | None = None):
    reports: list[TileProgress] = []
    steps = run_tiled(model, image, plan, region=region)
    while True:
        try:
            reports.append(next(steps))
        except StopIteration as finished:
            return finished.value, reports


def crop(image: np.ndarray, region: Region, scale: int = 1) -> np.ndarray:
    r = region.scaled(scale)
    return image[r.y0 : r.y1, r.x0 : r.x1]


REGIONS = [
    Region(0, 0, 1, 1),  # one corner pixel
    Region(20, 30, 44, 61),  # across seams of a 32 px plan
    Region(33, 5, 70, 19),  # touching the bottom border
    Region(3, 70, 9, 90),  # touching the right border
    Region(0, 0, 70, 90),  # the whole image
    Region(31, 31, 33, 33),  # a 2x2 square on a blend band
]


@pytest.mark.parametrize("blend", [None, 0])
@pytest.mark.parametrize("multiple", [1, 8])
def test_conv_net_region_equals_the_crop_of_the_full_run(multiple: int, blend: int | None) -> None:
    torch.manual_seed(1)
    model = ConvNet()
    image = random_image(70, 90)
    plan = TilePlan(tile=32, context=16, multiple=multiple, blend=blend)
    full, _ = run(model, image, plan)
    for region in REGIONS:
        part, _ = run(model, image, plan, region)
        assert part.shape == (region.height, region.width, 3)
        assert part.flags.c_contiguous
        np.testing.assert_array_equal(part, crop(full, region), err_msg=str(region))


def test_sr_region_equals_the_crop_of_the_full_run() -> None:
    torch.manual_seed(2)
    model = ConvNet(scale=2)
    image = random_image(50, 41)
    plan = TilePlan(tile=16, context=8, scale=2, multiple=4)
    full, _ = run(model, image, plan)
    assert full.shape == (100, 82, 3)
    for region in (Region(10, 10, 30, 25), Region(45, 0, 50, 41), Region(0, 40, 1, 41)):
        part, _ = run(model, image, plan, region)
        assert part.shape == (region.height * 2, region.width * 2, 3)
        np.testing.assert_array_equal(part, crop(full, region, 2))


@pytest.mark.parametrize("multiple", [1, 8])
def test_identity_region_is_the_input_crop(multiple: int) -> None:
    image = random_image(37, 53)
    plan = TilePlan(tile=16, context=8, multiple=multiple)
    for region in (Region(5, 7, 30, 40), Region(36, 52, 37, 53), Region(0, 0, 37, 53)):
        part, _ = run(nn.Identity(), image, plan, region)
        np.testing.assert_array_equal(part, crop(image, region))


def test_region_runs_only_the_tiles_it_needs() -> None:
    image = random_image(96, 96)
    plan = TilePlan(tile=32, context=8, multiple=1)
    full_tiles = len(plan_tiles(96, 96, tile=32, context=8, multiple=1))
    _, full_reports = run(nn.Identity(), image, plan)
    inside_one_core = Region(40, 40, 50, 50)  # far from every blend band
    _, reports = run(nn.Identity(), image, plan, inside_one_core)
    assert len(full_reports) == full_tiles == 9
    assert len(reports) == 1
    assert (reports[0].index, reports[0].total) == (0, 1)
    assert reports[0].region == Region(32, 32, 64, 64)
    _, across_a_seam = run(nn.Identity(), image, plan, Region(30, 40, 34, 50))
    assert len(across_a_seam) == 2


def test_region_partly_outside_is_clipped_and_wholly_outside_is_refused() -> None:
    image = random_image(20, 30)
    plan = TilePlan(tile=16, context=4)
    part, _ = run(nn.Identity(), image, plan, Region(-5, 25, 8, 99))
    np.testing.assert_array_equal(part, image[0:8, 25:30])
    with pytest.raises(ValueError, match="does not overlap"):
        run(nn.Identity(), image, plan, Region(20, 0, 25, 5))


def test_region_run_honours_cancel_between_tiles() -> None:
    image = random_image(64, 64)
    token = CancelToken()
    steps = run_tiled(nn.Identity(), image, TilePlan(tile=16, context=4), token, region=Region(0, 0, 64, 20))
    next(steps)
    token.cancel()
    with pytest.raises(Cancelled):
        next(steps)


def test_full_run_without_region_is_unchanged() -> None:
    torch.manual_seed(3)
    model = ConvNet()
    image = random_image(40, 40)
    plan = TilePlan(tile=16, context=8)
    np.testing.assert_array_equal(run(model, image, plan)[0], restore(model, image, plan))
