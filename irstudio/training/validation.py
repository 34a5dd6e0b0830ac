"""Validation during training: PSNR/SSIM of the model on the fixed validation crops.

Measured as the benchmarks are (core/metrics): outputs clamped to [0, 1] and rounded to uint8; SR
crops ``scale`` pixels at each border and measures Y; denoising measures RGB; JPEG and deraining Y.
Runs in fp32, one crop at a time (crops differ in size), under ``torch.no_grad``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from irstudio.core.image_io import to_uint8
from irstudio.core.metrics import psnr, ssim
from irstudio.data import ValidationCrops

Preview = tuple[np.ndarray, np.ndarray, np.ndarray]


def metric_settings(task: str, scale: int) -> tuple[int, str]:
    """(border crop, colour space) for a task, as the benchmarks measure it."""
    if task == "sr":
        return scale, "y"
    return 0, "rgb" if task == "denoise" else "y"


@torch.no_grad()
def validate(
    model: nn.Module,
    crops: ValidationCrops,
    *,
    device: torch.device,
    task: str,
    scale: int,
    previews: int = 4,
) -> tuple[float, float, tuple[Preview, ...]]:
    """(mean PSNR, mean SSIM, up to ``previews`` (input, output, target) uint8 triplets).

    ``model`` is switched to eval mode for the call and back to its previous mode afterwards.
    """
    crop, space = metric_settings(task, scale)
    was_training = model.training
    model.eval()
    psnr_values, ssim_values, shown = [], [], []
    try:
        for index, (lq, gt) in enumerate(zip(crops.inputs, crops.targets, strict=True)):
            batch = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1)))[None].to(device)
            output = model(batch).float().clamp_(0.0, 1.0)[0].permute(1, 2, 0).cpu().numpy()
            output_u8, target_u8 = to_uint8(output), to_uint8(gt)
            psnr_values.append(psnr(output_u8, target_u8, crop=crop, space=space))
            ssim_values.append(ssim(output_u8, target_u8, crop=crop, space=space))
            if index < previews:
                shown.append((to_uint8(np.clip(lq, 0.0, 1.0)), output_u8, target_u8))
    finally:
        model.train(was_training)
    return float(np.mean(psnr_values)), float(np.mean(ssim_values)), tuple(shown)
