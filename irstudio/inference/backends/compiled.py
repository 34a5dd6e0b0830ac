"""``torch.compile`` as an opt-in backend.

Compiling costs 5-70 s per model and tile shape on a CPU (performance.md §3.2, §3.6) and needs a C++
compiler there; it helped a plain conv net and hurt a window transformer, so the chooser only tries
it when asked (``allow_compile``) and keeps it only where it measured faster. On CUDA
``mode="reduce-overhead"`` adds CUDA graphs (static shapes: one graph per tile shape).
"""

from __future__ import annotations

import shutil

import torch
from torch import nn

COMPILE = "compile"


def compile_unavailable_reason(device: str) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here, or None when it can."""
    if not hasattr(torch, "compile"):
        return "this torch has no torch.compile"
    kind = torch.device(device).type
    if kind == "cpu" and not any(shutil.which(name) for name in ("cc", "gcc", "clang", "cl")):
        return "torch.compile on CPU needs a C++ compiler, and none is on PATH"
    if kind == "mps":
        return "torch.compile is not used on MPS"
    return None


def compile_module(model: nn.Module, device: str, *, cuda_graphs: bool = True) -> nn.Module:
    """``torch.compile(model)`` (compiled lazily on the first call; shapes go dynamic after the first
    recompile). On CUDA with ``cuda_graphs`` the mode is ``"reduce-overhead"``."""
    reason = compile_unavailable_reason(device)
    if reason is not None:
        raise RuntimeError(reason)
    mode = "reduce-overhead" if cuda_graphs and torch.device(device).type == "cuda" else None
    return torch.compile(model, mode=mode)
