"""The tiled runner with integer samples: uint8 / uint16 input converted per tile, and integer
output assembled through a float32 strip, bit for bit what the float32 path gives."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from irstudio.core.image_io import probe_image, read_image, to_depth, write_image
from irstudio.core.tiling import Region
from irstudio.inference.batch import restore_to_file
from irstudio.inference.runner import TilePlan, restore, run_tiled
from tests.inference.test_runner import (  # noqa: F401  (_one_torch_thread: an autouse fixture)
    OomAbove,
    ShapeLogger,
    WideConvNet,
    _one_torch_thread,
)


def integer_photo(height: int, width: int, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, (height, width, 3), dtype=dtype)


def as_float(samples: np.ndarray) -> np.ndarray:
    """The float32 ``read_image`` gives for these samples (value / max, divided in float32)."""
    return np.divide(samples, float(np.iinfo(samples.dtype).max), dtype=np.float32)


def run(model: nn.Module, image: np.ndarray, plan: TilePlan, **kwargs) -> np.ndarray:
    steps = run_tiled(model, image, plan, **kwargs)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            return finished.value


class Spread(nn.Module):
    """A small random network (x ``scale``) whose output spreads over and beyond [0, 1]."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        out = 3 * scale * scale
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, out, 3, padding=1))
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 4.0 * self.shuffle(self.body(x))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_input_gives_the_float_path_result(dtype: type) -> None:
    torch.manual_seed(0)
    samples = integer_photo(90, 130, dtype)
    model = WideConvNet(channels=6, dilations=(1, 2, 1)).calibrate(as_float(samples))
    plan = TilePlan(tile=48, context=16, multiple=4)
    np.testing.assert_array_equal(restore(model, samples, plan), restore(model, as_float(samples), plan))


@pytest.mark.parametrize(("dtype", "depth"), [(np.uint8, 8), (np.uint16, 16)])
@pytest.mark.parametrize("scale", [1, 2])
def test_integer_output_is_the_quantized_float_result(dtype: type, depth: int, scale: int) -> None:
    torch.manual_seed(1)
    samples = integer_photo(101, 77, np.uint8)
    model = Spread(scale)
    plan = TilePlan(tile=32, context=8, multiple=4, scale=scale)
    reference = restore(model, samples, plan)
    out = restore(model, samples, plan, out_dtype=dtype)
    assert out.dtype == dtype and out.shape == reference.shape and out.flags.c_contiguous
    np.testing.assert_array_equal(out, to_depth(reference, depth))
    assert out.min() == 0 and out.max() == np.iinfo(dtype).max  # clipped at both ends


@pytest.mark.parametrize("armed_after", [1, 3])
def test_integer_output_survives_out_of_memory_replans(armed_after: int) -> None:
    """Re-planned (subdivided) tiles still settle rows only once nothing pending writes there: the
    same out-of-memory run gives the same pixels with float32 and with uint8 output."""
    torch.manual_seed(2)
    samples = integer_photo(150, 230)
    inner = Spread(scale=1)
    plan = TilePlan(tile=128, context=16, min_tile=32)
    results = {}
    for dtype in (np.float32, np.uint8):
        model = OomAbove(inner, max_pixels=(64 + 32) ** 2, armed_after=armed_after)
        results[dtype] = restore(model, samples, plan, out_dtype=dtype)
        assert model.failures == 1
    np.testing.assert_array_equal(results[np.uint8], to_depth(results[np.float32], 8))


def test_integer_output_of_a_region_is_the_crop() -> None:
    torch.manual_seed(3)
    samples = integer_photo(70, 90, np.uint16)
    model = Spread()
    plan = TilePlan(tile=24, context=8, multiple=4, scale=2)
    full = restore(model, samples, plan, out_dtype=np.uint16)
    region = Region(10, 20, 50, 61)
    part = run(model, samples, plan, region=region, out_dtype=np.uint16)
    np.testing.assert_array_equal(part, full[20:100, 40:122])


def test_identity_reproduces_integer_samples_exactly() -> None:
    for dtype in (np.uint8, np.uint16):
        samples = integer_photo(37, 53, dtype)
        out = restore(nn.Identity(), samples, TilePlan(tile=16, context=8), out_dtype=dtype)
        np.testing.assert_array_equal(out, samples)


def test_rejects_unknown_output_types() -> None:
    with pytest.raises(ValueError, match="out_dtype"):
        restore(nn.Identity(), integer_photo(8, 8), TilePlan(), out_dtype=np.int32)
    with pytest.raises(ValueError, match="uint8"):
        restore(nn.Identity(), np.zeros((8, 8, 3), dtype=np.int16), TilePlan())


def _traced_peak(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """(uint8 output, peak bytes numpy held) of restoring ``samples`` with an identity at 512 px tiles."""
    tracemalloc.start()
    try:
        out = restore(ShapeLogger(), samples, TilePlan(tile=512), out_dtype=np.uint8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak


def test_integer_output_never_holds_a_full_float32_image() -> None:
    """uint8 in and out at 512 px tiles: numpy holds the output, one float32 strip of open rows
    (one tile row high) and fixed-size buffers. 6000x4000 stays far below one full-size float32
    array (288 MB), and beyond the output it needs the same as 6000x2000 (the strip spans the width)."""
    peaks = {}
    for height in (2000, 4000):
        samples = np.empty((height, 6000, 3), dtype=np.uint8)
        samples[...] = (np.arange(6000) % 256).astype(np.uint8)[None, :, None]
        out, peak = _traced_peak(samples)
        np.testing.assert_array_equal(out[::97, ::89], samples[::97, ::89])
        peaks[height] = peak - out.nbytes
    assert peaks[4000] < 6000 * 4000 * 3 * 4 // 2
    assert peaks[4000] <= 1.05 * peaks[2000]


@pytest.mark.parametrize(("depth", "suffix"), [(8, ".png"), (16, ".png"), (16, ".jpg")])
def test_restore_to_file_writes_what_the_float_path_would(tmp_path, depth: int, suffix: str) -> None:
    """8/16-bit sources restored through integer samples give the same file as float32 throughout."""
    torch.manual_seed(4)
    dtype = np.uint8 if depth == 8 else np.uint16
    source = write_image(tmp_path / "source.png", integer_photo(40, 56, dtype))
    model, plan = Spread(scale=2), TilePlan(tile=16, context=8, multiple=4, scale=2)
    loaded = read_image(source)
    expected = write_image(
        tmp_path / f"expected{suffix}", restore(model, loaded.rgb, plan), source=loaded.info
    )
    steps = restore_to_file(model, source, tmp_path / f"restored{suffix}", plan)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            written = finished.value
            break
    bits = probe_image(written).bit_depth
    assert bits == probe_image(expected).bit_depth == (8 if suffix == ".jpg" else depth)
    np.testing.assert_array_equal(read_image(written).rgb, read_image(expected).rgb)
