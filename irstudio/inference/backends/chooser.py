"""Pick the fastest correct backend for a model on a device, measuring once and caching the verdict.

Candidates: eager PyTorch, eager in channels_last, OpenVINO in fp32 and in bf16 (CPU only; converted
from the torch module in seconds, checked against PyTorch within 1e-4, bf16 only where the CPU has
it and it keeps 45 dB), ONNX Runtime (CPU, fp32 only; checked within 1e-4; its export takes minutes)
and, when asked, ``torch.compile``. Each is built, then all are timed
round-robin on a random input of the tile read shape (median of ``repeat`` after one warm-up, under
the plan's precision); the fastest wins. A candidate that cannot be built (package missing, export
failed, outputs differ) is recorded with its reason and never chosen.

The verdict is cached per (model, device and its name, tile read shape, precision, threads) in
``paths.user_state_dir() / "backend-cache.json"`` (entries from another torch/ORT version are
ignored). With a cached verdict nothing is timed: the chosen backend is built again (an ONNX export
is itself cached on disk) and, if that fails now, eager PyTorch runs with a note saying why.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from irstudio.core.device import DeviceInfo
from irstudio.core.precision import Precision
from irstudio.inference.backends.cache import BACKEND_CACHE_NAME, VerdictCache, default_cache_path, make_key
from irstudio.inference.backends.compiled import COMPILE, compile_module, compile_unavailable_reason
from irstudio.inference.backends.eager import CHANNELS_LAST, EAGER, ChannelsLast
from irstudio.inference.backends.exported import BackendUnavailable
from irstudio.inference.backends.onnxrt import ONNX, build_onnx_module
from irstudio.inference.backends.openvino_rt import OPENVINO, build_openvino_module
from irstudio.inference.backends.timing import interleaved_medians

OPENVINO_BF16 = "openvino-bf16"
ALL_BACKENDS = (EAGER, CHANNELS_LAST, OPENVINO, OPENVINO_BF16, ONNX, COMPILE)


@dataclass(frozen=True)
class BackendVerdict:
    """What was measured: the winner, median seconds per candidate timed, and why others were not.

    ``shape``: the (H, W) input the timings are for. ``notes``: what happened since (e.g. a cached
    winner that could not be rebuilt).
    """

    backend: str
    shape: tuple[int, int]
    seconds: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cached: bool = False

    def speedup_over(self, baseline: str = EAGER) -> float | None:
        """How many times faster the winner ran than ``baseline`` (None when either was not timed)."""
        if baseline not in self.seconds or self.backend not in self.seconds:
            return None
        return self.seconds[baseline] / self.seconds[self.backend]

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "shape": list(self.shape),
            "seconds": self.seconds,
            "unavailable": self.unavailable,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> BackendVerdict:
        return cls(
            backend=str(entry["backend"]),
            shape=(int(entry["shape"][0]), int(entry["shape"][1])),
            seconds={str(k): float(v) for k, v in entry.get("seconds", {}).items()},
            unavailable={str(k): str(v) for k, v in entry.get("unavailable", {}).items()},
            cached=True,
        )


def backend_key(
    model_id: str,
    device: DeviceInfo,
    shape: tuple[int, int],
    dtype: str,
    candidates: Sequence[str] | None = None,
) -> str:
    """The cache key: model, device spec and name, tile read shape, precision, torch threads, and the
    candidate list when the caller restricted it (a restricted verdict never answers a full one)."""
    fields: dict[str, object] = {
        "model": model_id,
        "device": device.spec,
        "device_name": device.name,
        "shape": f"{shape[0]}x{shape[1]}",
        "dtype": dtype,
        "threads": torch.get_num_threads() if device.spec == "cpu" else "-",
    }
    if candidates is not None:
        fields["candidates"] = ",".join(candidates)
    return make_key(**fields)


def candidate_backends(device: str, dtype: str, *, allow_compile: bool = False) -> list[str]:
    """The backends worth timing: OpenVINO (fp32 and bf16, which runs bf16 inside a float32 graph)
    only on the CPU in fp32; compile only when allowed. ONNX Runtime is timed only when named: its
    export takes minutes, which a measurement on request should not spend by default."""
    names = [EAGER, CHANNELS_LAST]
    if torch.device(device).type == "cpu" and dtype == "fp32":
        names.extend((OPENVINO, OPENVINO_BF16))
    if allow_compile:
        names.append(COMPILE)
    return names


def build_backend(
    name: str,
    model: nn.Module,
    *,
    model_id: str,
    device: str,
    shape: tuple[int, int],
    multiple: int = 1,
    state_dir: Path | None = None,
    on_convert: Callable[[], None] | None = None,
) -> nn.Module:
    """A module running ``model`` (eval mode, already on ``device``) with backend ``name``.

    Exported graphs are cached under ``state_dir`` ("onnx", "openvino"; None: the user state folder);
    ``on_convert`` is called just before a graph is converted or exported (nothing cached), the one
    slow step. Raises ``BackendUnavailable`` (or an engine's subclass) with the reason when it cannot.
    """
    if name == EAGER:
        return model
    if name == CHANNELS_LAST:
        return ChannelsLast(model)
    if name in (OPENVINO, OPENVINO_BF16, ONNX) and torch.device(device).type != "cpu":
        raise BackendUnavailable(f"{name} is used on the CPU only")
    if name in (OPENVINO, OPENVINO_BF16):
        return build_openvino_module(
            model,
            model_id=model_id,
            shape=shape,
            multiple=multiple,
            dtype="bf16" if name == OPENVINO_BF16 else "fp32",
            cache_dir=state_dir / "openvino" if state_dir is not None else None,
            on_convert=on_convert,
        )
    if name == ONNX:
        return build_onnx_module(
            model,
            model_id=model_id,
            shape=shape,
            multiple=multiple,
            cache_dir=state_dir / "onnx" if state_dir is not None else None,
            on_export=on_convert,
        )
    if name == COMPILE:
        reason = compile_unavailable_reason(device)
        if reason is not None:
            raise BackendUnavailable(reason)
        return compile_module(model, device)
    raise BackendUnavailable(f"unknown backend {name!r}; known: {', '.join(ALL_BACKENDS)}")


def _runner(module: nn.Module, x: torch.Tensor, device: str, dtype: str) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode(), Precision(dtype).autocast(device):
            return module(x)

    return run


def _measure(
    modules: dict[str, nn.Module], device: str, shape: tuple[int, int], dtype: str, channels: int, repeat: int
) -> dict[str, float]:
    x = torch.rand(1, channels, *shape, generator=torch.Generator().manual_seed(0)).to(device)
    runs = [(name, _runner(module, x, device, dtype)) for name, module in modules.items()]
    return interleaved_medians(runs, device, repeat=repeat, warmup=1)


def _rebuild_cached(
    verdict: BackendVerdict, model: nn.Module, build: Callable[[str], nn.Module]
) -> tuple[nn.Module, BackendVerdict]:
    """Build the cached winner again; eager with a note when that fails now."""
    try:
        return build(verdict.backend), verdict
    except BackendUnavailable as error:
        note = f"{verdict.backend} was chosen when measured but is unavailable now ({error}); using eager"
        fallback = BackendVerdict(EAGER, verdict.shape, verdict.seconds, verdict.unavailable, (note,), True)
        return model, fallback


def choose_backend(
    model: nn.Module,
    *,
    model_id: str,
    device: DeviceInfo,
    shape: tuple[int, int],
    dtype: str = "fp32",
    multiple: int = 1,
    channels: int = 3,
    repeat: int = 3,
    allow_compile: bool = False,
    candidates: Sequence[str] | None = None,
    cache: VerdictCache | None = None,
    state_dir: Path | None = None,
    remeasure: bool = False,
) -> tuple[nn.Module, BackendVerdict]:
    """The fastest correct way to run ``model`` on ``device`` for inputs of ``shape`` (H, W).

    ``model``: eval mode, on ``device``; converted in place to channels_last when that wins. Returns
    (module to call instead of ``model``, verdict); the module may hold an export of the weights
    (ONNX), so choose again after loading other weights. Measures only when the cache has no
    verdict for this key (or ``remeasure``); the verdict is then cached.
    """
    cache = cache if cache is not None else VerdictCache(default_cache_path(BACKEND_CACHE_NAME))
    key = backend_key(model_id, device, shape, dtype, candidates)
    model.eval().to(device.spec)

    def build(name: str) -> nn.Module:
        return build_backend(
            name,
            model,
            model_id=model_id,
            device=device.spec,
            shape=shape,
            multiple=multiple,
            state_dir=state_dir,
        )

    entry = None if remeasure else cache.get(key)
    if entry is not None:
        return _rebuild_cached(BackendVerdict.from_json(entry), model, build)
    names = (
        list(candidates)
        if candidates is not None
        else candidate_backends(device.spec, dtype, allow_compile=allow_compile)
    )
    modules: dict[str, nn.Module] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        try:
            # channels_last converts weights in place: time it on a copy so eager stays eager.
            modules[name] = ChannelsLast(copy.deepcopy(model)) if name == CHANNELS_LAST else build(name)
        except BackendUnavailable as error:
            unavailable[name] = str(error)
    if not modules:
        modules[EAGER] = model
    seconds = _measure(modules, device.spec, shape, dtype, channels, repeat)
    winner = min(seconds, key=seconds.__getitem__)
    chosen = build(winner) if winner == CHANNELS_LAST else modules[winner]
    del modules
    verdict = BackendVerdict(winner, shape, seconds, unavailable)
    cache.put(key, verdict.to_json())
    return chosen, verdict
