"""PatchGAN discriminator (pix2pix): 70 x 70 receptive field, conditioned on the SAR input."""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Scores overlapping 70 x 70 patches of (SAR, RGB) as real or fake (logits)."""

    def __init__(self, in_channels: int = 1 + 3, ndf: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = ndf
        for stride, mult in ((2, 2), (2, 4), (1, 8)):
            layers += [
                nn.Conv2d(width, ndf * mult, 4, stride, 1, bias=False),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2),
            ]
            width = ndf * mult
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(self, sar: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([sar, rgb], dim=1))


def receptive_field(model: PatchDiscriminator) -> int:
    """Receptive field of one output logit, in input pixels."""
    field, jump = 1, 1
    for layer in model.net:
        if isinstance(layer, nn.Conv2d):
            field += (layer.kernel_size[0] - 1) * jump
            jump *= layer.stride[0]
    return field
