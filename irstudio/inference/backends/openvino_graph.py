"""OpenVINO graphs of our torch modules: convert, compile, run, and check against PyTorch.

Convert (``convert_model``): the module's forward is traced as a function (parameters become graph
constants, so no TorchScript module tree is built, which costs seconds for models of thousands of
submodules) at a small aligned crop (``TRACE_SIDE``: tracing runs the model once, so this keeps conversion
memory low), then ``openvino.convert_model`` with dynamic height and width, or a static shape.
OpenVINO's usage telemetry is off while it loads and converts (nothing sent, nothing written to
``~/intel``): ``load_openvino`` is the one way the module is imported.

Check (``check_graph``): outputs are compared with PyTorch fp32 on the check inputs. In fp32 they
must agree within ``TOLERANCE`` (max absolute difference); in bf16 the PSNR must be at least
``BF16_MIN_PSNR`` dB. A trace that baked a shape into the graph fails either check by far.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from irstudio.inference.backends.exported import BackendUnavailable, quiet

TOLERANCE = 1e-4
BF16_MIN_PSNR = 45.0
TRACE_SIDE = 128


class OpenVinoUnavailable(BackendUnavailable):
    """The model cannot run on OpenVINO here; the message says exactly why."""


def load_openvino():
    """The ``openvino`` module. Every use goes through here: its first import starts OpenVINO's
    usage telemetry (a client id and stats in ``~/intel``, events sent), so it is imported with
    the telemetry off (``_no_telemetry``). Raises ``ImportError``/``OSError`` as the import does."""
    with _no_telemetry():
        import openvino
    return openvino


def openvino_unavailable_reason() -> str | None:
    """Why OpenVINO cannot be used at all (package missing), or None when it can."""
    try:
        load_openvino()
    except ImportError:
        return "not installed: openvino (pip install openvino)"
    except OSError as error:  # installed, but a shared library of it cannot be loaded here
        return f"openvino cannot load: {error}"
    return None


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 natively here (AVX512_BF16 or AMX)."""
    if openvino_unavailable_reason() is not None:
        return False
    ov = load_openvino()

    try:
        capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False
    return "BF16" in capabilities


@contextlib.contextmanager
def _constant_parameters(model: nn.Module) -> Iterator[None]:
    """Parameters without ``requires_grad`` while tracing (the tracer then takes them as constants);
    the flags are put back afterwards."""
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


@contextlib.contextmanager
def _no_telemetry() -> Iterator[None]:
    """OpenVINO's converter sends usage telemetry unless told not to, and creates ``~/intel`` in the
    user's home for it. A photo app has no business doing either: the converter's documented opt-out
    for automated runs (``CI=true``, which it checks) is set while it runs, then put back."""
    previous = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = previous


def trace_crop(example: Tensor, multiple: int) -> Tensor:
    """A small aligned crop of ``example`` (about ``TRACE_SIDE`` px a side, never larger than it)."""
    side = max(multiple, -(-TRACE_SIDE // multiple) * multiple)
    return example[:, :, : min(side, example.shape[2]), : min(side, example.shape[3])].contiguous()


def convert_model(model: nn.Module, example: Tensor, dynamic: bool):
    """An ``openvino.Model`` for ``model`` (CPU, eval mode) traced at ``example`` (1, C, H, W); H and
    W dynamic or fixed. Raises ``OpenVinoUnavailable`` naming the converter's error."""
    ov = load_openvino()

    shape = [1, example.shape[1], -1, -1] if dynamic else list(example.shape)
    try:
        with quiet("openvino"), _no_telemetry(), torch.no_grad(), _constant_parameters(model):
            traced = torch.jit.trace(lambda x: model(x), example, check_trace=False)
            return ov.convert_model(traced, example_input=example, input=[ov.PartialShape(shape)])
    except Exception as error:  # the tracer and converter raise many types; all mean "cannot convert"
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise OpenVinoUnavailable(f"conversion failed: {type(error).__name__}: {first}") from None


def compile_model(ov_model, *, dtype: str, threads: int, cache_dir: Path | None):
    """Compile for the CPU with ``dtype`` ("fp32" or "bf16") inference precision and ``threads``;
    OpenVINO keeps its compiled blobs in ``cache_dir`` (a later start compiles faster)."""
    ov = load_openvino()

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


def infer(compiled, x: np.ndarray) -> np.ndarray:
    """The compiled model's first output for ``x`` (a copy: OpenVINO reuses its output buffer)."""
    return np.array(compiled(x)[0], copy=True)


def psnr_between(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 1) of ``a`` against ``b`` after clipping both to [0, 1]; inf when equal."""
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def reference_outputs(reference: nn.Module, inputs: Sequence[Tensor]) -> list[np.ndarray]:
    """PyTorch fp32 outputs for ``inputs`` (what graphs are checked against)."""
    with torch.inference_mode():
        return [reference(x).float().numpy() for x in inputs]


def check_graph(compiled, dtype: str, inputs: Sequence[Tensor], expected: Sequence[np.ndarray]) -> float:
    """Check ``compiled`` against ``expected`` (see module doc). Returns the figure checked: the max
    absolute error (fp32) or the lowest PSNR in dB (bf16). Raises ``OpenVinoUnavailable`` when it
    fails or the graph cannot run an input."""
    figures = []
    for x, want in zip(inputs, expected, strict=True):
        try:
            got = infer(compiled, x.numpy())
        except RuntimeError as error:
            raise OpenVinoUnavailable(f"failed on input {tuple(x.shape)}: {str(error)[:200]}") from None
        if got.shape != want.shape:
            raise OpenVinoUnavailable(f"output shape {got.shape} where PyTorch gives {want.shape}")
        figures.append(psnr_between(got, want) if dtype == "bf16" else float(np.max(np.abs(got - want))))
    if dtype == "bf16":
        worst = min(figures)
        if worst < BF16_MIN_PSNR:
            raise OpenVinoUnavailable(f"bf16 kept {worst:.1f} dB < {BF16_MIN_PSNR:g} dB")
        return worst
    worst = max(figures)
    if worst > TOLERANCE:
        raise OpenVinoUnavailable(f"differs from PyTorch by {worst:.2e} > {TOLERANCE:g}")
    return worst
