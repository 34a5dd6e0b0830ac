"""Classical baselines as modules, so every task has something to compare learned models against.

Each takes (N, 3, H, W) float32 RGB in [0, 1] on any device and returns the same layout; the work
runs on the CPU in numpy/OpenCV. Their support radius is small (bicubic: 2 px, NL-means: 13 px),
so tiles with the runner's default 16 px context reproduce the whole-image result.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import nn

from irstudio.core.resize import imresize


def _per_image(x: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """Apply ``fn`` (HxWx3 float32 numpy in [0,1] -> HxWx3) to each image of the batch."""
    outputs = []
    for image in x.detach().float().cpu().permute(0, 2, 3, 1).numpy():
        outputs.append(torch.from_numpy(np.ascontiguousarray(fn(image), dtype=np.float32)))
    return torch.stack(outputs).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype)


class Identity(nn.Module):
    """Returns its input unchanged: the 'do nothing' reference for every task."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Bicubic(nn.Module):
    """MATLAB-compatible bicubic upscaling by ``scale`` (the SR papers' baseline)."""

    def __init__(self, *, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _per_image(x, lambda image: imresize(image, self.scale))


class NLMeans(nn.Module):
    """OpenCV non-local means colour denoising (template 7, search 21); ``h`` is the filter strength
    on the 0-255 scale (10 suits σ ≈ 15-25)."""

    def __init__(self, *, h: float = 10.0) -> None:
        super().__init__()
        self.h = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def denoise(image: np.ndarray) -> np.ndarray:
            as_uint8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
            bgr = cv2.cvtColor(as_uint8, cv2.COLOR_RGB2BGR)
            out = cv2.fastNlMeansDenoisingColored(bgr, None, self.h, self.h, 7, 21)
            return cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0

        return _per_image(x, denoise)


class NLMeansBicubic(nn.Module):
    """Non-local means (``h`` as ``NLMeans``) at the input's size, then MATLAB bicubic by ``scale``:
    the chain a user without a learned model would apply to a noisy, small photo."""

    def __init__(self, *, scale: int, h: float = 10.0) -> None:
        super().__init__()
        self.denoise = NLMeans(h=h)
        self.upscale = Bicubic(scale=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.upscale(self.denoise(x))
        return y
