"""Restore a folder of photos: a mirrored output tree, skip what exists, collect errors, resumable.

``plan_batch(input_dir, output_dir, model_id)`` lists the images (suffixes of
``core.image_io.READ_SUFFIXES``, hidden files and folders skipped, sorted) and gives each one its output
``output_dir/<relative folder>/<stem>_<model>.png``, named by ``naming.output_names`` so that no two
sources share an output (``a.jpg`` and ``a.png`` give ``a-jpg_<model>.png`` and ``a-png_<model>.png``;
a further ``a-png.png`` gets ``a-png-2_<model>.png``). An output folder inside the input folder is
left out of the listing; the input folder itself is refused as output.

``run_batch(model, items, plan, cancel, journal=...)`` is a generator. For each item it yields a
``BatchEvent`` (``STARTED``, one ``PROGRESS`` per tile, then ``WRITTEN``, ``SKIPPED`` or ``FAILED``)
whose ``overall`` is the batch's progress in [0, 1] (finished files plus the fraction of tiles of the
current one, over the total), and it returns a ``BatchReport``.

Contracts:

- Never overwrites: an item whose output exists is skipped (``SKIPPED``), checked when its turn comes.
- Outputs are written atomically (``write_image``: hidden temporary file, then published), as PNG with
  the source's EXIF/ICC, 16 bits for 16-bit sources, alpha carried (resized for SR). A file is either
  complete or absent; a leftover temporary of a killed write of the same output is removed before
  that output is made again, never one another process is still writing (``core.atomic``).
- Memory (``restore_to_file``, also what ``irstudio restore`` runs per file): 8/16-bit samples stay
  integers and the runner assembles the output in the written bit depth, so a photo costs its
  file's sample size in and out (an 8-bit 24 MP photo: 72 MB each way instead of 288 MB of
  float32 each), plus the tile's working set.
- Per-file errors (``PER_FILE_ERRORS``: unreadable or too large images, write failures, invalid
  arrays, out of memory at the smallest tile) are collected in the report and the batch goes on. Any
  other exception (a bug, a lost device) and ``Cancelled`` stop the batch and propagate.
- Journal (optional): ``<output_dir>/.irstudio-batch.jsonl``, one JSON line per written or failed file
  (``{"source", "target", "model", "status", "message", "time"}``, paths relative to the journal's
  folder, POSIX separators, non-ASCII escaped), appended and flushed to disk right after the file
  finished. A rerun on the same folders skips the outputs already written from the same source
  (reported as done earlier) and retries the failed ones; unreadable journal lines (a crash
  mid-line) are ignored. A journal that cannot be written is refused before the first file
  (``BatchError``); one that fails mid-batch (disk full) stops being updated and the report says so.
- A sub-folder that cannot be listed is a failed item of the report (never skipped silently); a
  sub-folder holding a batch journal is an earlier batch's output and is not restored again.

No Qt; runs on any thread (the GUI runs it through ``TaskRunner``).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch
from torch import nn

from irstudio.core.cancel import NEVER_CANCELLED, CancelToken
from irstudio.core.image_io import (
    READ_SUFFIXES,
    ImageError,
    OutputExistsError,
    output_bit_depth,
    read_image,
    resize_alpha,
    sample_type,
    write_image,
)
from irstudio.inference.naming import output_names
from irstudio.inference.runner import TilePlan, TileProgress, run_tiled

__all__ = [
    "JOURNAL_NAME",
    "PER_FILE_ERRORS",
    "BatchError",
    "BatchEvent",
    "BatchEventKind",
    "BatchItem",
    "BatchLedger",
    "BatchReport",
    "BatchRequest",
    "FileFailure",
    "ItemOutcome",
    "default_output_dir",
    "describe_file_error",
    "journal_path",
    "plan_batch",
    "read_journal",
    "restore_item",
    "restore_to_file",
    "run_batch",
    "run_batch_request",
]

JOURNAL_NAME = ".irstudio-batch.jsonl"

PER_FILE_ERRORS: tuple[type[BaseException], ...] = (
    ImageError,
    OSError,
    ValueError,
    MemoryError,
    torch.OutOfMemoryError,
)
"""Errors that fail one file and let the batch go on (everything else stops the batch)."""


class BatchError(ValueError):
    """The batch cannot be planned (missing input folder, output folder equal to the input)."""


@dataclass(frozen=True)
class BatchRequest:
    """What the batch dialog asks for: restore ``input_dir`` (with subfolders if ``recursive``) into
    the mirrored tree ``output_dir`` with the model ``model_id``; on this computer, or with
    ``cluster`` (a Ray address, ``inference.cluster``) on that cluster's workers."""

    input_dir: Path
    output_dir: Path
    model_id: str
    recursive: bool = True
    cluster: str = ""  # "" runs here; else auto, local, ray://HOST:PORT or HOST:PORT


@dataclass(frozen=True)
class BatchItem:
    """One file to restore: ``source`` (absolute), ``target`` (its output), ``relative`` (the source's
    path relative to the input folder, POSIX form, e.g. ``"trip/day1/a.jpg"``), ``model`` (the model
    id in the output name). An item with a ``problem`` is a sub-folder that could not be listed
    (``source`` is the folder): it is reported as failed with that reason, nothing is written."""

    source: Path
    target: Path
    relative: str
    model: str
    problem: str = ""  # set for a folder that could not be listed: the item fails with this reason


class BatchEventKind(str, enum.Enum):
    """What a ``BatchEvent`` reports; each file gives STARTED, PROGRESS..., then one outcome, or only
    SKIPPED."""

    STARTED = "started"  # the file is being read
    PROGRESS = "progress"  # a tile of the file finished
    WRITTEN = "written"  # the output was written
    SKIPPED = "skipped"  # the output existed; ``message`` says why
    FAILED = "failed"  # the file failed; ``message`` says why (without the file's path)


@dataclass(frozen=True)
class BatchEvent:
    """Progress of a batch. ``index``: 0-based position of ``item`` in the batch; ``total``: items in
    the batch; ``finished``: items finished before this one (this one included for WRITTEN, SKIPPED,
    FAILED); ``tile``/``tiles``: tiles done and planned in the current file (0/0 outside PROGRESS)."""

    kind: BatchEventKind
    item: BatchItem
    index: int
    total: int
    finished: int
    tile: int = 0
    tiles: int = 0
    message: str = ""

    @property
    def overall(self) -> float:
        """The batch's progress in [0, 1]: finished files plus the current file's tile fraction."""
        if self.total == 0:
            return 1.0
        partial = self.tile / self.tiles if self.kind is BatchEventKind.PROGRESS and self.tiles else 0.0
        return min(1.0, (self.finished + partial) / self.total)


@dataclass(frozen=True)
class FileFailure:
    """A file that failed: ``source`` (absolute), ``relative`` (to the input folder), ``reason``
    (user-facing, without the path); ``message`` is ``"<source>: <reason>"``."""

    source: Path
    relative: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class BatchReport:
    """What a batch did: outputs ``written``, outputs ``skipped`` because they existed (``earlier``:
    the subset the journal records as written by an earlier run), and the ``failed`` sources."""

    written: tuple[Path, ...] = ()
    skipped: tuple[Path, ...] = ()
    failed: tuple[FileFailure, ...] = ()
    earlier: tuple[Path, ...] = ()
    journal_problem: str = ""  # why the journal stopped being updated mid-batch (disk full, ...)

    @property
    def total(self) -> int:
        return len(self.written) + len(self.skipped) + len(self.failed)

    def summary(self) -> str:
        """One line, e.g. ``4 written, 1 skipped (1 done earlier), 1 failed``."""
        skipped = f"{len(self.skipped)} skipped"
        if self.earlier:
            skipped += f" ({len(self.earlier)} done earlier)"
        line = f"{len(self.written)} written, {skipped}, {len(self.failed)} failed"
        if self.journal_problem:
            line += (
                f"; the journal could not be updated ({self.journal_problem}): a rerun redoes nothing lost"
            )
        return line


# --------------------------------------------------------------------------------------------------
# Planning


def default_output_dir(input_dir: str | os.PathLike[str], model_id: str) -> Path:
    """``<input_dir>_<model>`` beside the input folder (the CLI's default when --out is not given);
    for a folder without a name (the file system's root) ``<root>/restored_<model>`` inside it."""
    folder = Path(input_dir).resolve()
    if not folder.name:
        return folder / f"restored_{model_id}"
    return folder.with_name(f"{folder.name}_{model_id}")


def journal_path(output_dir: str | os.PathLike[str]) -> Path:
    """Where a batch into ``output_dir`` keeps its journal."""
    return Path(output_dir) / JOURNAL_NAME


def plan_batch(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    model_id: str,
    *,
    recursive: bool = True,
) -> list[BatchItem]:
    """The images under ``input_dir`` (sorted by relative path) and their mirrored outputs.

    Raises ``BatchError`` when ``input_dir`` is not a folder or ``output_dir`` is the same folder.
    An empty list when there is no image.
    """
    source_root = Path(input_dir).resolve()
    target_root = Path(output_dir).resolve()
    if not source_root.is_dir():
        raise BatchError(f"{input_dir}: no such folder")
    if target_root == source_root:
        raise BatchError(
            f"{output_dir}: the output folder must differ from the input folder "
            "(outputs would be mixed with the photos)"
        )
    unlisted: list[OSError] = []
    sources = sorted(_images_under(source_root, target_root, recursive=recursive, errors=unlisted.append))
    items = _with_targets(sources, source_root, target_root, model_id)
    return items + [_unlisted_item(error, source_root, target_root, model_id) for error in unlisted]


def _images_under(
    root: Path, excluded: Path, *, recursive: bool, errors: Callable[[OSError], None]
) -> Iterator[Path]:
    """Image files under ``root`` (not hidden, not under ``excluded``, not in the output folder of an
    earlier batch: one holding a batch journal), symlinked folders not followed. A folder that
    cannot be listed is passed to ``errors``."""
    for folder, subfolders, files in os.walk(root, onerror=errors):
        here = Path(folder)
        subfolders[:] = [
            name
            for name in subfolders
            if recursive
            and not name.startswith(".")
            and here / name != excluded
            and not _is_output(here / name)
        ]
        for name in files:
            path = here / name
            if not name.startswith(".") and path.suffix.lower() in READ_SUFFIXES and path.is_file():
                yield path


def _is_output(folder: Path) -> bool:
    """Whether ``folder`` is the output folder of an earlier batch (it holds a batch journal)."""
    try:
        return (folder / JOURNAL_NAME).is_file()
    except OSError:
        return False


def _unlisted_item(error: OSError, source_root: Path, target_root: Path, model_id: str) -> BatchItem:
    folder = Path(error.filename) if error.filename else source_root
    relative = folder.relative_to(source_root) if folder.is_relative_to(source_root) else Path(folder.name)
    reason = f"cannot list the folder ({error.strerror or error})"
    return BatchItem(folder, target_root / relative, relative.as_posix() + "/", model_id, problem=reason)


def _with_targets(
    sources: Sequence[Path], source_root: Path, target_root: Path, model_id: str
) -> list[BatchItem]:
    """Items in the order of ``sources``; the outputs of one folder named by ``naming.output_names``."""
    by_folder: dict[Path, list[Path]] = {}
    for source in sources:
        by_folder.setdefault(source.parent, []).append(source)
    targets: dict[Path, Path] = {}
    for folder, group in by_folder.items():
        out_folder = target_root / folder.relative_to(source_root)
        for source, name in zip(group, output_names(group, model_id), strict=True):
            targets[source] = out_folder / name
    return [
        BatchItem(source, targets[source], source.relative_to(source_root).as_posix(), model_id)
        for source in sources
    ]


# --------------------------------------------------------------------------------------------------
# Journal


def read_journal(path: str | os.PathLike[str]) -> dict[Path, dict[str, object]]:
    """The last entry per output (absolute path) in a journal; {} when it does not exist.

    Lines that are not JSON objects with a ``target`` (e.g. cut short by a crash) are ignored.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    entries: dict[Path, dict[str, object]] = {}
    with path.open("r", encoding="utf-8", errors="replace") as fp:
        for line in fp:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and isinstance(entry.get("target"), str):
                    entries[(path.parent / entry["target"]).resolve()] = entry
    return entries


def _relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` in POSIX form, or absolute when it is elsewhere."""
    try:
        return PurePosixPath(Path(os.path.relpath(path, folder))).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _append_journal(path: Path, item: BatchItem, status: str, message: str = "") -> None:
    """Append one line and flush it to disk; a previous line cut short by a crash is terminated first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "source": item.relative,
        "target": _relative_to(item.target, path.parent),
        "model": item.model,
        "status": status,
        "message": message,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with path.open("ab") as fp:
        if fp.tell() > 0 and not _ends_with_newline(path):
            fp.write(b"\n")
        # ASCII escapes keep any file name (non-UTF-8 names included) valid JSON and readable back.
        fp.write(json.dumps(entry, ensure_ascii=True).encode("ascii") + b"\n")
        fp.flush()
        os.fsync(fp.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fp:
        fp.seek(-1, os.SEEK_END)
        return fp.read(1) == b"\n"


# --------------------------------------------------------------------------------------------------
# Running


def restore_to_file(
    model: nn.Module,
    source: Path,
    target: Path,
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    overwrite: bool = False,
) -> Generator[TileProgress, None, Path]:
    """Read ``source``, restore it tile by tile (yields each ``TileProgress``), write ``target``
    atomically (its folder made if missing); returns the path.

    Memory: 8/16-bit samples stay uint8/uint16 (``read_image(native=True)``) and the runner
    assembles the output in the bit depth ``write_image`` gives ``target`` (the same file as from
    float32 output, without a full-size float32 array); the input is released before the output is
    encoded. An unwritable suffix fails before the photo is decoded. Raises what ``read_image``,
    ``run_tiled`` and ``write_image`` raise; ``Cancelled`` also after the last tile, before writing.
    """
    output_bit_depth(target)
    loaded = read_image(source, native=True)
    info, alpha = loaded.info, loaded.alpha
    samples = sample_type(output_bit_depth(target, info))
    steps = run_tiled(model, loaded.rgb, plan, cancel, out_dtype=samples)
    del loaded  # from here only the runner holds the input
    with contextlib.closing(steps):
        output = yield from steps
    del steps  # a finished generator drops its frame, and the input with it
    if alpha is not None and alpha.shape != output.shape[:2]:
        alpha = resize_alpha(alpha, output.shape[0], output.shape[1])
    cancel.raise_if_cancelled()
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_image(target, output, alpha=alpha, source=info, overwrite=overwrite)


def describe_file_error(error: BaseException, source: Path) -> str:
    """Why restoring ``source`` failed (one of ``PER_FILE_ERRORS``), user-facing and without the
    file's path (``ImageError`` messages start with it)."""
    if isinstance(error, ImageError):
        return str(error).removeprefix(f"{source}: ").removeprefix(f"{error.path}: ")
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return f"out of memory ({error or 'no detail'}); try a smaller tile or another device"
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class ItemOutcome:
    """How one restored item ended: ``kind`` is WRITTEN, SKIPPED (``message``: why) or FAILED
    (``message``: the reason, without the file's path)."""

    kind: BatchEventKind
    message: str = ""


def restore_item(
    model: nn.Module, item: BatchItem, plan: TilePlan, cancel: CancelToken = NEVER_CANCELLED
) -> Generator[tuple[int, int], None, ItemOutcome]:
    """Restore ``item`` with ``restore_to_file`` (never overwriting); yields ``(tiles done, tiles
    planned)``, returns its ``ItemOutcome``: WRITTEN; SKIPPED ("output exists") when the output
    appeared while it was restored; FAILED for ``PER_FILE_ERRORS``. It does not check beforehand
    whether the output exists (``BatchLedger.precheck`` does). Any other exception and
    ``Cancelled`` propagate. The one place a batch turns a file into an outcome: the local batch
    and the cluster's workers (``inference.cluster``) both call it."""
    steps = restore_to_file(model, item.source, item.target, plan, cancel)
    try:
        with contextlib.closing(steps):
            while True:
                try:
                    step = next(steps)
                except StopIteration:
                    break
                yield step.index + 1, step.total
    except OutputExistsError:  # appeared while this file was being restored
        return ItemOutcome(BatchEventKind.SKIPPED, "output exists")
    except PER_FILE_ERRORS as error:
        return ItemOutcome(BatchEventKind.FAILED, describe_file_error(error, item.source))
    return ItemOutcome(BatchEventKind.WRITTEN)


class BatchLedger:
    """The running account of one batch: its report so far and its journal.

    ``BatchLedger(total, journal)`` reads the journal (``journal`` None: no journal), refusing one
    that cannot be written with ``BatchError`` before any file is restored. Items are numbered by
    their ``index`` in the batch. ``precheck`` gives the event of an item that needs no restoring
    (an unlisted folder: FAILED; an existing output: SKIPPED, "done in an earlier run" when the
    journal records it as written from the same source); ``finish`` records an ``ItemOutcome``
    (written and failed files are appended to the journal, skipped ones are not) and gives its
    event; ``report()`` is the ``BatchReport``. Used by ``run_batch`` and by the cluster's driver,
    so both keep the same journal. Not thread-safe.
    """

    def __init__(self, total: int, journal: Path | None) -> None:
        self.total = total
        self._journal = journal
        self._earlier_entries = _check_journal(journal)
        self._problem = ""
        self._written: list[Path] = []
        self._skipped: list[Path] = []
        self._earlier: list[Path] = []
        self._failed: list[FileFailure] = []

    @property
    def finished(self) -> int:
        """Items finished so far (written, skipped or failed)."""
        return len(self._written) + len(self._skipped) + len(self._failed)

    def event(
        self,
        kind: BatchEventKind,
        index: int,
        item: BatchItem,
        *,
        tile: int = 0,
        tiles: int = 0,
        message: str = "",
    ) -> BatchEvent:
        """A ``BatchEvent`` about ``item`` with the batch's total and finished count."""
        return BatchEvent(kind, item, index, self.total, self.finished, tile, tiles, message)

    def precheck(self, index: int, item: BatchItem) -> BatchEvent | None:
        """The FAILED or SKIPPED event of an item that is not to be restored (recorded), or None."""
        if item.problem:
            self._failed.append(FileFailure(item.source, item.relative, item.problem))
            return self.event(BatchEventKind.FAILED, index, item, message=item.problem)
        if not os.path.lexists(item.target):
            return None
        self._skipped.append(item.target)
        earlier_run = _written_earlier(self._earlier_entries, item)
        if earlier_run:
            self._earlier.append(item.target)
        reason = "done in an earlier run" if earlier_run else "output exists"
        return self.event(BatchEventKind.SKIPPED, index, item, message=reason)

    def finish(self, index: int, item: BatchItem, outcome: ItemOutcome) -> BatchEvent:
        """Record ``outcome`` (and journal a written or failed file); its event."""
        if outcome.kind is BatchEventKind.WRITTEN:
            self._written.append(item.target)
            self._record(item, "written")
        elif outcome.kind is BatchEventKind.SKIPPED:
            self._skipped.append(item.target)
        else:
            self._failed.append(FileFailure(item.source, item.relative, outcome.message))
            self._record(item, "failed", outcome.message)
        return self.event(outcome.kind, index, item, message=outcome.message)

    def report(self) -> BatchReport:
        """What the batch did so far."""
        written, skipped, failed = tuple(self._written), tuple(self._skipped), tuple(self._failed)
        return BatchReport(written, skipped, failed, tuple(self._earlier), self._problem)

    def _record(self, item: BatchItem, status: str, message: str = "") -> None:
        """Append to the journal; after a failure (disk full) stop, and say so in the report."""
        if self._journal is None or self._problem:
            return
        try:
            _append_journal(self._journal, item, status, message)
        except OSError as error:
            self._problem = error.strerror or str(error)


def run_batch(
    model: nn.Module,
    items: Sequence[BatchItem],
    plan: TilePlan,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    journal: Path | None = None,
) -> Generator[BatchEvent, None, BatchReport]:
    """Restore ``items`` in order with ``model`` under ``plan``; yields ``BatchEvent``s, returns the
    ``BatchReport``. See the module docstring for skipping, errors, atomic writes and the journal.

    Raises ``Cancelled`` (checked before each tile and before each write) when ``cancel`` is set:
    the files finished so far stay written and journalled, the current one leaves nothing behind.
    """
    ledger = BatchLedger(len(items), journal)
    for index, item in enumerate(items):
        cancel.raise_if_cancelled()
        skipped = ledger.precheck(index, item)
        if skipped is not None:
            yield skipped
            continue
        yield ledger.event(BatchEventKind.STARTED, index, item)
        steps = restore_item(model, item, plan, cancel)
        with contextlib.closing(steps):
            while True:
                try:
                    tile, tiles = next(steps)
                except StopIteration as finished:
                    outcome = finished.value
                    break
                yield ledger.event(BatchEventKind.PROGRESS, index, item, tile=tile, tiles=tiles)
        yield ledger.finish(index, item, outcome)
    return ledger.report()


def _check_journal(journal: Path | None) -> dict[Path, dict[str, object]]:
    """The journal's entries, after checking it can be appended to (its folder made if missing).

    Raises ``BatchError`` before any file is restored when it cannot: a read-only or missing-and-
    uncreatable output folder, a folder in the journal's place, a full disk.
    """
    if journal is None:
        return {}
    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
        if journal.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder is in its place")
        with journal.open("ab"):
            pass
        return read_journal(journal)
    except OSError as error:
        raise BatchError(
            f"{journal}: cannot write the batch journal ({error.strerror or error}); nothing was restored"
        ) from error


def _written_earlier(entries: dict[Path, dict[str, object]], item: BatchItem) -> bool:
    """Whether the journal records ``item.target`` as written from this same source."""
    entry = entries.get(item.target.resolve())
    return entry is not None and entry.get("status") == "written" and entry.get("source") == item.relative


def run_batch_request(
    request: BatchRequest, model: nn.Module, plan: TilePlan, cancel: CancelToken = NEVER_CANCELLED
) -> Generator[BatchEvent, None, BatchReport]:
    """Plan ``request`` and run it with its journal in the output folder (what the GUI submits)."""
    items = plan_batch(request.input_dir, request.output_dir, request.model_id, recursive=request.recursive)
    report = yield from run_batch(model, items, plan, cancel, journal=journal_path(request.output_dir))
    return report
