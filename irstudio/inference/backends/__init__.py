"""Inference backends: eager PyTorch (optionally channels_last), ONNX Runtime and ``torch.compile``,
and a chooser that times them once per (model, device, tile shape, precision) and caches the verdict.

Every backend is an ``nn.Module`` taking (1, C, H, W) float tensors and returning
(1, C_out, H * scale, W * scale), so the tiled runner uses it exactly like the plain model.
"""

from __future__ import annotations

from irstudio.inference.backends.cache import VerdictCache, environment_stamp
from irstudio.inference.backends.chooser import (
    ALL_BACKENDS,
    OPENVINO_BF16,
    BackendUnavailable,
    BackendVerdict,
    backend_key,
    build_backend,
    candidate_backends,
    choose_backend,
)
from irstudio.inference.backends.compiled import COMPILE, compile_unavailable_reason
from irstudio.inference.backends.eager import CHANNELS_LAST, EAGER, ChannelsLast, unwrap
from irstudio.inference.backends.exported import weights_fingerprint
from irstudio.inference.backends.hardware import bench_threads, describe_hardware, physical_cores, use_threads
from irstudio.inference.backends.onnxrt import (
    ONNX,
    OPSET,
    TOLERANCE,
    OnnxModule,
    OnnxUnavailable,
    build_onnx_module,
    export_onnx,
    onnx_unavailable_reason,
)
from irstudio.inference.backends.openvino_rt import OPENVINO
from irstudio.inference.backends.timing import interleaved_medians, median_seconds, synchronize

__all__ = [
    "ALL_BACKENDS",
    "CHANNELS_LAST",
    "COMPILE",
    "EAGER",
    "ONNX",
    "OPENVINO",
    "OPENVINO_BF16",
    "OPSET",
    "TOLERANCE",
    "BackendUnavailable",
    "BackendVerdict",
    "ChannelsLast",
    "OnnxModule",
    "OnnxUnavailable",
    "VerdictCache",
    "backend_key",
    "bench_threads",
    "build_backend",
    "build_onnx_module",
    "candidate_backends",
    "choose_backend",
    "compile_unavailable_reason",
    "describe_hardware",
    "environment_stamp",
    "export_onnx",
    "interleaved_medians",
    "median_seconds",
    "onnx_unavailable_reason",
    "physical_cores",
    "synchronize",
    "unwrap",
    "use_threads",
    "weights_fingerprint",
]
