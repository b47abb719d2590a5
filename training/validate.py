"""Quick per-epoch validation on centre crops and a sample image grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from core.scoring.metrics import psnr, ssim
from training.data import PairDataset


@torch.inference_mode()
def predict_rgb01(generator: nn.Module, sar: torch.Tensor, device: torch.device) -> np.ndarray:
    """N x C x H x W SAR in [-1, 1] -> N x H x W x 3 RGB in [0, 1]; mirrored to the network's multiple like tiles."""
    generator.eval()
    h, w = sar.shape[-2:]
    multiple = generator.config.multiple
    pad = ((0, 0), (0, 0), (0, -h % multiple), (0, -w % multiple))
    padded = torch.from_numpy(np.pad(sar.numpy(), pad, mode="symmetric"))
    out = generator(padded.to(device)).float().clamp(-1, 1)[..., :h, :w]
    return ((out + 1) * 0.5).permute(0, 2, 3, 1).cpu().numpy()


def to_rgb01(target: torch.Tensor) -> np.ndarray:
    """3 x H x W in [-1, 1] -> H x W x 3 in [0, 1]."""
    return ((target.numpy().transpose(1, 2, 0) + 1) * 0.5).clip(0, 1)


def validate(generator: nn.Module, dataset: PairDataset, device: torch.device) -> dict[str, float]:
    """Mean PSNR / SSIM over the dataset's centre crops (colour targets only)."""
    scores = []
    for index in range(len(dataset)):
        sar, target, has_colour, _ = dataset[index]
        if not has_colour:
            continue
        prediction = predict_rgb01(generator, sar[None], device)[0]
        truth = to_rgb01(target)
        scores.append((psnr(prediction, truth), ssim(prediction, truth)))
    values = np.array(scores) if scores else np.full((1, 2), np.nan)
    return {"psnr": float(values[:, 0].mean()), "ssim": float(values[:, 1].mean())}


def save_sample_grid(
    generator: nn.Module, dataset: PairDataset, path: Path, device: torch.device, count: int = 4
) -> None:
    """Rows of SAR | prediction | truth for the first `count` items."""
    rows = []
    for index in range(min(count, len(dataset))):
        sar, target, _, _ = dataset[index]
        prediction = predict_rgb01(generator, sar[None], device)[0]
        grey = np.repeat(((sar[-1].numpy() + 1) * 0.5)[..., None], 3, axis=2)
        rows.append(np.concatenate([grey, prediction, to_rgb01(target)], axis=1))
    if rows:
        Image.fromarray((np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)).save(path)
