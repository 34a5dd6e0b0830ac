"""The tiled runner: exact identity, SR shapes, tiled == whole-image, cancel, progress, OOM, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from irstudio.core.cancel import Cancelled, CancelToken
from irstudio.core.tiling import Region, seam_offset, seam_overlap
from irstudio.inference.runner import OutOfMemoryError, TilePlan, TileProgress, restore, run_tiled

# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Single-threaded torch: these tiny convs gain nothing from threads, and on a busy 2-core machine
    intra-op threads made one test 70x slower (12 s instead of 0.17 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


class WideConvNet(nn.Module):
    """Random 3x3 convs with dilations 1, 2, 4 (receptive-field radius 28 px), output around 0.5.

    ``gain`` is fixed once (from an untiled run) so the output spreads over [0, 1] without clipping.
    """

    def __init__(self, channels: int = 12, dilations: tuple[int, ...] = (1, 2, 4) * 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for d in dilations:
            layers += [nn.Conv2d(previous, channels, 3, padding=d, dilation=d), nn.GELU()]
            previous = channels
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)
        self.gain = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + self.gain * self.tail(self.body(x))

    def calibrate(self, image: np.ndarray) -> WideConvNet:
        with torch.no_grad():
            raw = self.tail(self.body(torch.from_numpy(image.transpose(2, 0, 1).copy())[None]))
        self.gain = 0.15 / float(raw.std())
        return self


class WindowNet(nn.Module):
    """A toy window model: each pixel is mixed with the mean of its 8x8 window (grid from the origin).

    Pads to a multiple of the window internally (reflect), like window transformers do, so it runs on
    any size; its output depends on where the window grid starts.
    """

    def __init__(self, window: int = 8, channels: int = 8) -> None:
        super().__init__()
        self.window = window
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        p = self.window
        x = F.pad(x, (0, (-w) % p, 0, (-h) % p), mode="reflect")
        f = self.head(x)
        window_mean = F.interpolate(F.avg_pool2d(f, p), scale_factor=p, mode="nearest")
        f = f + 3.0 * torch.tanh(f - window_mean)
        return (0.5 + 0.2 * self.tail(f))[..., :h, :w]


class Recorder(nn.Module):
    """Wraps a model; records input shapes, training flag, inference mode; optionally demands a multiple."""

    def __init__(self, inner: nn.Module | None = None, multiple: int = 1) -> None:
        super().__init__()
        self.inner = inner if inner is not None else nn.Identity()
        self.multiple = multiple
        self.shapes: list[tuple[int, ...]] = []
        self.inputs: list[torch.Tensor] = []
        self.modes: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % self.multiple == 0 and x.shape[-1] % self.multiple == 0, x.shape
        self.shapes.append(tuple(x.shape))
        self.inputs.append(x.clone())
        self.modes.append((self.training, torch.is_inference_mode_enabled()))
        return self.inner(x)


class OomAbove(nn.Module):
    """Raises an out-of-memory error for inputs above ``max_pixels`` once ``armed_after`` calls passed.

    The test image encodes coordinates (channel 0 = y / 1024, channel 1 = x / 1024), so every
    successful call's read region is decoded from its input and recorded.
    """

    def __init__(
        self, inner: nn.Module, max_pixels: int, armed_after: int = 0, error: type = torch.OutOfMemoryError
    ):
        super().__init__()
        self.inner, self.max_pixels, self.armed_after, self.error = inner, max_pixels, armed_after, error
        self.calls = 0
        self.failures = 0
        self.regions: list[Region] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        h, w = x.shape[-2:]
        if self.calls > self.armed_after and h * w > self.max_pixels:
            self.failures += 1
            message = "CUDA out of memory. Tried to allocate 2.00 GiB"
            if self.error is RuntimeError:
                message = "MPS backend out of memory (MPS allocated: 8.00 GB)"
            raise self.error(message)
        y0, x0 = round(float(x[0, 0, 0, 0]) * 1024), round(float(x[0, 1, 0, 0]) * 1024)
        self.regions.append(Region(y0, x0, y0 + h, x0 + w))
        return self.inner(x)


class ShapeLogger(nn.Module):
    """Identity that records only input shapes (keeps no tensors alive)."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return x


def coordinate_image(height: int, width: int) -> np.ndarray:
    image = np.empty((height, width, 3), dtype=np.float32)
    image[..., 0] = (np.arange(height, dtype=np.float32) / 1024)[:, None]
    image[..., 1] = (np.arange(width, dtype=np.float32) / 1024)[None, :]
    image[..., 2] = random_image(height, width)[..., 2]
    return image


def drain(model: nn.Module, image: np.ndarray, plan: TilePlan) -> tuple[np.ndarray, list[TileProgress]]:
    reports: list[TileProgress] = []
    out = restore(model, image, plan, on_progress=reports.append)
    return out, reports


# ----------------------------------------------------------------------------- exactness and shapes


@pytest.mark.parametrize("multiple", [1, 8])
@pytest.mark.parametrize("tile", [None, 16, 24, 1000])
def test_identity_is_exact_tiled_and_whole(tile: int | None, multiple: int) -> None:
    image = random_image(37, 53)
    out = restore(Recorder(multiple=multiple), image, TilePlan(tile=tile, multiple=multiple))
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("shape", [(1, 1), (1, 29), (29, 1), (2, 3), (37, 53)])
@pytest.mark.parametrize("multiple", [1, 8])
def test_odd_sizes(shape: tuple[int, int], multiple: int) -> None:
    image = random_image(*shape)
    model = Recorder(multiple=multiple)
    out = restore(model, image, TilePlan(tile=8, context=8, multiple=multiple))
    np.testing.assert_array_equal(out, image)
    assert all(s[-2] % multiple == 0 and s[-1] % multiple == 0 for s in model.shapes)


def test_border_padding_reflects_or_replicates_like_the_whole_image() -> None:
    image = random_image(5, 6)
    model = Recorder(multiple=8)
    restore(model, image, TilePlan(multiple=8))
    (seen,) = model.inputs
    assert seen.shape == (1, 3, 8, 8)
    expected = np.pad(image, ((0, 3), (0, 2), (0, 0)), mode="reflect")  # pad 3 <= 5 - 1: reflect
    np.testing.assert_array_equal(seen[0].permute(1, 2, 0).numpy(), expected)

    tiny = random_image(1, 3)
    model = Recorder(multiple=8)
    restore(model, tiny, TilePlan(multiple=8))
    (seen,) = model.inputs
    expected = np.pad(tiny, ((0, 7), (0, 5), (0, 0)), mode="edge")  # too short to reflect: replicate
    np.testing.assert_array_equal(seen[0].permute(1, 2, 0).numpy(), expected)


def test_tiles_pad_only_at_the_border_and_never_see_the_whole_image() -> None:
    image = coordinate_image(70, 90)
    model = Recorder(multiple=8)
    restore(model, image, TilePlan(tile=32, context=16, multiple=8))
    assert len(model.inputs) == 9
    for x in model.inputs:
        y0 = round(float(x[0, 0, 0, 0]) * 1024)
        x0 = round(float(x[0, 1, 0, 0]) * 1024)
        h, w = x.shape[-2:]
        assert y0 % 8 == 0 and x0 % 8 == 0  # reads start on the window grid
        inside_h, inside_w = min(h, 70 - y0), min(w, 90 - x0)
        rows = np.round(x[0, 0, :inside_h, 0].numpy() * 1024)
        cols = np.round(x[0, 1, 0, :inside_w].numpy() * 1024)
        np.testing.assert_array_equal(rows, np.arange(y0, y0 + inside_h))  # real pixels, no padding inside
        np.testing.assert_array_equal(cols, np.arange(x0, x0 + inside_w))
        assert h * w < 70 * 90


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("tile", [None, 16])
def test_nearest_neighbour_sr(scale: int, tile: int | None) -> None:
    image = random_image(37, 53)
    model = nn.Upsample(scale_factor=scale, mode="nearest")
    out = restore(model, image, TilePlan(tile=tile, context=16, scale=scale))
    assert out.shape == (37 * scale, 53 * scale, 3)
    np.testing.assert_array_equal(out, image.repeat(scale, axis=0).repeat(scale, axis=1))


def test_wrong_scale_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="scale 2"):
        restore(nn.Identity(), random_image(20, 20), TilePlan(scale=2))


def test_output_is_clipped_to_unit_range() -> None:
    class Amplify(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 3.0 * x - 1.0

    image = random_image(30, 40)
    out = restore(Amplify(), image, TilePlan(tile=16))
    np.testing.assert_allclose(out, np.clip(3.0 * image - 1.0, 0.0, 1.0), atol=1e-6)


# ----------------------------------------------------------------------------- tiled vs whole image


@pytest.fixture(scope="module")
def wide_net_case() -> tuple[WideConvNet, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    image = random_image(96, 128, seed=1)
    net = WideConvNet().calibrate(image)
    whole = restore(net, image, TilePlan())
    assert ((whole <= 0) | (whole >= 1)).mean() < 1e-3  # PSNR is not flattered by clipping
    return net, image, whole


def test_wide_receptive_field_tiled_matches_whole_at_default_context(wide_net_case) -> None:
    net, image, whole = wide_net_case
    tiled, reports = drain(net, image, TilePlan(tile=32))
    assert len(reports) == 3 * 4
    assert psnr(tiled, whole) >= 50.0
    assert np.abs(tiled - whole).max() <= 2 / 255


def test_context_is_what_makes_tiles_match(wide_net_case) -> None:
    net, image, whole = wide_net_case
    without = restore(net, image, TilePlan(tile=32, context=0))
    with_context = restore(net, image, TilePlan(tile=32, context=16))
    assert psnr(without, whole) < 50.0
    assert np.abs(without - whole).max() > 10 * np.abs(with_context - whole).max()


def test_wide_net_with_multiple_8_matches_whole(wide_net_case) -> None:
    net, image, whole = wide_net_case
    tiled = restore(net, image, TilePlan(tile=40, multiple=8))
    assert psnr(tiled, whole) >= 50.0


def test_window_grid_alignment_matters() -> None:
    torch.manual_seed(0)
    net = WindowNet()
    image = random_image(100, 130, seed=2)
    aligned_whole = restore(net, image, TilePlan(multiple=8))
    aligned_tiled = restore(net, image, TilePlan(tile=48, multiple=8))
    assert psnr(aligned_tiled, aligned_whole) >= 50.0
    # multiple=1 lets tiles start off the 8-px grid (cores 33+33+34 x 43+43+44: reads at 17, 27, ...)
    loose_whole = restore(net, image, TilePlan(multiple=1))
    loose_tiled = restore(net, image, TilePlan(tile=44, multiple=1))
    assert psnr(loose_tiled, loose_whole) < 45.0


def test_mid_cell_seams_keep_the_window_grid() -> None:
    """A window much larger than the context (AST: 128 vs 32): seams sit mid-cell, so neighbouring
    reads overlap by one cell, yet every read starts on the grid and tiles still match the whole."""
    torch.manual_seed(0)
    net = WindowNet(window=32)
    image = random_image(100, 130, seed=2)
    whole = restore(net, image, TilePlan(multiple=32))
    tiled = restore(net, image, TilePlan(tile=64, context=8, multiple=32))
    assert psnr(tiled, whole) >= 50.0
    assert seam_offset(8, 32) == 16 and seam_overlap(8, 32) == 32


def test_bf16_autocast_runs_and_returns_float32(wide_net_case) -> None:
    net, image, whole = wide_net_case
    out = restore(net, image[:48, :64], TilePlan(tile=32, dtype="bf16"))
    assert out.dtype == np.float32
    assert psnr(out, whole[:48, :64]) > 25.0  # loose: only checks the path; edges differ (crop)
    assert next(net.parameters()).dtype == torch.float32  # the model itself is not cast


# ----------------------------------------------------------------------------- generator contract


def test_progress_counts_up_to_total_and_cores_partition_the_image() -> None:
    image = random_image(70, 90)
    _, reports = drain(nn.Identity(), image, TilePlan(tile=32))
    assert [r.index for r in reports] == list(range(len(reports)))
    assert all(r.total == len(reports) == 9 for r in reports)
    cover = np.zeros((70, 90), dtype=int)
    for r in reports:
        cover[r.region.y0 : r.region.y1, r.region.x0 : r.region.x1] += 1
        assert r.tile == 32
    assert (cover == 1).all()


def test_generator_returns_the_image() -> None:
    image = random_image(20, 30)
    steps = run_tiled(nn.Identity(), image, TilePlan(tile=16))
    reports = []
    with pytest.raises(StopIteration) as stop:
        while True:
            reports.append(next(steps))
    np.testing.assert_array_equal(stop.value.value, image)
    assert len(reports) == 4


@pytest.mark.parametrize("k", [0, 1, 3])
def test_cancel_after_k_tiles(k: int) -> None:
    token = CancelToken()
    model = Recorder()
    if k == 0:
        token.cancel()

    def on_progress(report: TileProgress) -> None:
        if report.index + 1 == k:
            token.cancel()

    with pytest.raises(Cancelled):
        restore(model, random_image(70, 90), TilePlan(tile=32), token, on_progress)
    assert len(model.shapes) == k


@pytest.mark.parametrize("tile", [None, 53, 64])
@pytest.mark.parametrize("multiple", [1, 8])
def test_whole_image_mode_runs_once(tile: int | None, multiple: int) -> None:
    image = random_image(37, 53)
    model = Recorder(multiple=multiple)
    _, reports = drain(model, image, TilePlan(tile=tile, multiple=multiple))
    padded = (-(-37 // multiple) * multiple, -(-53 // multiple) * multiple)
    assert model.shapes == [(1, 3, *padded)]
    assert len(reports) == 1 and reports[0].region == Region(0, 0, 37, 53)


def test_eval_mode_inference_mode_and_state_restored() -> None:
    model = Recorder()
    model.train()
    grad_before = torch.is_grad_enabled()
    steps = run_tiled(model, random_image(40, 40), TilePlan(tile=16))
    next(steps)
    assert torch.is_grad_enabled() == grad_before  # no mode leaks out between tiles
    assert not torch.is_inference_mode_enabled()
    for _ in steps:
        pass
    assert model.modes and all(mode == (False, True) for mode in model.modes)
    assert model.training  # restored


def test_rejects_bad_input_and_plans() -> None:
    with pytest.raises(ValueError, match="float32"):
        restore(nn.Identity(), np.zeros((4, 4, 3), dtype=np.float64), TilePlan())
    with pytest.raises(ValueError, match="float32"):
        restore(nn.Identity(), np.zeros((4, 4), dtype=np.float32), TilePlan())
    for bad in ({"tile": 0}, {"context": -1}, {"multiple": 0}, {"scale": 0}, {"dtype": "fp8"}, {"blend": -2}):
        with pytest.raises(ValueError):
            TilePlan(**bad)


# ----------------------------------------------------------------------------- out of memory


@pytest.mark.parametrize("armed_after", [0, 2])
@pytest.mark.parametrize("error", [torch.OutOfMemoryError, RuntimeError])
def test_oom_halves_the_tile_and_finishes_without_redoing_or_skipping(armed_after: int, error: type) -> None:
    torch.manual_seed(0)
    height, width = 150, 230
    image = coordinate_image(height, width)
    inner = WideConvNet(channels=6, dilations=(1, 2, 4, 1)).calibrate(image)
    reference = restore(inner, image, TilePlan(tile=128))
    model = OomAbove(inner, max_pixels=(64 + 32) ** 2, armed_after=armed_after, error=error)

    out, reports = drain(model, image, TilePlan(tile=128, context=16, min_tile=32))

    assert model.failures == 1  # one OOM, then the whole remaining plan is at the smaller size
    assert len(model.regions) == len(reports) == reports[-1].total  # every success is one finished tile
    assert len(set(model.regions)) == len(model.regions)  # no region processed twice
    assert all(r.area <= model.max_pixels for r in model.regions[armed_after:])
    # the failing core (75x115) is halved: 115 -> 58, so 2x2 children per remaining tile
    assert [r.tile for r in reports] == [128] * armed_after + [58] * (len(reports) - armed_after)
    assert len(reports) == armed_after + 4 * (4 - armed_after)
    cover = np.zeros((height, width), dtype=int)
    for r in reports:
        cover[r.region.y0 : r.region.y1, r.region.x0 : r.region.x1] += 1
    assert (cover == 1).all()  # none skipped, none twice
    assert psnr(out, reference) >= 50.0


def test_oom_identity_is_still_exact() -> None:
    image = coordinate_image(150, 230)
    model = OomAbove(nn.Identity(), max_pixels=40 * 40, armed_after=1)
    out, reports = drain(model, image, TilePlan(tile=128, context=8, min_tile=8))
    assert model.failures == 2  # 115 px cores -> 58 still too big with context, -> 29 fits
    assert reports[0].tile == 128 and reports[-1].tile == 29
    np.testing.assert_array_equal(out, image)


def test_oom_in_whole_image_mode_falls_back_to_tiles() -> None:
    image = coordinate_image(100, 120)
    model = OomAbove(nn.Identity(), max_pixels=90 * 90)
    out, reports = drain(model, image, TilePlan())
    assert model.failures == 1 and len(reports) > 1
    np.testing.assert_array_equal(out, image)


def test_oom_at_the_minimum_tile_is_a_clear_error() -> None:
    model = OomAbove(nn.Identity(), max_pixels=0)
    with pytest.raises(OutOfMemoryError, match="smallest tile") as caught:
        restore(model, coordinate_image(100, 100), TilePlan(tile=64, min_tile=32))
    assert isinstance(caught.value, torch.OutOfMemoryError)
    assert model.failures == 2  # 64, then 32, then give up


def test_other_runtime_errors_propagate() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        restore(Broken(), random_image(40, 40), TilePlan(tile=16))


# ----------------------------------------------------------------------------- memory


def test_peak_memory_is_bounded_by_the_tile_not_the_image() -> None:
    """6000x4000 identity at 512 px tiles: numpy allocations stay at the output plus O(tile)."""
    image = np.empty((4000, 6000, 3), dtype=np.float32)
    image[...] = np.linspace(0.0, 1.0, 6000, dtype=np.float32)[None, :, None]
    model = ShapeLogger()
    tracemalloc.start()
    try:
        out = restore(model, image, TilePlan(tile=512))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out[::97, ::89], image[::97, ::89])
    assert peak < image.nbytes + 64 * 2**20  # the output (1 image) + tile buffers; never 2 images
    assert max(s[-2] * s[-1] for s in model.shapes) <= (512 + 32) ** 2  # torch never gets the whole image
