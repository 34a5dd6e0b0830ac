"""Tiled inference: run any image-to-image ``nn.Module`` over an image of any size, tile by tile.

``run_tiled(model, image, plan, cancel)`` is a generator: it checks the cancel token before each
tile, yields a ``TileProgress`` after each, and returns the restored image (``StopIteration.value``;
``restore`` drains it for callers that only want the result).

How a tile is run (see ``irstudio.core.tiling`` for the plan maths and performance.md §2 for the
measurements behind it):

- Real context, then crop: each tile reads at least ``plan.context`` pixels of the surrounding
  image (snapped outward to ``plan.multiple``), the model runs on that, and the margin is cropped
  away. Neighbouring tiles overlap only in a narrow band across their seam (``plan.blend`` wide,
  default context / 2), blended with raised-cosine ramps.
- Window grid: every read origin is a multiple of ``plan.multiple`` (the seams between cores sit
  where neighbouring reads overlap least, see ``core.tiling``), so a window model sees the same grid
  as in a whole-image run. Read regions that touch the bottom/right border are padded to a multiple
  by reflection, exactly as padding the whole image would be (replication instead when the image is
  shorter than the padding needs); nothing is padded inside the image.
- Output: one preallocated float32 array of ``(H * scale, W * scale, C)``. Each finished tile is
  folded in as a running weighted mean, ``out += w / (W_before + w) * (tile - out)``, where
  ``W_before`` is the weight already written there, recomputed from the finished neighbours'
  separable ramps over this tile's write region only. No full-size weight buffer exists, the result
  equals the partition-of-unity blend, and an identity model reproduces its input bit-exactly.
  The result is clipped to [0, 1] in place.
- Integer output (``out_dtype`` uint8 / uint16, what a file is written as): the same float32
  arithmetic runs on a strip of output rows only; once no pending tile writes above a row, the rows
  above it are quantized (``to_depth``, as ``write_image`` would) into the integer output and
  dropped from the strip. The result equals quantizing the float32 result, bit for bit.
- Memory: the input stays a numpy array (float32, or uint8 / uint16 converted per read region);
  only one read region at a time is copied to torch. Peak memory is input + output + O(tile):
  for an 8-bit photo restored to 8 bits, 6 bytes per input pixel (x1) plus the tile's working set
  and a float32 strip one tile row high.
- Out of memory (whatever ``irstudio.core.device.is_out_of_memory`` accepts: torch's
  ``OutOfMemoryError``, ``MemoryError``, a ``RuntimeError`` saying "out of memory" as MPS raises):
  the failing tile's larger core side is halved (on a multiple, not below ``plan.min_tile``) and the
  tiles not yet finished (the failing one included) are re-planned at that size; finished tiles are
  kept, none is skipped or run twice. At the floor, ``OutOfMemoryError`` is raised.
- Precision: ``"fp32"`` runs as is; ``"fp16"``/``"bf16"`` run under ``torch.autocast`` for the
  device (the model's own parameters are not cast); outputs come back as float32.
- Region preview (``region=``): only the tiles of the whole-image plan that write into the region
  run, in plan order, onto a canvas covering just their write regions; the crop returned is bit
  for bit the same as that region of a full run.
- Batching (``plan.batch`` > 1, for GPUs): up to ``batch`` consecutive tiles whose padded read
  regions have the same shape run as one forward; on out-of-memory the batch is halved before the
  tile is. Cancel is checked before each batch.
- Mode: every forward runs under ``torch.inference_mode()`` with the model in eval mode; the model
  is moved to ``plan.device`` (``nn.Module.to``, in place) and its train/eval mode is restored when
  the generator finishes or is closed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.core.device import is_out_of_memory, release_cached_memory
from irstudio.core.image_io import SAMPLE_MAX, sample_type, to_depth
from irstudio.core.memory import collect_garbage, release_free_heap
from irstudio.core.precision import PRECISION_NAMES, Precision
from irstudio.core.tiling import (
    Region,
    Tile,
    blend_weights,
    halved_tile,
    padded_extent,
    plan_tiles,
    renumber,
    round_up,
    subdivide,
)

__all__ = ["OutOfMemoryError", "TilePlan", "TileProgress", "restore", "run_tiled"]


class OutOfMemoryError(torch.OutOfMemoryError):
    """A tile at the smallest allowed size still ran out of memory."""


@dataclass(frozen=True)
class TilePlan:
    """How to run a model over an image.

    ``tile``: largest tile core side in input pixels; None = whole image (also used when the image
    fits in one tile). ``context``: pixels of real image read around each tile (input scale).
    ``multiple``: the model's size multiple (window size x internal downsampling): tile origins
    and sizes are aligned to it and border reads are padded (reflect) to it. ``scale``: output /
    input size. ``device``: torch device string. ``dtype``: a ``core.precision.Precision`` name,
    "fp32", "bf16" or "fp16" (autocast). ``min_tile``: out-of-memory halving stops here. ``blend``:
    width of the raised-cosine band across each seam, None = ``context // 2``, 0 = hard seams (pure
    crop). ``batch``: tiles of one read shape run per forward (1 = one at a time).
    """

    tile: int | None = None
    context: int = 16
    multiple: int = 1
    scale: int = 1
    device: str = "cpu"
    dtype: str = "fp32"
    min_tile: int = 32
    blend: int | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        if self.tile is not None and self.tile < 1:
            raise ValueError(f"tile must be >= 1 or None, got {self.tile}")
        if self.context < 0:
            raise ValueError(f"context must be >= 0, got {self.context}")
        if self.multiple < 1 or self.scale < 1 or self.min_tile < 1 or self.batch < 1:
            raise ValueError(
                "multiple, scale, min_tile and batch must be >= 1 "
                f"(got {self.multiple}, {self.scale}, {self.min_tile}, {self.batch})"
            )
        if self.dtype not in PRECISION_NAMES:
            raise ValueError(f"dtype must be one of {', '.join(PRECISION_NAMES)}, got {self.dtype!r}")
        if self.blend is not None and self.blend < 0:
            raise ValueError(f"blend must be >= 0 or None, got {self.blend}")


@dataclass(frozen=True)
class TileProgress:
    """Reported after each finished tile.

    ``index``: 0-based count of tiles finished before this one; ``total``: tiles in the current plan
    (it grows when an out-of-memory re-plan splits the remaining tiles; the last report has
    ``index + 1 == total``). ``region``: the finished tile's core in input pixels. ``tile``: the
    tile side in use.
    """

    index: int
    total: int
    region: Region
    tile: int


def _free_device_memory(device: torch.device) -> None:
    collect_garbage()
    release_cached_memory(str(device))


def _check_image(image: np.ndarray) -> None:
    accepted = isinstance(image, np.ndarray) and (image.dtype == np.float32 or image.dtype in SAMPLE_MAX)
    if not accepted or image.ndim != 3:
        raise ValueError(
            f"image must be a float32, uint8 or uint16 HxWxC numpy array, got "
            f"{getattr(image, 'dtype', type(image))} of shape {getattr(image, 'shape', None)}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")


def _output_depth(out_dtype: np.dtype | type) -> int | None:
    """None for float32 output, else the bit depth (8, 16) of the integer output type."""
    try:
        dtype = np.dtype(out_dtype)
    except TypeError:
        dtype = None
    if dtype == np.float32:
        return None
    if dtype not in SAMPLE_MAX:
        raise ValueError(f"out_dtype must be float32, uint8 or uint16, got {out_dtype!r}")
    return 8 * dtype.itemsize


def _axis_indices(start: int, stop: int, size: int, multiple: int) -> np.ndarray | slice:
    """Source indices for the read interval ``[start, stop)`` padded to a multiple at the border.

    A plain slice when no padding is needed; otherwise indices past the border reflect (without
    repeating the edge), or replicate the last pixel when the image is too short to reflect.
    """
    end = padded_extent(start, stop, size, multiple) if stop == size else stop
    if end == stop:
        return slice(start, stop)
    indices = np.arange(start, end)
    beyond = indices >= size
    pad = padded_extent(0, size, size, multiple) - size
    if pad <= size - 1:
        indices[beyond] = 2 * (size - 1) - indices[beyond]
    else:
        indices[beyond] = size - 1
    return indices


def _as_indices(axis: np.ndarray | slice) -> np.ndarray:
    return np.arange(axis.start, axis.stop) if isinstance(axis, slice) else axis


def _read_tensor(image: np.ndarray, read: Region, multiple: int) -> torch.Tensor:
    """The padded read region as a contiguous (1, C, h, w) float32 CPU tensor (one tile-sized copy);
    uint8 / uint16 samples divided by 255 / 65535 in float32, as ``read_image`` converts them."""
    height, width = image.shape[:2]
    rows = _axis_indices(read.y0, read.y1, height, multiple)
    cols = _axis_indices(read.x0, read.x1, width, multiple)
    if isinstance(rows, slice) and isinstance(cols, slice):
        patch = image[rows, cols]
    else:
        patch = image[np.ix_(_as_indices(rows), _as_indices(cols))]
    scale = SAMPLE_MAX.get(image.dtype)
    if scale is None:
        chw = np.ascontiguousarray(patch.transpose(2, 0, 1))
    else:
        chw = np.empty((patch.shape[2], *patch.shape[:2]), dtype=np.float32)
        np.divide(patch.transpose(2, 0, 1), scale, out=chw, dtype=np.float32)
    return torch.from_numpy(chw).unsqueeze(0)


def _forward_tiles(
    model: nn.Module, image: np.ndarray, tiles: list[Tile], plan: TilePlan
) -> list[np.ndarray]:
    """Run the model on the tiles' padded read regions (all of one shape) as one batch; return each
    tile's write region, (h, w, C) float32."""
    device = torch.device(plan.device)
    sources = [_read_tensor(image, tile.read, plan.multiple) for tile in tiles]
    source = sources[0] if len(sources) == 1 else torch.cat(sources)
    del sources
    expected = (source.shape[2] * plan.scale, source.shape[3] * plan.scale)
    with torch.inference_mode(), Precision(plan.dtype).autocast(device):
        result = model(source.to(device))
    if result.ndim != 4 or result.shape[0] != len(tiles) or tuple(result.shape[2:]) != expected:
        raise ValueError(
            f"model returned shape {tuple(result.shape)} for input {tuple(source.shape)}; "
            f"expected ({len(tiles)}, C, {expected[0]}, {expected[1]}) for scale {plan.scale}"
        )
    s = plan.scale
    crops = []
    for index, tile in enumerate(tiles):
        top, left = (tile.write.y0 - tile.read.y0) * s, (tile.write.x0 - tile.read.x0) * s
        crop = result[index, :, top : top + tile.write.height * s, left : left + tile.write.width * s]
        crops.append(crop.float().permute(1, 2, 0).cpu().numpy())
    return crops


def _read_shape(tile: Tile, height: int, width: int, multiple: int) -> tuple[int, int]:
    """The (h, w) the model sees for ``tile``: its read region after border padding."""
    rows = (
        padded_extent(tile.read.y0, tile.read.y1, height, multiple)
        if tile.read.y1 == height
        else tile.read.y1
    )
    cols = (
        padded_extent(tile.read.x0, tile.read.x1, width, multiple) if tile.read.x1 == width else tile.read.x1
    )
    return rows - tile.read.y0, cols - tile.read.x0


def _next_batch(pending: deque[Tile], batch: int, shape: tuple[int, int], multiple: int) -> list[Tile]:
    """The first pending tile and up to ``batch - 1`` following ones of the same read shape."""
    first = _read_shape(pending[0], *shape, multiple)
    group = [pending[0]]
    for tile in itertools.islice(pending, 1, None):
        if len(group) == batch or _read_shape(tile, *shape, multiple) != first:
            break
        group.append(tile)
    return group


class _Canvas:
    """The output over ``window`` (input pixels; the whole image for a full run) and the blend
    weights of the finished tiles (1-D factors only). Every added tile's write region lies inside
    ``window``.

    ``pixels`` holds float32 output rows from ``top`` (window output rows) down. With ``depth`` None
    it covers the whole window and is the result. With ``depth`` 8 or 16, ``settle`` quantizes the
    rows no pending tile writes to into ``final`` (uint8 / uint16, exactly as ``to_depth`` would
    quantize the float result) and drops them, so float32 exists only for a strip of open rows.
    """

    def __init__(self, window: Region, scale: int, depth: int | None = None) -> None:
        self.window, self.scale, self.depth = window, scale, depth
        self.pixels: np.ndarray | None = None
        self.final: np.ndarray | None = None
        self.top = 0
        self._boxes = np.zeros((0, 4), dtype=np.int64)
        self._weights: list[tuple[Region, np.ndarray, np.ndarray]] = []

    def _rows_for(self, bottom: int, channels: int) -> np.ndarray:
        """``pixels``, allocated or extended with zero rows so that it reaches output row ``bottom``."""
        width = self.window.width * self.scale
        if self.depth is None:
            bottom = self.window.height * self.scale  # float output: the whole window at once
        if self.pixels is None:
            self.pixels = np.zeros((bottom - self.top, width, channels), dtype=np.float32)
            if self.depth is not None:
                shape = (self.window.height * self.scale, width, channels)
                self.final = np.empty(shape, dtype=sample_type(self.depth))
        elif bottom > self.top + self.pixels.shape[0]:
            grown = np.zeros((bottom - self.top, width, channels), dtype=np.float32)
            grown[: self.pixels.shape[0]] = self.pixels
            self.pixels = grown
        return self.pixels

    def settle(self, open_from: int) -> None:
        """Quantize output rows above ``open_from`` (input pixels) into ``final`` and drop them from
        ``pixels``; no-op for float output. No tile added later may write above ``open_from``."""
        if self.depth is None or self.pixels is None:
            return
        stop = min((open_from - self.window.y0) * self.scale, self.top + self.pixels.shape[0])
        if stop <= self.top:
            return
        assert self.final is not None
        count = stop - self.top
        to_depth(self.pixels[:count], self.depth, out=self.final[self.top : stop])
        self.pixels = self.pixels[count:].copy() if count < self.pixels.shape[0] else None
        self.top = stop

    def result(self) -> np.ndarray:
        """The whole window's output: float32 clipped to [0, 1], or the quantized ``final``."""
        if self.depth is None:
            assert self.pixels is not None
            np.clip(self.pixels, 0.0, 1.0, out=self.pixels)
            return self.pixels
        self.settle(self.window.y1)
        assert self.final is not None and self.pixels is None
        return self.final

    def _weight_before(self, write: Region) -> np.ndarray:
        """Weight already written over ``write`` (output resolution), from the finished tiles."""
        s = self.scale
        total = np.zeros((write.height * s, write.width * s), dtype=np.float32)
        if not self._weights:
            return total
        b = self._boxes
        hits = np.nonzero(
            (b[:, 0] < write.y1) & (b[:, 2] > write.y0) & (b[:, 1] < write.x1) & (b[:, 3] > write.x0)
        )[0]
        for i in hits:
            region, wy, wx = self._weights[i]
            common = region.intersection(write)
            assert common is not None
            ry, rx = (common.y0 - region.y0) * s, (common.x0 - region.x0) * s
            ty, tx = (common.y0 - write.y0) * s, (common.x0 - write.x0) * s
            h, w = common.height * s, common.width * s
            total[ty : ty + h, tx : tx + w] += np.outer(wy[ry : ry + h], wx[rx : rx + w])
        return total

    def add(self, tile: Tile, values: np.ndarray) -> None:
        """Fold a tile's output over its write region into the running weighted mean."""
        w, origin = tile.write.scaled(self.scale), self.window.scaled(self.scale)
        top, bottom = w.y0 - origin.y0, w.y1 - origin.y0
        assert top >= self.top, f"tile {tile.index} writes to output rows already settled"
        pixels = self._rows_for(bottom, values.shape[2])
        wy, wx = blend_weights(tile, self.scale)
        weight = np.outer(wy, wx)
        share = weight / (self._weight_before(tile.write) + weight)
        view = pixels[top - self.top : bottom - self.top, w.x0 - origin.x0 : w.x1 - origin.x0]
        update = values - view
        update *= share[:, :, None]
        view += update
        self._weights.append((tile.write, wy, wx))
        box = np.array([[tile.write.y0, tile.write.x0, tile.write.y1, tile.write.x1]], dtype=np.int64)
        self._boxes = np.concatenate([self._boxes, box])


def _replan(
    pending: deque[Tile], done: int, size: int, shape: tuple[int, int], plan: TilePlan
) -> deque[Tile]:
    """Split every pending tile to cores of at most ``size``; indices continue after ``done``."""
    height, width = shape
    children: list[Tile] = []
    for parent in pending:
        children += subdivide(
            parent,
            height=height,
            width=width,
            tile=size,
            context=plan.context,
            multiple=plan.multiple,
            blend=plan.blend,
        )
    return deque(renumber(children, first=done))


@contextlib.contextmanager
def _eval_on(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Model in eval mode on ``device`` for the duration; its train/eval mode restored after."""
    was_training = model.training
    model.to(device)
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def run_tiled(
    model: nn.Module,
    image: np.ndarray,
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    region: Region | None = None,
    out_dtype: np.dtype | type = np.float32,
) -> Generator[TileProgress, None, np.ndarray]:
    """Restore ``image`` (HxWxC: float32 in [0, 1], or uint8 / uint16 read as value / 255 or
    / 65535 per tile) with ``model`` tile by tile.

    Yields a ``TileProgress`` after each tile; raises ``Cancelled`` (from ``cancel``) before a tile
    when cancelled; returns ``(H * scale, W * scale, C_out)``: float32 clipped to [0, 1], or with
    ``out_dtype`` uint8 / uint16 exactly ``to_depth`` of that float result, assembled through a
    float32 strip of the rows still open to blending (no full-size float32 array). The model
    maps (1, C, h, w) to (1, C_out, h * scale, w * scale) for h, w multiples of ``plan.multiple``.

    ``region`` (input pixels, clipped to the image; a preview of what is on screen): only the tiles
    of the whole-image plan whose write region meets it are run, in the same order, and the result
    is ``region.scaled(scale)`` of the output, bit for bit the same pixels as that crop of a full
    run (same reads, same blend arithmetic per pixel). Memory is bounded by the region plus one
    tile around it, not by the image. ``TileProgress.total`` counts the tiles of the region.
    """
    _check_image(image)
    depth = _output_depth(out_dtype)
    height, width = image.shape[:2]
    size = _initial_tile(height, width, plan)
    plan_args = {"tile": size, "context": plan.context, "multiple": plan.multiple, "blend": plan.blend}
    tiles = plan_tiles(height, width, **plan_args)
    window = Region(0, 0, height, width)
    if region is not None:
        region = _clip_region(region, height, width)
        tiles = [tile for tile in tiles if tile.write.intersection(region) is not None]
        window = _bounding_box([tile.write for tile in tiles])
    pending = deque(renumber(tiles))
    canvas = _Canvas(window, plan.scale, depth)
    device = torch.device(plan.device)
    done, batch = 0, plan.batch
    with _eval_on(model, device):
        while pending:
            cancel.raise_if_cancelled()
            group = _next_batch(pending, batch, (height, width), plan.multiple) if batch > 1 else [pending[0]]
            try:
                outputs = _forward_tiles(model, image, group, plan)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if len(group) > 1:
                    batch = len(group) // 2
                else:
                    size = _shrink_after_oom(size, group[0], plan, exc)
            else:
                for tile, values in zip(group, outputs, strict=True):
                    pending.popleft()
                    canvas.add(tile, values)
                    if depth is not None:
                        canvas.settle(min((t.write.y0 for t in pending), default=window.y1))
                    done += 1
                    yield TileProgress(index=done - 1, total=done + len(pending), region=tile.core, tile=size)
                del outputs, values
                release_free_heap()  # keep the resident size at one tile's working set
                continue
            _free_device_memory(device)
            if len(group) == 1:
                pending = _replan(pending, done, size, (height, width), plan)
    result = canvas.result()
    return result if region is None else _crop(result, region, window, plan.scale)


def _clip_region(region: Region, height: int, width: int) -> Region:
    """``region`` clipped to the image; ValueError when nothing of it is inside."""
    clipped = region.intersection(Region(0, 0, height, width))
    if clipped is None:
        raise ValueError(f"region {region} does not overlap the {height}x{width} image")
    return clipped


def _bounding_box(regions: list[Region]) -> Region:
    return Region(
        min(r.y0 for r in regions),
        min(r.x0 for r in regions),
        max(r.y1 for r in regions),
        max(r.x1 for r in regions),
    )


def _crop(pixels: np.ndarray, region: Region, window: Region, scale: int) -> np.ndarray:
    """A contiguous copy of ``region`` out of ``pixels``, which cover ``window`` at ``scale``
    (``region`` and ``window`` in input pixels)."""
    r, origin = region.scaled(scale), window.scaled(scale)
    return pixels[r.y0 - origin.y0 : r.y1 - origin.y0, r.x0 - origin.x0 : r.x1 - origin.x0].copy()


def _initial_tile(height: int, width: int, plan: TilePlan) -> int:
    """The tile side to plan with: the whole image (on a multiple) when ``plan.tile`` is None or the
    image fits in one tile, else ``plan.tile`` (``plan_tiles`` aligns it to the multiple)."""
    if plan.tile is None or (height <= plan.tile and width <= plan.tile):
        return round_up(max(height, width), plan.multiple)
    return max(plan.tile, plan.multiple)


def _shrink_after_oom(size: int, tile: Tile, plan: TilePlan, exc: Exception) -> int:
    """The tile side to re-plan with after ``tile`` ran out of memory at side ``size``."""
    current = min(size, max(tile.core.height, tile.core.width))
    smaller = halved_tile(current, multiple=plan.multiple, min_tile=plan.min_tile)
    if smaller is None:
        raise OutOfMemoryError(
            f"out of memory on {plan.device} even at the smallest tile ({current} px core, "
            f"{tile.read.height}x{tile.read.width} px read with context); free memory, choose a "
            f"smaller model or another device, or lower min_tile (now {plan.min_tile}). "
            f"Original error: {exc}"
        ) from exc
    return smaller


def restore(
    model: nn.Module,
    image: np.ndarray,
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
    on_progress: Callable[[TileProgress], None] | None = None,
    *,
    out_dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Run ``run_tiled`` to the end, passing each progress report to ``on_progress``; the result."""
    steps = run_tiled(model, image, plan, cancel, out_dtype=out_dtype)
    while True:
        try:
            progress = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_progress is not None:
            on_progress(progress)
