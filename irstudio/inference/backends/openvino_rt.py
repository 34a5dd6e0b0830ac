"""OpenVINO on the CPU: the torch module converted directly (no ONNX export), checked, cached, run in
its place.

``build_openvino_module`` converts the model (``openvino_graph``: a dynamic graph traced on a small
crop; when it fails its checks, a static graph at the example shape, used for that shape only, other
shapes running in PyTorch), writes it to the cache, reads it back and checks *that* graph against
PyTorch, in the precision it will run (``_Checker``: a dynamic graph at two small shapes, a static
one at its own): so the first run and every later one run the same graph.

Precision: ``dtype="bf16"`` runs OpenVINO's bf16 inference where the CPU has native bf16
(``cpu_has_bf16``: AVX512_BF16 or AMX) and the graph keeps ``BF16_MIN_PSNR`` dB against PyTorch fp32
at every check shape; otherwise fp32, checked within ``TOLERANCE``, and ``notes`` says why. Tensors
in and out stay float32.

Cache (``user_state_dir()/openvino``): the IR ``.xml``/``.bin`` named by graph fingerprint
(weights and the code that traces them), library versions and example shape, with a ledger
(``exported.ShapeLedger``) that records whether the graph is dynamic, the shapes and precisions it
was checked at, the bf16 PSNR, and the SHA-256 of both files. A graph whose files no longer match
is converted again, with a note. OpenVINO's compiled blobs are kept beside it (``compiled/``): a
warm start compiles in a fraction of the time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from irstudio.inference.backends.cache import environment_stamp
from irstudio.inference.backends.exported import (
    ShapeLedger,
    check_shapes,
    files_digest,
    graph_fingerprint,
    trusted_ledger,
)
from irstudio.inference.backends.openvino_graph import (
    BF16_MIN_PSNR,
    TOLERANCE,
    OpenVinoUnavailable,
    check_graph,
    compile_model,
    convert_model,
    cpu_has_bf16,
    infer,
    load_openvino,
    openvino_unavailable_reason,
    reference_outputs,
    trace_crop,
)

__all__ = [
    "BF16_MIN_PSNR",
    "OPENVINO",
    "TOLERANCE",
    "OpenVinoModule",
    "OpenVinoUnavailable",
    "build_openvino_module",
    "cpu_has_bf16",
    "is_converted",
    "openvino_unavailable_reason",
]

OPENVINO = "openvino"


class OpenVinoModule(nn.Module):
    """Runs a compiled OpenVINO model in place of ``reference`` where it is known to match.

    Serves (1, C, H, W) float32 CPU tensors with H, W multiples of ``multiple`` (and equal to
    ``static_shape`` when the graph is static), outside autocast; anything else goes to
    ``reference``, and so does a shape the graph failed on once. ``dtype``: the precision the graph
    computes in. ``notes``: precision decisions and shapes it could not serve.
    """

    def __init__(
        self,
        compiled,
        reference: nn.Module,
        *,
        dtype: str,
        multiple: int = 1,
        static_shape: tuple[int, int] | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.compiled = compiled
        self.reference = reference
        self.dtype = dtype
        self.multiple = max(1, multiple)
        self.static_shape = static_shape
        self.notes: list[str] = list(notes)
        self._failed: set[tuple[int, ...]] = set()

    def _eligible(self, x: Tensor) -> bool:
        if x.device.type != "cpu" or x.dtype != torch.float32 or x.ndim != 4 or x.shape[0] != 1:
            return False
        if torch.is_autocast_enabled("cpu") or tuple(x.shape) in self._failed:
            return False
        height, width = x.shape[2:]
        if height % self.multiple or width % self.multiple:
            return False
        return self.static_shape is None or (height, width) == self.static_shape

    def forward(self, x: Tensor) -> Tensor:
        """(1, C, H, W) float32 CPU -> the model's output (float32); other inputs go to ``reference``."""
        if not self._eligible(x):
            return self.reference(x)
        try:
            return torch.from_numpy(infer(self.compiled, x.detach().contiguous().numpy()))
        except RuntimeError as error:
            self._failed.add(tuple(x.shape))
            why = str(error)[:120]
            self.notes.append(f"OpenVINO failed on input {tuple(x.shape)} ({why}); PyTorch runs it")
            return self.reference(x)


# ------------------------------------------------------------------------------------------ cache


def openvino_cache_dir() -> Path:
    from irstudio.paths import user_state_dir

    return user_state_dir() / "openvino"


def _ir_path(model_id: str, fingerprint: str, shape: tuple[int, int], folder: Path) -> Path:
    stamp = hashlib.sha256(environment_stamp().encode()).hexdigest()[:8]
    return folder / f"{model_id}-{fingerprint[:16]}-{stamp}-{shape[0]}x{shape[1]}.xml"


def _ir_files(xml: Path) -> list[Path]:
    return [xml, xml.with_suffix(".bin")]


def _read(xml: Path):
    ov = load_openvino()

    try:
        return ov.Core().read_model(str(xml))
    except RuntimeError:
        return None


def _write(ov_model, xml: Path, ledger: ShapeLedger) -> bool:
    """Write the graph and its ledger; False when the cache cannot be written."""
    ov = load_openvino()

    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(ov_model, str(xml), compress_to_fp16=False)
    except (OSError, RuntimeError):
        return False
    ledger.path = xml.with_suffix(".shapes.json")
    ledger.digest = files_digest(_ir_files(xml))
    ledger.save()
    return ledger.digest is not None


def is_converted(model: nn.Module, *, model_id: str, shape: tuple[int, int], cache_dir: Path | None) -> bool:
    """Whether a checked conversion of ``model`` at ``shape`` is cached (building it then takes seconds)."""
    if openvino_unavailable_reason() is not None:
        return False
    folder = cache_dir if cache_dir is not None else openvino_cache_dir()
    xml = _ir_path(model_id, graph_fingerprint(model), shape, folder)
    return trusted_ledger(_ir_files(xml)) is not None


# ------------------------------------------------------------------------------------------ build


class _Checker:
    """Checks graphs against ``reference``, running PyTorch on each input once. A static graph is
    checked at its own shape (the example); a dynamic one at the trace crop (about ``TRACE_SIDE``)
    and a non-square shape a few multiples larger: a graph built for any shape needs no full-size
    check, and PyTorch's side of a full-size check was most of a large model's first-run cost
    (LIR: 6 s of 28). Never smaller than the crop: a model's size-dependent padding (reflect where
    the map is large enough) is traced for that size and up. A shape the graph fails on later runs
    in PyTorch (``OpenVinoModule``)."""

    def __init__(self, reference: nn.Module, example: Tensor, multiple: int) -> None:
        self.reference = reference
        self.example = example
        crop = trace_crop(example, multiple)
        other = check_shapes(crop.shape[2], crop.shape[3], multiple)[0]  # taller and wider
        generator = torch.Generator().manual_seed(1)
        self._dynamic = [crop, torch.rand(1, example.shape[1], *other, generator=generator)]
        self._expected: dict[tuple[int, ...], np.ndarray] = {}

    def inputs(self, dynamic: bool) -> list[Tensor]:
        return self._dynamic if dynamic else [self.example]

    def check(self, compiled, dtype: str, dynamic: bool) -> float:
        inputs = self.inputs(dynamic)
        missing = [x for x in inputs if tuple(x.shape) not in self._expected]
        for x, out in zip(missing, reference_outputs(self.reference, missing), strict=True):
            self._expected[tuple(x.shape)] = out
        return check_graph(compiled, dtype, inputs, [self._expected[tuple(x.shape)] for x in inputs])


def _checked_compile(ov_model, ledger: ShapeLedger, checker: _Checker, want: str, settings: dict):
    """(compiled, dtype, note): ``want`` when it passes its check (or was checked before), else fp32
    (bf16 that loses quality); raises ``OpenVinoUnavailable`` when fp32 fails too."""
    note = ""
    for dtype in ("bf16", "fp32") if want == "bf16" else ("fp32",):
        if dtype == "bf16" and ledger.bf16_psnr is not None and ledger.bf16_psnr < BF16_MIN_PSNR:
            note = f"bf16 kept {ledger.bf16_psnr:.1f} dB < {BF16_MIN_PSNR:g} dB; fp32 runs"
            continue
        compiled = compile_model(ov_model, dtype=dtype, **settings)
        if dtype in ledger.precisions:
            return compiled, dtype, note
        try:
            figure = checker.check(compiled, dtype, ledger.dynamic)
        except OpenVinoUnavailable as failure:
            if dtype == "fp32":
                raise
            note = f"{failure}; fp32 runs"
            continue
        ledger.precisions.add(dtype)
        if dtype == "bf16":
            ledger.bf16_psnr = figure
        ledger.save()
        return compiled, dtype, note
    raise OpenVinoUnavailable(note or "no precision passed its check")


def _converted(model, checker: _Checker, xml: Path, want: str, settings: dict, multiple: int):
    """Convert (dynamic, then static), cache, and check what was cached: (compiled, dtype, note, ledger)."""
    failures = []
    example = checker.example
    for dynamic in (True, False):
        try:
            ov_model = convert_model(model, trace_crop(example, multiple) if dynamic else example, dynamic)
            ledger = ShapeLedger(None, dynamic)
            ledger.verified = {tuple(x.shape) for x in checker.inputs(dynamic)}
            if _write(ov_model, xml, ledger):
                ov_model = _read(xml) or ov_model  # run exactly what later sessions will load
            compiled, dtype, note = _checked_compile(ov_model, ledger, checker, want, settings)
            return compiled, dtype, note, ledger
        except (OpenVinoUnavailable, RuntimeError) as failure:
            failures.append(f"{'dynamic' if dynamic else 'static'}: {str(failure)[:300]}")
    xml.with_suffix(".shapes.json").unlink(missing_ok=True)  # nothing that failed stays trusted
    raise OpenVinoUnavailable("; ".join(failures))


def build_openvino_module(
    model: nn.Module,
    *,
    model_id: str,
    shape: tuple[int, int],
    multiple: int = 1,
    channels: int = 3,
    dtype: str = "fp32",
    threads: int | None = None,
    cache_dir: Path | None = None,
    on_convert: Callable[[], None] | None = None,
) -> OpenVinoModule:
    """Convert ``model`` (CPU, eval mode) and check it, or load a conversion an earlier session checked.

    ``shape``: (H, W) of the example input, aligned to ``multiple`` (the tile read shape the caller
    will mostly run). ``dtype``: "fp32", or "bf16" to use bf16 where the CPU and the quality check
    allow. ``on_convert`` is called just before a conversion (nothing usable cached). Raises
    ``OpenVinoUnavailable`` with the reason when the package is missing, conversion fails or the
    outputs differ from PyTorch.
    """
    reason = openvino_unavailable_reason()
    if reason is not None:
        raise OpenVinoUnavailable(reason)
    folder = cache_dir if cache_dir is not None else openvino_cache_dir()
    settings = {"threads": threads or torch.get_num_threads(), "cache_dir": folder / "compiled"}
    want = "bf16" if dtype == "bf16" and cpu_has_bf16() else "fp32"
    example = torch.rand(1, channels, *shape, generator=torch.Generator().manual_seed(0))
    checker = _Checker(model, example, multiple)
    xml = _ir_path(model_id, graph_fingerprint(model), shape, folder)
    ledger = trusted_ledger(_ir_files(xml))
    ov_model = _read(xml) if ledger is not None else None
    notes = []
    cached = None
    if ov_model is not None and ledger is not None:
        try:
            cached = _checked_compile(ov_model, ledger, checker, want, settings)
        except (OpenVinoUnavailable, RuntimeError) as failure:  # a cached graph that no longer passes
            notes.append(f"the cached OpenVINO graph failed now ({str(failure)[:120]}); converted again")
    if cached is None:
        if xml.exists() and not notes:
            notes.append("the cached OpenVINO graph was damaged or stale; converted again")
        if on_convert is not None:
            on_convert()
        compiled, chosen, note, ledger = _converted(model, checker, xml, want, settings, multiple)
    else:
        compiled, chosen, note = cached
    if chosen == "bf16":
        note = f"{min(ledger.bf16_psnr or 99.0, 99.0):.0f} dB from fp32"
    elif dtype == "bf16" and not note:
        note = "this CPU has no native bf16"
    return OpenVinoModule(
        compiled,
        model,
        dtype=chosen,
        multiple=multiple,
        static_shape=None if ledger.dynamic else shape,
        notes=tuple(n for n in (note, *notes) if n),
    )
