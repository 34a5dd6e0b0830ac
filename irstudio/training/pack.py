"""Training packs: a compact, pre-cropped subset of image folders for runs on a borrowed machine.

A remote GPU session carries the repository plus at most 64 MiB, so a run cannot read
``../shared/data/train`` there; it trains on a pack instead. ``make_pack`` takes the image folders
in turn (round robin, each folder's files in sorted order), cuts ``crops_per_image`` seeded random
``crop`` x ``crop`` squares out of each image (the whole image when it is smaller), and writes them as
8-bit PNG files ``00000.png``, ``00001.png``, ... into a new folder until the next file would pass
``budget_bytes``. ``pack.json`` beside them records the sources, the settings and, per file, the
source image and crop box, so a pack can be traced back and rebuilt exactly (same inputs and seed,
same pack).

Long work is a generator: it yields a ``PackProgress`` after each file and returns the
``PackSummary``. A ``CancelToken`` stops it between files; the folder then holds a valid, smaller
pack (its ``pack.json`` is written in any case). Unreadable images are skipped and listed.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np

from irstudio.core.atomic import atomic_write
from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.core.image_io import ImageError, read_image, write_image
from irstudio.data.images import list_images

PACK_INDEX = "pack.json"


@dataclass(frozen=True)
class PackProgress:
    """After each written file: files and bytes so far, of the byte budget."""

    files: int
    bytes: int
    budget_bytes: int


@dataclass(frozen=True)
class PackSummary:
    """What a finished (or cancelled) pack holds."""

    folder: Path
    files: int
    bytes: int
    full: bool
    skipped: tuple[str, ...] = field(default=())


def _interleaved(sources: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(source folder, image) pairs, taking the folders in turn so each one is represented."""
    listings = [[(folder, image) for image in list_images(folder)] for folder in sources]
    return [pair for group in zip_longest(*listings) for pair in group if pair is not None]


def _crop_boxes(
    height: int, width: int, crop: int, count: int, rng: np.random.Generator
) -> list[tuple[int, int, int, int]]:
    """``count`` random (y0, x0, y1, x1) squares of side ``crop`` (clipped to the image)."""
    side_y, side_x = min(crop, height), min(crop, width)
    boxes = []
    for _ in range(count):
        y0 = int(rng.integers(0, height - side_y + 1))
        x0 = int(rng.integers(0, width - side_x + 1))
        boxes.append((y0, x0, y0 + side_y, x0 + side_x))
    return boxes


def _refuse_nonempty(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder; choose a new folder")


def make_pack(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    budget_bytes: int,
    crop: int = 256,
    crops_per_image: int = 1,
    seed: int = 0,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Generator[PackProgress, None, PackSummary]:
    """Write a pack into the new folder ``out``: PNG files of at most ``budget_bytes`` together, plus
    ``pack.json`` (a few KiB).

    Raises ``FileExistsError`` when ``out`` exists and is not empty (nothing is overwritten),
    ``DatasetError`` when a source is not a folder, ``ValueError`` on a bad budget/crop/count.
    """
    if budget_bytes < 1 or crop < 8 or crops_per_image < 1:
        raise ValueError(
            "need budget >= 1 byte, crop >= 8, crops per image >= 1 "
            f"(got {budget_bytes}, {crop}, {crops_per_image})"
        )
    folders = [Path(s) for s in sources]
    out = Path(out)
    _refuse_nonempty(out)
    pairs = _interleaved(folders)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries: list[dict[str, object]] = []
    skipped: list[str] = []
    used, full = 0, False
    for folder, image_path in pairs:
        if full or cancel.cancelled:
            break
        try:
            pixels = read_image(image_path).rgb
        except ImageError as exc:
            skipped.append(f"{image_path}: {exc}")
            continue
        height, width = pixels.shape[:2]
        for box in _crop_boxes(height, width, crop, crops_per_image, rng):
            y0, x0, y1, x1 = box
            target = out / f"{len(entries):05d}.png"
            write_image(target, pixels[y0:y1, x0:x1])
            size = target.stat().st_size
            if used + size > budget_bytes:
                target.unlink()
                full = True
                break
            used += size
            source = image_path.relative_to(folder).as_posix()
            entries.append({"file": target.name, "folder": folder.name, "source": source, "box": list(box)})
            yield PackProgress(len(entries), used, budget_bytes)
    index = {
        "sources": [str(f) for f in folders],
        "crop": crop,
        "crops_per_image": crops_per_image,
        "seed": seed,
        "files": entries,
        "skipped": skipped,
    }
    with atomic_write(out / PACK_INDEX, overwrite=False) as temporary:
        temporary.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return PackSummary(out, len(entries), used, full, tuple(skipped))
