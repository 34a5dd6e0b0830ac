"""ONNX Runtime on the CPU: export a model once, check it against PyTorch, run it in its place.

Export (``export_onnx``): torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``, opset
``OPSET`` = 18 >= 17) with dynamic height and width, batch 1; when a model cannot be traced with
dynamic sizes, a static export at the example shape is tried. (The older TorchScript exporter is not
used: at opset 17 it silently produced wrong outputs for two of our four architectures, errors
0.066 and 0.0057, which the check below would reject anyway.)

Check (``max_abs_error``): the session must reproduce the PyTorch model within ``TOLERANCE`` (1e-4,
max absolute difference) on random inputs of the example shape (the interior tile's read shape) and,
for a dynamic export, two more aligned shapes: a larger one and a smaller, non-square one (like the
border tiles). When the dynamic graph fails that check, a static export at the example shape is
checked and used for that shape only (other shapes run in PyTorch).

Run (``OnnxModule``): an ``nn.Module`` whose forward feeds float32 CPU tensors of batch 1 whose height
and width are multiples of the model's ``multiple`` to the session, and anything else (other
devices, dtypes, autocast, unaligned or unseen static shapes) to the PyTorch ``reference``. A shape
the session fails on is served by PyTorch from then on. With ``verify_new_shapes`` each new shape
is also run by both once and must agree within ``TOLERANCE`` (off by default: that costs one eager
run per distinct tile shape, which on the first image was more than ONNX Runtime saved).
``reference`` is a submodule, so ``.to``/``.eval``/``.train`` behave as for the plain model.

Exported files are cached under ``user_state_dir()/onnx`` by graph fingerprint (weights and the
code that traces them) and environment, with a ledger of the input shapes already checked, so a
model is exported and each shape checked once per set of weights on a machine. Without
``onnxruntime``/``onnx``/``onnxscript`` installed (the optional extra ``irstudio[onnx]``),
``onnx_unavailable_reason`` says so and the chooser stays on eager PyTorch.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from irstudio.inference.backends.cache import environment_stamp
from irstudio.inference.backends.exported import (
    BackendUnavailable,
    ShapeLedger,
    check_shapes,
    files_digest,
    graph_fingerprint,
    quiet,
    trusted_ledger,
    write_atomic,
)

ONNX = "onnx"
OPSET = 18
TOLERANCE = 1e-4
_REQUIRED = ("onnxruntime", "onnx", "onnxscript")


class OnnxUnavailable(BackendUnavailable):
    """The model cannot run on ONNX Runtime here; the message says exactly why."""


def onnx_unavailable_reason() -> str | None:
    """Why ONNX Runtime cannot be used at all (a package missing), or None when it can."""
    missing = []
    for name in _REQUIRED:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        return f"not installed: {', '.join(missing)} (pip install 'irstudio[onnx]')"
    return None


def _dynamo_export(model: nn.Module, example: Tensor, dynamic: bool) -> bytes:
    kwargs: dict[str, object] = {}
    if dynamic:
        dim = torch.export.Dim.DYNAMIC
        kwargs["dynamic_shapes"] = ({2: dim, 3: dim},)
    buffer = io.BytesIO()
    with quiet("torch.onnx"), torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            buffer,
            dynamo=True,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            **kwargs,
        )
    return buffer.getvalue()


def export_onnx(model: nn.Module, example: Tensor) -> tuple[bytes, bool]:
    """Serialized ONNX for ``model`` (on the CPU, eval mode) and whether its H, W are dynamic.

    ``example``: (1, C, H, W) float32 CPU, H and W multiples of the model's size multiple. Raises
    ``OnnxUnavailable`` naming the exporter's error when neither a dynamic nor a static export works.
    """
    errors = []
    for dynamic in (True, False):
        try:
            return _dynamo_export(model, example, dynamic), dynamic
        except Exception as error:  # the exporter raises many types; all mean "cannot export"
            first_line = (str(error).strip().splitlines() or [""])[0][:300]
            errors.append(
                f"{'dynamic' if dynamic else 'static'} export: {type(error).__name__}: {first_line}"
            )
    raise OnnxUnavailable("; ".join(errors))


def make_session(model_bytes: bytes, threads: int | None = None):
    """An ONNX Runtime CPU session: ``threads`` intra-op threads (default torch's), no spin-waiting."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def max_abs_error(session, reference: nn.Module, inputs: Iterable[Tensor]) -> float:
    """Largest absolute difference between the session's and ``reference``'s outputs over ``inputs``."""
    worst = 0.0
    name = session.get_inputs()[0].name
    for x in inputs:
        with torch.inference_mode():
            expected = reference(x).float().numpy()
        got = session.run(None, {name: x.numpy()})[0]
        if got.shape != expected.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(got - expected))) if got.size else 0.0)
    return worst


class OnnxModule(nn.Module):
    """Runs ``session`` in place of ``reference`` where it is known to match (see module doc).

    ``static_shape``: (H, W) the session was exported for, or None when H and W are dynamic.
    ``ledger``: the shapes already checked (and where to record new checks). ``notes``: one line per
    shape the session could not serve, and why.
    """

    def __init__(
        self,
        session,
        reference: nn.Module,
        *,
        multiple: int = 1,
        static_shape: tuple[int, int] | None = None,
        ledger: ShapeLedger | None = None,
        verify_new_shapes: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.reference = reference
        self.multiple = max(1, multiple)
        self.static_shape = static_shape
        self.ledger = ledger if ledger is not None else ShapeLedger(None, static_shape is None)
        self.verify_new_shapes = verify_new_shapes
        self._input_name = session.get_inputs()[0].name
        self.notes: list[str] = [
            f"ONNX Runtime not used for input {shape}: {why}; PyTorch runs it"
            for shape, why in self.ledger.rejected.items()
        ]

    def _eligible(self, x: Tensor) -> bool:
        if x.device.type != "cpu" or x.dtype != torch.float32 or x.ndim != 4 or x.shape[0] != 1:
            return False
        if torch.is_autocast_enabled("cpu"):
            return False
        height, width = x.shape[2:]
        if height % self.multiple or width % self.multiple:
            return False
        if self.static_shape is not None and (height, width) != self.static_shape:
            return False
        return tuple(x.shape) not in self.ledger.rejected

    def _run_session(self, x: Tensor) -> Tensor:
        array = x.detach().contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {self._input_name: array})[0])

    def _verify(self, x: Tensor, shape: tuple[int, ...]) -> Tensor:
        """Run both on a first-seen shape; keep the session for it only when they agree."""
        with torch.no_grad():
            expected = self.reference(x)
        try:
            got = self._run_session(x)
        except Exception as error:  # ORT raises its own exception types
            self._reject(shape, f"session failed: {str(error).splitlines()[0][:200]}")
            return expected
        difference = float((got - expected.float()).abs().max()) if got.shape == expected.shape else np.inf
        if difference > TOLERANCE:
            self._reject(shape, f"differs from PyTorch by {difference:.2e} > {TOLERANCE:g}")
            return expected
        self.ledger.verified.add(shape)
        self.ledger.save()
        return got

    def _reject(self, shape: tuple[int, ...], why: str) -> None:
        self.ledger.rejected[shape] = why
        self.ledger.save()
        self.notes.append(f"ONNX Runtime not used for input {shape}: {why}; PyTorch runs it")

    def forward(self, x: Tensor) -> Tensor:
        """(1, C, H, W) float32 CPU -> the model's output; other inputs go to ``reference``."""
        if not self._eligible(x):
            return self.reference(x)
        shape = tuple(x.shape)
        if self.verify_new_shapes and shape not in self.ledger.verified:
            return self._verify(x, shape)
        try:
            return self._run_session(x)
        except Exception as error:  # ORT raises its own exception types
            self._reject(shape, f"session failed: {str(error).splitlines()[0][:200]}")
            return self.reference(x)


def onnx_cache_dir() -> Path:
    from irstudio.paths import user_state_dir

    return user_state_dir() / "onnx"


def _cached_file(model_id: str, fingerprint: str, height: int, width: int, cache_dir: Path | None) -> Path:
    stamp = hashlib.sha256(f"{environment_stamp()}|opset{OPSET}".encode()).hexdigest()[:8]
    folder = cache_dir if cache_dir is not None else onnx_cache_dir()
    return folder / f"{model_id}-{fingerprint[:16]}-{stamp}-{height}x{width}.onnx"


def build_onnx_module(
    model: nn.Module,
    *,
    model_id: str,
    shape: tuple[int, int],
    multiple: int = 1,
    channels: int = 3,
    threads: int | None = None,
    cache_dir: Path | None = None,
    verify_new_shapes: bool = False,
    on_export: Callable[[], None] | None = None,
) -> OnnxModule:
    """Export ``model`` and check it within ``TOLERANCE`` (or load an export an earlier session
    checked), and wrap it.

    ``shape``: (H, W) of the example input (aligned to ``multiple``; the tile read shape the caller
    will mostly run). The model must be on the CPU in eval mode. Raises ``OnnxUnavailable`` with the
    reason when packages are missing, the export fails, or the outputs differ from PyTorch.
    ``on_export`` is called just before an export (nothing usable cached).
    """
    reason = onnx_unavailable_reason()
    if reason is not None:
        raise OnnxUnavailable(reason)
    height, width = shape
    path = _cached_file(model_id, graph_fingerprint(model), height, width, cache_dir)
    ledger = trusted_ledger([path])
    session = None
    if ledger is not None:  # exported and checked by an earlier session, bytes unchanged since
        try:
            session = make_session(path.read_bytes(), threads)
        except Exception:  # ORT raises its own types for a file it cannot parse
            session = None
    if session is None:
        if on_export is not None:
            on_export()
        session, ledger, data = _export_and_check(model, (channels, height, width), multiple, threads)
        write_atomic(path, data)
        ledger.path = path.with_suffix(".shapes.json")
        ledger.digest = files_digest([path])
        ledger.save()
    return OnnxModule(
        session,
        model,
        multiple=multiple,
        static_shape=None if ledger.dynamic else (height, width),
        ledger=ledger,
        verify_new_shapes=verify_new_shapes,
    )


def _export_and_check(
    model: nn.Module, shape: tuple[int, int, int], multiple: int, threads: int | None
) -> tuple[object, ShapeLedger, bytes]:
    """Export, open a session and check it (see module doc): a dynamic graph at the example shape and
    the ``_check_shapes``; when that fails, a static graph at the example shape."""
    channels, height, width = shape
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(1, channels, height, width, generator=generator)
    more = [
        torch.rand(1, channels, *other, generator=generator)
        for other in check_shapes(height, width, multiple)
    ]
    data, dynamic = export_onnx(model, example)
    try:
        session = _checked_session(data, model, [example, *more] if dynamic else [example], threads)
    except OnnxUnavailable as failure:
        if not dynamic:
            raise
        # A dynamic graph can bake in a shape-dependent branch (e.g. reflect vs replicate padding of
        # small maps): fall back to a static export, used for the tile shape only.
        try:
            data = _dynamo_export(model, example, dynamic=False)
        except Exception as error:  # the exporter raises many types
            raise OnnxUnavailable(
                f"dynamic: {failure}; static export: {type(error).__name__}: {error}"
            ) from None
        try:
            session = _checked_session(data, model, [example], threads)
        except OnnxUnavailable as static_failure:
            raise OnnxUnavailable(f"dynamic: {failure}; static: {static_failure}") from None
        dynamic = False
    ledger = ShapeLedger(None, dynamic)
    ledger.verified = {tuple(example.shape)} | ({tuple(x.shape) for x in more} if dynamic else set())
    return session, ledger, data


def _checked_session(data: bytes, model: nn.Module, checks: list[Tensor], threads: int | None) -> object:
    """A session for ``data`` that matches ``model`` within ``TOLERANCE`` on ``checks``; else raises."""
    session = make_session(data, threads)
    try:
        error = max_abs_error(session, model, checks)
    except Exception as failure:  # ORT raises its own exception types
        first = " ".join(str(failure).split())[:300]
        raise OnnxUnavailable(f"ONNX Runtime failed on a check input: {first}") from None
    if error > TOLERANCE:
        raise OnnxUnavailable(f"ONNX output differs from PyTorch by {error:.2e} > {TOLERANCE:g}")
    return session
