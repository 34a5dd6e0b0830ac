"""Safe weight files: read, check, convert and load; write our own.

Our weights are ``.safetensors`` whose string metadata holds ``format`` ("irstudio"), ``arch``,
``preset``, ``hparams`` (JSON), ``task`` and ``training`` (JSON). Foreign ``.pth``/``.pt`` files load
only through ``torch.load(weights_only=True)``: a pickle that would run code is refused. A state dict
that does not fit the model raises ``WeightsMismatchError`` naming the missing, unexpected and
wrongly shaped keys. Loading never runs code from the file.

Shipped weights (weights/) are listed in ``weights/manifest.json``. ``read_manifest`` is its one
reader: strict (a malformed manifest raises ``WeightsError`` naming it), it returns a frozen
``Manifest`` (typed ``entries``, lookups by id and file name, and the whole JSON ``document`` that
the maintainers' ``irstudio weights`` edits). Callers that must not stop on a damaged manifest (the
registry, the app's model lists) catch ``WeightsError`` themselves. Each file is checked against the
manifest's sha256 before it is loaded (``verify_weights``): a file that differs (damaged download,
partial copy, tampering) raises ``WeightsError`` naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from irstudio.core.atomic import atomic_write
from irstudio.models.spec import ModelSpec

FORMAT_TAG = "irstudio"
SAFE_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")


class WeightsError(ValueError):
    """A weight file cannot be used; the message says why and names the file."""


class WeightsMismatchError(WeightsError):
    """A state dict does not fit the model: lists missing, unexpected and wrongly shaped keys."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ShippedWeights:
    """One entry of ``weights/manifest.json``: ``id`` (the manifest's name for it), ``preset`` (the
    registry id whose module the weights fill), ``path`` (the file, beside the manifest) and its
    ``sha256`` (64 lower-case hex digits). ``entry`` is the whole JSON object (task, scores, ...)."""

    id: str
    preset: str
    path: Path
    sha256: str
    entry: Mapping[str, object]


def _manifest_entry(raw: object, index: int, folder: Path, source: str) -> ShippedWeights:
    """A ``ShippedWeights`` from one manifest object; ``WeightsError`` naming what is wrong."""
    if not isinstance(raw, Mapping):
        raise WeightsError(f"{source}: models[{index}] must be an object")
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise WeightsError(f"{source}: models[{index}] has no 'id'")
    preset = raw.get("preset", model_id)
    file_name = raw.get("file", f"{model_id}.safetensors")
    digest = raw.get("sha256")
    if not isinstance(preset, str) or not isinstance(file_name, str):
        raise WeightsError(f"{source}: '{model_id}': 'preset' and 'file' must be strings")
    if Path(file_name).name != file_name:
        raise WeightsError(f"{source}: '{model_id}': 'file' must be a plain file name, got '{file_name}'")
    if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise WeightsError(f"{source}: '{model_id}': 'sha256' must be 64 lower-case hex digits")
    return ShippedWeights(model_id, preset, folder / file_name, digest, dict(raw))


@dataclass(frozen=True)
class Manifest:
    """A weights manifest as read by ``read_manifest``: its ``path``, its ``entries`` in file order
    (ids unique) and the whole JSON ``document`` (``{"format": 1, "models": [...]}``, other keys kept)
    for the maintainers' commands, which edit it and write it back (``models.manifest_doc``).

    An absent manifest reads as no entries and ``{"format": 1, "models": []}``.
    """

    path: Path
    entries: tuple[ShippedWeights, ...] = ()
    document: Mapping[str, Any] = field(default_factory=lambda: {"format": 1, "models": []})

    def by_id(self, model_id: str) -> ShippedWeights | None:
        """The entry whose id is ``model_id``, or None."""
        return next((entry for entry in self.entries if entry.id == model_id), None)

    def by_file(self, file_name: str) -> ShippedWeights | None:
        """The first entry whose weight file is named ``file_name`` (beside the manifest), or None."""
        return next((entry for entry in self.entries if entry.path.name == file_name), None)

    def records(self) -> dict[str, Mapping[str, object]]:
        """Each entry's JSON object (task, training, scores, ...) by id, in file order."""
        return {entry.id: entry.entry for entry in self.entries}


def read_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """The weights manifest at ``path`` (default: ``paths.manifest_path()``), checked.

    The manifest is ``{"format": 1, "models": [{"id", "sha256", optional "preset" (default: id),
    optional "file" (default: "<id>.safetensors"), ...}]}``; files are named relative to the
    manifest's folder. A missing manifest means no shipped weights (no entries); a malformed one
    raises ``WeightsError`` naming it (unreadable JSON, no 'models' list, an entry without an id, a
    bad sha256 or file name, duplicate ids). Weight files are not opened here (``verify_weights``).
    """
    if path is None:
        from irstudio.paths import manifest_path

        path = manifest_path()
    path = Path(path)
    if not path.is_file():
        return Manifest(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{path.name}: not a readable weights manifest ({error})") from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list):
        raise WeightsError(f"{path.name}: a weights manifest needs a 'models' list")
    entries = tuple(_manifest_entry(raw, index, path.parent, path.name) for index, raw in enumerate(models))
    ids = [entry.id for entry in entries]
    duplicates = sorted({model_id for model_id in ids if ids.count(model_id) > 1})
    if duplicates:
        raise WeightsError(f"{path.name}: duplicate ids {', '.join(duplicates)}")
    return Manifest(path, entries, document)


def verify_weights(path: str | os.PathLike[str], expected_sha256: str) -> Path:
    """Check that the file at ``path`` has the sha256 ``expected_sha256``; return the path.

    Raises ``WeightsError`` naming the file when it is missing or unreadable, or when its digest
    differs (both digests are given, so a partial copy is told apart from another file).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path.name}: shipped weight file is missing ({path})")
    try:
        actual = sha256_of(path)
    except OSError as error:
        raise WeightsError(f"{path.name}: cannot read the weight file ({error.strerror or error})") from None
    if actual != expected_sha256.lower():
        raise WeightsError(
            f"{path.name}: refused: its sha256 is {actual}, the manifest says {expected_sha256.lower()} "
            "(the file is damaged, incomplete or not the one shipped; reinstall it)"
        )
    return path


def verified_shipped_path(file_name: str, manifest: str | os.PathLike[str] | None = None) -> Path:
    """The shipped weight file ``file_name`` (beside the manifest), checked against its sha256.

    Raises ``WeightsError`` when the manifest does not list the file or the digest differs.
    """
    entry = read_manifest(manifest).by_file(file_name)
    if entry is None:
        raise WeightsError(f"{file_name}: not listed in the weights manifest, so it cannot be verified")
    return verify_weights(entry.path, entry.sha256)


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    try:
        tensors = load_file(str(path), device="cpu")
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path.name}: not a readable safetensors file ({error})") from None
    return tensors, metadata


def _unpickling_reason(error: Exception) -> str:
    """The useful part of torch's weights-only refusal (which global or opcode), without its
    advice to load unsafely and without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    found = re.search(r"WeightsUnpickler error: ([^\n]*?)(?:\.\s|\.?$)", text, re.MULTILINE)
    if found:
        return found.group(1).strip()
    return (text.strip().splitlines() or [type(error).__name__])[0]


def _read_pickle(path: Path) -> dict[str, object]:
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not is_unsafe_pickle_refusal(error):  # a damaged pickle, not a dangerous one
            raise WeightsError(f"{path.name}: not a readable PyTorch checkpoint ({error})") from None
        raise WeightsError(
            f"{path.name}: refused: the file holds Python objects beyond plain tensors, and loading it "
            f"could run code ({_unpickling_reason(error)}). "
            "Convert it to .safetensors from a trusted source."
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise WeightsError(f"{path.name}: not a readable PyTorch checkpoint ({error})") from None
    if not isinstance(loaded, Mapping):
        raise WeightsError(f"{path.name}: holds a {type(loaded).__name__}, not a state dict")
    return dict(loaded)


def is_unsafe_pickle_refusal(error: Exception) -> bool:
    """Whether torch's ``weights_only`` load refused a pickle for what it would import or call (as
    opposed to a damaged file)."""
    return "Weights only load failed" in str(error) or "WeightsUnpickler" in str(error)


def _content_kind(path: Path) -> str:
    """What the file holds by its first bytes: "safetensors", "pickle" (a torch zip or a raw
    pickle), "empty" or "unknown"."""
    with open(path, "rb") as stream:
        head = stream.read(16)
    if not head:
        return "empty"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 30):
        return "safetensors"
    return "unknown"


def read_weights(path: str | os.PathLike[str]) -> tuple[Mapping[str, object], dict[str, str]]:
    """The raw contents of a weight file: (state dict or wrapper, metadata; empty for .pth).

    The format is read from the file's first bytes (a safetensors file named ``.bin`` is read as
    safetensors); the suffix must still be one of ours. Every floating tensor must be finite.
    Raises ``WeightsError`` naming the file: missing, empty, not a weight file, unreadable, refused
    (a pickle that would run code), or NaN/Inf in a tensor (named).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weight file")
    suffix = path.suffix.lower()
    if suffix not in SAFE_SUFFIXES + PICKLE_SUFFIXES:
        raise WeightsError(f"{path.name}: unknown weight format '{suffix}' (use .safetensors or .pth)")
    try:
        kind = _content_kind(path)
    except OSError as error:
        raise WeightsError(f"{path.name}: cannot read the file ({error.strerror or error})") from None
    if kind == "empty":
        raise WeightsError(f"{path.name}: the file is empty (0 bytes)")
    if kind == "unknown":
        raise WeightsError(f"{path.name}: not a weight file (neither safetensors nor a PyTorch checkpoint)")
    raw: Mapping[str, object]
    metadata: dict[str, str]
    if kind == "safetensors":
        raw, metadata = _read_safetensors(path)
    else:
        raw, metadata = _read_pickle(path), {}
    _require_finite(raw, path.name)
    return raw, metadata


def _require_finite(raw: Mapping[str, object], source: str, prefix: str = "") -> None:
    """Raise ``WeightsError`` naming the first floating tensor (nested dicts searched) with NaN/Inf."""
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _require_finite(value, source, f"{name}.")
        elif (
            isinstance(value, Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
        ):
            bad = int((~torch.isfinite(value)).sum())
            raise WeightsError(
                f"{source}: tensor '{name}' holds {bad} NaN/Inf value{'s' if bad > 1 else ''} "
                f"of {value.numel()}; the weights are damaged (a diverged training run or a bad copy)"
            )


def describe_mismatch(model: nn.Module, state_dict: Mapping[str, Tensor]) -> str | None:
    """None when ``state_dict`` fits ``model`` exactly, else a message naming every problem."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [
        f"{key} (file {tuple(state_dict[key].shape)}, model {tuple(expected[key].shape)})"
        for key in sorted(set(expected) & set(state_dict))
        if tuple(getattr(state_dict[key], "shape", ())) != tuple(expected[key].shape)
    ]

    def listing(label: str, keys: list[str]) -> str:
        shown = ", ".join(keys[:6]) + (f", … ({len(keys)} in all)" if len(keys) > 6 else "")
        return f"{label}: {shown}"

    parts = [
        listing(label, keys)
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
        if keys
    ]
    return "; ".join(parts) or None


def _as_tensor_dict(raw: Mapping[str, object], source: str) -> dict[str, Tensor]:
    tensors = {k: v for k, v in raw.items() if isinstance(v, Tensor)}
    if not tensors:
        raise WeightsError(f"{source}: holds no tensors at the top level")
    return tensors


def state_dict_for(
    spec: ModelSpec, model: nn.Module, raw: Mapping[str, object], metadata: Mapping[str, str], source: str
) -> dict[str, Tensor]:
    """The state dict of ``raw`` laid out for ``model``: ours as is, the authors' through the key map."""
    if metadata.get("format") == FORMAT_TAG:
        if metadata.get("arch") != spec.arch:
            raise WeightsMismatchError(
                f"{source}: weights are for architecture '{metadata.get('arch')}', "
                f"not '{spec.arch}' ({spec.id})"
            )
        return _as_tensor_dict(raw, source)
    plain = {k: v for k, v in raw.items() if isinstance(v, Tensor)}
    if plain and describe_mismatch(model, plain) is None:
        return plain
    official_error = None
    if spec.from_official is not None:
        try:
            return spec.from_official(raw)
        except ValueError as error:
            official_error = error
    detail = describe_mismatch(model, plain) if plain else "no tensors at the top level"
    message = f"{source}: does not fit {spec.id}: {detail}"
    if official_error is not None:
        message += f" (nor is it an authors' {spec.arch} checkpoint: {official_error})"
    raise WeightsMismatchError(message)


def load_state(model: nn.Module, state_dict: Mapping[str, Tensor], source: str) -> None:
    """Load strictly, converting dtype (fp16 files load as fp32); raise naming every mismatch."""
    problem = describe_mismatch(model, state_dict)
    if problem:
        raise WeightsMismatchError(f"{source}: does not fit the model: {problem}")
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state_dict.items()}, strict=True)


def load_model(spec: ModelSpec, weights: str | os.PathLike[str] | None = None) -> nn.Module:
    """Build ``spec``'s module in eval mode, with ``weights`` (a file path) loaded when given."""
    model = spec.build()
    if weights is not None:
        path = Path(weights)
        raw, metadata = read_weights(path)
        load_state(model, state_dict_for(spec, model, raw, metadata, path.name), path.name)
    return model.eval()


def transfer_weights(spec: ModelSpec, weights: str | os.PathLike[str]) -> tuple[nn.Module, tuple[str, ...]]:
    """``spec``'s module (eval mode) with every tensor of ``weights`` whose shape fits loaded.

    For starting a run from a relative of the model, e.g. the x4 preset's weights for the x2 preset:
    the file must be ours or plain for the same architecture with exactly the model's keys. Tensors
    whose shape differs (another scale's upsampler) keep their initialisation; their keys are
    returned, sorted. Raises ``WeightsMismatchError`` when keys differ or no shape fits.
    """
    model = spec.build()
    path = Path(weights)
    raw, metadata = read_weights(path)
    if metadata.get("format") == FORMAT_TAG and metadata.get("arch") != spec.arch:
        raise WeightsMismatchError(
            f"{path.name}: weights are for architecture '{metadata.get('arch')}', "
            f"not '{spec.arch}' ({spec.id})"
        )
    state = _as_tensor_dict(raw, path.name)
    expected = model.state_dict()
    if set(state) != set(expected):
        problem = describe_mismatch(model, state)
        raise WeightsMismatchError(f"{path.name}: cannot start {spec.id} from it: {problem}")
    fits = {k: v.to(expected[k].dtype) for k, v in state.items() if v.shape == expected[k].shape}
    if not fits:
        raise WeightsMismatchError(f"{path.name}: no tensor has the shape {spec.id} needs")
    model.load_state_dict({**expected, **fits}, strict=True)
    return model.eval(), tuple(sorted(set(expected) - set(fits)))


def save_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    spec: ModelSpec,
    extra: Mapping[str, object] | None = None,
    half: bool = False,
) -> Path:
    """Write ``model``'s state as safetensors with our metadata, atomically (``core.atomic``).

    ``half`` stores floating tensors as fp16 (they load back as fp32). ``extra`` values are stored
    as JSON strings (task, training summary, ...). Overwrites ``path`` (callers ask first).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    metadata = {
        "format": FORMAT_TAG,
        "arch": spec.arch,
        "preset": spec.id,
        "hparams": json.dumps(spec.hparams, sort_keys=True, default=str),
    }
    metadata.update({key: json.dumps(value, default=str) for key, value in (extra or {}).items()})
    with atomic_write(path, overwrite=True) as temp:
        save_file(tensors, str(temp), metadata=metadata)
    return path


def open_model(spec: ModelSpec, weights: str | os.PathLike[str] | None = None) -> nn.Module:
    """``spec``'s model with ``weights`` if given, else its shipped weights (weights/, checked against
    the manifest's sha256), else as built."""
    if weights is None and spec.weights is not None:
        weights = verified_shipped_path(spec.weights)
    return load_model(spec, weights)
