"""Image folders for training: listing, checking, holding decoded images, matching pairs.

``list_images`` finds image files under a folder (recursive, hidden files skipped, sorted).
``ImageStore`` reads every header first; files that cannot be read, or are smaller than a training
patch, are *reported* (``SkippedFile``: path and reason) and skipped. When the decoded images fit
``ram_budget`` bytes (as uint8 HxWx3) they are decoded once and held in RAM; otherwise each is read
from disk when drawn. ``match_pairs`` pairs an input folder with a target folder by relative path
without suffix. ``split_train_val`` makes the fixed, seeded train/validation split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irstudio.core.image_io import READ_SUFFIXES, ImageError, probe_image, read_image, to_uint8

_VALIDATION_TAG = 2  # SeedSequence entropy tag of the split


def _reason(path: Path, error: Exception) -> str:
    """The error's message without a leading ``<path>: `` (``SkippedFile`` shows the path itself)."""
    text = str(error)
    for prefix in (f"{path}: ", f"{path.name}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class DatasetError(ValueError):
    """A folder does not hold usable training data; the message names the folder and why."""


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of training, with the reason (unreadable, too small, no partner, ...)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive, hidden files skipped), sorted by relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    found = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in READ_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def split_train_val(
    count: int, *, val_fraction: float, val_max: int, seed: int
) -> tuple[list[int], list[int]]:
    """Indices ``(train, val)`` of ``count`` items: a seeded, fixed choice of validation items.

    ``round(count * val_fraction)`` items (at least 1 when the fraction is positive and count >= 2,
    at most ``val_max``) go to validation; training always keeps at least one.
    """
    wanted = round(count * val_fraction)
    if val_fraction > 0 and count >= 2:
        wanted = max(wanted, 1)
    wanted = max(0, min(wanted, val_max, count - 1))
    order = np.random.default_rng([seed, _VALIDATION_TAG]).permutation(count)
    val = sorted(int(i) for i in order[:wanted])
    chosen = set(val)
    return [i for i in range(count) if i not in chosen], val


# --------------------------------------------------------------------------------------------------
# Decoded images


class ImageStore:
    """Images of a list of files as uint8 HxWx3, held in RAM when they fit ``ram_budget`` bytes.

    ``min_size`` (height, width): smaller images are skipped. Skipped files are in ``skipped``; the
    usable ones in ``paths`` (``image(i)`` / ``shape(i)`` index those).
    """

    def __init__(self, paths: Sequence[Path], *, ram_budget: int, min_size: tuple[int, int] = (1, 1)) -> None:
        usable: list[Path] = []
        shapes: list[tuple[int, int]] = []
        skipped: list[SkippedFile] = []
        for path in paths:
            try:
                info = probe_image(path)
            except ImageError as error:
                skipped.append(SkippedFile(Path(path), f"unreadable: {_reason(Path(path), error)}"))
                continue
            if info.height < min_size[0] or info.width < min_size[1]:
                reason = f"{info.width}x{info.height} is smaller than the {min_size[1]}x{min_size[0]} patch"
                skipped.append(SkippedFile(Path(path), reason))
                continue
            usable.append(Path(path))
            shapes.append((info.height, info.width))
        self.in_ram = sum(h * w * 3 for h, w in shapes) <= ram_budget
        self._pixels: list[np.ndarray] = []
        if self.in_ram:
            usable, shapes = self._decode_all(usable, shapes, skipped)
        self.paths: tuple[Path, ...] = tuple(usable)
        self._shapes = tuple(shapes)
        self.skipped: tuple[SkippedFile, ...] = tuple(skipped)

    def _decode_all(
        self, paths: list[Path], shapes: list[tuple[int, int]], skipped: list[SkippedFile]
    ) -> tuple[list[Path], list[tuple[int, int]]]:
        kept_paths, kept_shapes = [], []
        for path, shape in zip(paths, shapes, strict=True):
            try:
                pixels = to_uint8(read_image(path).rgb)
            except (ImageError, ValueError) as error:
                skipped.append(SkippedFile(path, f"unreadable: {_reason(path, error)}"))
                continue
            self._pixels.append(pixels)
            kept_paths.append(path)
            kept_shapes.append(shape)
        return kept_paths, kept_shapes

    def __len__(self) -> int:
        return len(self.paths)

    def shape(self, index: int) -> tuple[int, int]:
        """(height, width) of image ``index`` after EXIF orientation."""
        return self._shapes[index]

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 HxWx3 (from RAM, or decoded now). Raises ``ImageError`` when a
        file that probed fine cannot be decoded (only possible when not held in RAM)."""
        if self.in_ram:
            return self._pixels[index]
        return to_uint8(read_image(self.paths[index]).rgb)


def match_pairs(
    input_dir: str | Path, target_dir: str | Path
) -> tuple[list[tuple[Path, Path]], list[SkippedFile]]:
    """Input/target files with the same relative path less suffix; unmatched files are reported."""
    input_dir, target_dir = Path(input_dir), Path(target_dir)

    def keyed(folder: Path) -> dict[str, Path]:
        table: dict[str, Path] = {}
        for path in list_images(folder):
            table.setdefault(path.relative_to(folder).with_suffix("").as_posix(), path)
        return table

    inputs, targets = keyed(input_dir), keyed(target_dir)
    pairs = [(inputs[key], targets[key]) for key in sorted(inputs) if key in targets]
    skipped = [
        SkippedFile(inputs[k], f"no target named like it in {target_dir}")
        for k in sorted(inputs)
        if k not in targets
    ]
    skipped += [
        SkippedFile(targets[k], f"no input named like it in {input_dir}")
        for k in sorted(targets)
        if k not in inputs
    ]
    return pairs, skipped
