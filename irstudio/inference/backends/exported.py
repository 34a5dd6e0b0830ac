"""What the backends share: ``BackendUnavailable``; and for the exported-graph backends (ONNX Runtime,
OpenVINO) a fingerprint of the weights, the shapes a graph is checked at, and the ledger kept beside
each cached graph (``trusted_ledger``, ``files_digest``).

A cached graph is trusted only through its ledger: the shapes it was checked at and the SHA-256 of the
graph files as written. A graph whose bytes no longer match (damaged, truncated, replaced) is
converted again instead of running (docs/HARDENING.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from irstudio.core.atomic import atomic_write
from irstudio.models.loading import sha256_of

LEDGER_FORMAT = 2


class BackendUnavailable(RuntimeError):
    """A backend cannot run this model here; the message says why (each engine raises a subclass)."""


def weights_fingerprint(model: nn.Module) -> str:
    """SHA-256 over the model's state dict (names, dtypes, shapes and bytes), hex."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def graph_fingerprint(model: nn.Module) -> str:
    """``weights_fingerprint`` plus the source of the model's architecture module and of
    ``irstudio.models.layers``, hex: a converted graph is rebuilt when the code that traces it
    changes (an upgrade that lays a model out differently), not only when its weights do."""
    digest = hashlib.sha256(weights_fingerprint(model).encode())
    for module_name in (type(model).__module__, "irstudio.models.layers"):
        source = getattr(sys.modules.get(module_name), "__file__", None)
        with contextlib.suppress(OSError, TypeError):
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    """Silence an exporter's or converter's prints, warnings and log lines (errors still raise)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def check_shapes(height: int, width: int, multiple: int) -> list[tuple[int, int]]:
    """More aligned shapes to check a dynamic graph with: one multiple taller and two wider, and a
    smaller non-square one (about half the height, the width less one multiple)."""
    smaller = (max(multiple, height // 2 // multiple * multiple), max(multiple, width - multiple))
    return [(height + multiple, width + 2 * multiple), smaller]


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (folder created); a cache that cannot be written is
    skipped silently (the export is simply redone next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, overwrite=True) as temp:
            temp.write_bytes(data)
    except OSError:
        return


class ShapeLedger:
    """Which input shapes a cached graph was checked at, and the digest of its files, beside the graph
    (``<name>.shapes.json``): ``{"format": 2, "dynamic": bool, "verified": [[N, C, H, W], ...],
    "rejected": {"NxCxHxW": reason}, "digest": hex, "precisions": [...], "bf16_psnr": dB or null}``.
    Lets a later session trust the checks an earlier one made, for exactly the bytes that were
    checked. ``path`` None keeps it in memory only."""

    def __init__(self, path: Path | None, dynamic: bool = True) -> None:
        self.path = path
        self.dynamic = dynamic
        self.verified: set[tuple[int, ...]] = set()
        self.rejected: dict[tuple[int, ...], str] = {}
        self.digest: str | None = None
        self.precisions: set[str] = set()
        """OpenVINO: the precisions ("fp32", "bf16") the graph passed its check in."""
        self.bf16_psnr: float | None = None
        """OpenVINO: how close the bf16 graph came to PyTorch fp32 (dB), once checked."""

    @classmethod
    def load(cls, path: Path) -> ShapeLedger | None:
        """The ledger stored at ``path``, or None when absent, unreadable or of another format."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["format"] != LEDGER_FORMAT:
                return None
            ledger = cls(path, bool(data["dynamic"]))
            ledger.verified = {tuple(int(v) for v in shape) for shape in data["verified"]}
            ledger.rejected = {
                tuple(int(v) for v in key.split("x")): str(why) for key, why in data["rejected"].items()
            }
            ledger.digest = str(data["digest"]) if data["digest"] else None
            ledger.precisions = {str(p) for p in data.get("precisions", []) if p in ("fp32", "bf16")}
            psnr = data.get("bf16_psnr")
            ledger.bf16_psnr = float(psnr) if isinstance(psnr, (int, float)) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return ledger

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": LEDGER_FORMAT,
            "dynamic": self.dynamic,
            "verified": sorted(list(shape) for shape in self.verified),
            "rejected": {"x".join(map(str, shape)): why for shape, why in self.rejected.items()},
            "digest": self.digest,
            "precisions": sorted(self.precisions),
            "bf16_psnr": self.bf16_psnr,
        }
        write_atomic(self.path, json.dumps(data, indent=1).encode())


def files_digest(files: Sequence[Path]) -> str | None:
    """The SHA-256 of each of ``files``, joined (None when one cannot be read)."""
    try:
        return "".join(sha256_of(path) for path in files)
    except OSError:
        return None


def trusted_ledger(files: Sequence[Path]) -> ShapeLedger | None:
    """The ledger beside ``files[0]`` (``<name>.shapes.json``) when the files are the bytes that were
    checked; None when absent, unreadable, or the files changed since."""
    ledger = ShapeLedger.load(files[0].with_suffix(".shapes.json")) if files[0].exists() else None
    if ledger is None or ledger.digest is None or ledger.digest != files_digest(files):
        return None
    return ledger
