"""OpenVINO on the CPU: convert the torch module directly (no ONNX export), check it, run it in its place.

Convert (``convert_model``): ``torch.jit.trace`` at the example shape (the interior tile's read
shape), then ``openvino.convert_model`` with dynamic height and width. Seconds, where the ONNX
export takes minutes (compacter: trace 4 s, convert 5 s, compile 1 s at 320 px on 2 cores).

Check: the compiled model must reproduce PyTorch within ``TOLERANCE`` at the example shape and at
a smaller, non-square aligned shape (like a border tile). A trace can bake a shape into the graph;
when the dynamic graph fails the check, a static graph at the example shape is used for that shape
only (other shapes run in PyTorch), exactly as for ONNX Runtime.

Precision: ``dtype="bf16"`` compiles with OpenVINO's bf16 inference hint, used only where the CPU
has native bf16 (``cpu_has_bf16``: AVX512_BF16 or AMX) and the bf16 output stays within
``BF16_MIN_PSNR`` dB of the fp32 one on the check input; otherwise fp32 runs, and ``notes`` says why.
Tensors in and out stay float32; the graph computes in bf16 internally.

Converted graphs are cached under ``user_state_dir()/openvino`` by weights fingerprint and
environment (IR ``.xml``/``.bin`` with a ledger that records the shapes checked and the files'
SHA-256); a file whose digest no longer matches is rebuilt. OpenVINO's own compiled-blob cache lives
beside it, so a later start compiles in a fraction of the time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from irstudio.inference.backends.cache import environment_stamp
from irstudio.inference.backends.exported import ShapeLedger, check_shapes, file_digest, weights_fingerprint

OPENVINO = "openvino"
TOLERANCE = 1e-4
BF16_MIN_PSNR = 45.0


class OpenVinoUnavailable(RuntimeError):
    """The model cannot run on OpenVINO here; the message says exactly why."""


def openvino_unavailable_reason() -> str | None:
    """Why OpenVINO cannot be used at all (package missing), or None when it can."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "not installed: openvino (pip install openvino)"
    return None


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 natively here (AVX512_BF16 or AMX)."""
    if openvino_unavailable_reason() is not None:
        return False
    import openvino as ov

    try:
        capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False
    return "BF16" in capabilities


@contextlib.contextmanager
def _quiet():
    """Silence tracer warnings and converter prints (errors still raise)."""
    logger = logging.getLogger("openvino")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def convert_model(model: nn.Module, example: Tensor, dynamic: bool):
    """An ``openvino.Model`` for ``model`` (CPU, eval mode) traced at ``example`` (1, C, H, W).

    Raises ``OpenVinoUnavailable`` naming the converter's error.
    """
    import openvino as ov

    shape = [1, example.shape[1], -1, -1] if dynamic else list(example.shape)
    try:
        with _quiet(), torch.no_grad():
            traced = torch.jit.trace(model, example, check_trace=False)
            return ov.convert_model(traced, example_input=example, input=[ov.PartialShape(shape)])
    except Exception as error:  # the tracer and converter raise many types; all mean "cannot convert"
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise OpenVinoUnavailable(f"conversion failed: {type(error).__name__}: {first}") from None


def compile_model(ov_model, *, dtype: str, threads: int, cache_dir: Path | None):
    """Compile for the CPU with ``dtype`` ("fp32" or "bf16") inference precision and ``threads``."""
    import openvino as ov

    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if dtype == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": max(1, threads),
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
    }
    core = ov.Core()
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
    return core.compile_model(ov_model, "CPU", config)


def _infer(compiled, x: np.ndarray) -> np.ndarray:
    return np.array(compiled(x)[0], copy=True)


def psnr_between(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 1) of ``a`` against ``b`` after clipping both to [0, 1]; inf when equal."""
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


class OpenVinoModule(nn.Module):
    """Runs a compiled OpenVINO model in place of ``reference`` where it is known to match.

    Serves (1, C, H, W) float32 CPU tensors with H, W multiples of ``multiple`` (and equal to
    ``static_shape`` when the graph is static), outside autocast; anything else goes to
    ``reference``. ``dtype``: the precision the graph computes in. ``notes``: shapes it could not
    serve and precision decisions.
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
            return torch.from_numpy(_infer(self.compiled, x.detach().contiguous().numpy()))
        except RuntimeError as error:
            self._failed.add(tuple(x.shape))
            why = str(error)[:120]
            self.notes.append(f"OpenVINO failed on input {tuple(x.shape)} ({why}); PyTorch runs it")
            return self.reference(x)

    def release(self) -> None:
        """Drop the compiled model (its memory arenas go with it); ``reference`` serves from now on."""
        self.compiled = None
        self.static_shape = (-1, -1)


def openvino_cache_dir() -> Path:
    from irstudio.paths import user_state_dir

    return user_state_dir() / "openvino"


def _ir_path(model_id: str, fingerprint: str, shape: tuple[int, int], folder: Path) -> Path:
    import openvino as ov

    stamp = hashlib.sha256(f"{environment_stamp()}|openvino {ov.__version__}".encode()).hexdigest()[:8]
    return folder / f"{model_id}-{fingerprint[:16]}-{stamp}-{shape[0]}x{shape[1]}.xml"


def _ir_digest(xml: Path) -> str | None:
    try:
        return file_digest(xml) + file_digest(xml.with_suffix(".bin"))
    except OSError:
        return None


def _load_cached(xml: Path):
    """(ov.Model, ledger) converted and checked by an earlier session, or None when absent or damaged."""
    import openvino as ov

    ledger = ShapeLedger.load(xml.with_suffix(".shapes.json")) if xml.exists() else None
    if ledger is None or ledger.digest is None or ledger.digest != _ir_digest(xml):
        return None
    try:
        return ov.Core().read_model(str(xml)), ledger
    except RuntimeError:
        return None


def _save_cached(ov_model, xml: Path, ledger: ShapeLedger) -> bool:
    """Write the graph and its ledger; False when the cache cannot be written (it is then redone)."""
    import openvino as ov

    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(ov_model, str(xml), compress_to_fp16=False)
    except (OSError, RuntimeError):
        return False
    ledger.path = xml.with_suffix(".shapes.json")
    ledger.digest = _ir_digest(xml)
    ledger.save()
    return ledger.digest is not None


def _max_error(compiled, reference: nn.Module, inputs: list[Tensor]) -> float:
    worst = 0.0
    for x in inputs:
        with torch.inference_mode():
            expected = reference(x).float().numpy()
        got = _infer(compiled, x.numpy())
        if got.shape != expected.shape:
            return math.inf
        worst = max(worst, float(np.max(np.abs(got - expected))) if got.size else 0.0)
    return worst


def is_converted(model: nn.Module, *, model_id: str, shape: tuple[int, int], cache_dir: Path | None) -> bool:
    """Whether a checked conversion of ``model`` at ``shape`` is cached (building it then takes seconds)."""
    if openvino_unavailable_reason() is not None:
        return False
    folder = cache_dir if cache_dir is not None else openvino_cache_dir()
    xml = _ir_path(model_id, weights_fingerprint(model), shape, folder)
    ledger = ShapeLedger.load(xml.with_suffix(".shapes.json")) if xml.exists() else None
    return ledger is not None and ledger.digest == _ir_digest(xml)


def _convert_and_check(model, example, more, threads, cache_dir):
    """(ov.Model, compiled fp32, ledger): a dynamic graph checked at ``example`` and ``more``; when
    that fails, a static graph at ``example``."""
    failure = ""
    for dynamic in (True, False):
        checks = [example, *more] if dynamic else [example]
        try:
            ov_model = convert_model(model, example, dynamic)
            compiled = compile_model(ov_model, dtype="fp32", threads=threads, cache_dir=cache_dir)
            error = _max_error(compiled, model, checks)
        except (OpenVinoUnavailable, RuntimeError) as problem:
            failure += f"{'dynamic' if dynamic else 'static'}: {str(problem)[:300]}; "
            continue
        if error <= TOLERANCE:
            ledger = ShapeLedger(None, dynamic)
            ledger.verified = {tuple(x.shape) for x in checks}
            return ov_model, compiled, ledger
        failure += f"{'dynamic' if dynamic else 'static'}: differs from PyTorch by {error:.2e}; "
    raise OpenVinoUnavailable(failure.rstrip("; "))


def _bf16_psnr(ov_model, compiled32, compiled16, example: Tensor, multiple: int) -> float:
    """PSNR of the bf16 graph against the fp32 one on a crop of ``example`` (at most ~128 px a side)."""
    side = max(multiple, 128 // multiple * multiple)
    x = example[:, :, : min(side, example.shape[2]), : min(side, example.shape[3])].contiguous().numpy()
    return psnr_between(_infer(compiled16, x), _infer(compiled32, x))


def _choose_precision(ov_model, compiled32, example, ledger, *, multiple, threads, cache_dir):
    """(compiled, dtype, note): bf16 where the CPU has it and it keeps ``BF16_MIN_PSNR`` dB (checked
    once per cached graph; the figure is kept in its ledger)."""
    if not cpu_has_bf16():
        return compiled32, "fp32", "this CPU has no native bf16"
    compiled16 = compile_model(ov_model, dtype="bf16", threads=threads, cache_dir=cache_dir)
    if ledger.bf16_psnr is None:
        ledger.bf16_psnr = _bf16_psnr(ov_model, compiled32, compiled16, example, multiple)
        ledger.save()
    quality = ledger.bf16_psnr
    if quality < BF16_MIN_PSNR:
        return compiled32, "fp32", f"bf16 kept {quality:.1f} dB < {BF16_MIN_PSNR:g} dB; fp32 runs"
    return compiled16, "bf16", f"{min(quality, 99):.0f} dB from fp32"


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
) -> OpenVinoModule:
    """Convert ``model`` (CPU, eval mode) and check it, or load a conversion an earlier session checked.

    ``shape``: (H, W) of the example input, aligned to ``multiple`` (the tile read shape the caller
    will mostly run). ``dtype``: "fp32", or "bf16" to use bf16 where the CPU and the quality check
    allow. Raises ``OpenVinoUnavailable`` with the reason when the package is missing, conversion
    fails or the outputs differ from PyTorch.
    """
    reason = openvino_unavailable_reason()
    if reason is not None:
        raise OpenVinoUnavailable(reason)
    threads = threads or torch.get_num_threads()
    folder = cache_dir if cache_dir is not None else openvino_cache_dir()
    blobs = folder / "compiled"
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(1, channels, *shape, generator=generator)
    xml = _ir_path(model_id, weights_fingerprint(model), shape, folder)
    cached = _load_cached(xml)
    notes: list[str] = []
    if cached is not None:
        ov_model, ledger = cached
        compiled = compile_model(ov_model, dtype="fp32", threads=threads, cache_dir=blobs)
    else:
        if xml.exists():
            notes.append("the cached OpenVINO graph was damaged or stale; converted again")
        smaller = check_shapes(*shape, multiple)[1]
        more = [torch.rand(1, channels, *smaller, generator=generator)]
        ov_model, compiled, ledger = _convert_and_check(model, example, more, threads, blobs)
        if _save_cached(ov_model, xml, ledger):  # run what later sessions will load: the same pixels
            reloaded = _load_cached(xml)
            if reloaded is not None:
                ov_model = reloaded[0]
                compiled = compile_model(ov_model, dtype="fp32", threads=threads, cache_dir=blobs)
    chosen = "fp32"
    if dtype == "bf16":
        compiled, chosen, note = _choose_precision(
            ov_model, compiled, example, ledger, multiple=multiple, threads=threads, cache_dir=blobs
        )
        notes.append(note)
    return OpenVinoModule(
        compiled,
        model,
        dtype=chosen,
        multiple=multiple,
        static_shape=None if ledger.dynamic else shape,
        notes=tuple(notes),
    )
