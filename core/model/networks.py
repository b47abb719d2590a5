"""U-Net generator (pix2pix family), shared by training and inference.

Input: SAR in [-1, 1], N x C_in x H x W with H, W multiples of 2**depth; C_in follows
the model's input space (`core.rasters.normalise.InputSpace`).
Output: RGB in [-1, 1]. The LAB variant predicts (L, a, b) and converts to RGB
inside the module, so every generator speaks RGB to the rest of the system. With
`ab_bins`, the LAB variant classifies a*b* into a grid of bins instead of regressing them
(mode-seeking, as colourisation does: a pixel that may be green or tan is painted one of
the two, not their brown mean) and decodes the bins by their annealed mean; it picks
colour on a grid `BIN_STRIDE` times coarser than the pixels (colour varies slowly; L stays
at full resolution), which keeps the bins' softmax cheap.
With `context`, the bottleneck's mean over the whole tile is added back to every
bottleneck cell, so colour decisions see the tile's overall backscatter, whatever
the tile size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import kornia.color
import torch
from torch import nn

from core.model.ab_bins import annealed_mean, bin_centres, bin_of
from core.rasters.normalise import InputSpace

LAB_SCALE = torch.tensor([50.0, 110.0, 110.0])  # tanh output -> L in [0, 100], a/b in [-110, 110]
LAB_OFFSET = torch.tensor([50.0, 0.0, 0.0])
BIN_STRIDE = 4  # bins models pick a*b* once per 4 x 4 pixels


class BinsOutput(NamedTuple):
    """A bins generator's raw output."""

    lightness: torch.Tensor  # N x 1 x H x W, L in tanh units
    logits: torch.Tensor  # N x bins**2 x H/4 x W/4, a*b* bin logits


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a U-Net generator."""

    input_space: str = InputSpace.STRETCH.value  # stretch | fixed | fixed+stretch
    ngf: int = 16
    depth: int = 8
    norm: str = "batch"  # batch | group | instance | none
    upsample: str = "transpose"  # transpose (2.3x faster on CPU) | resize (resize + conv, no checkerboard)
    dropout: float = 0.0
    output_space: str = "rgb"  # rgb | lab (predicts L, a, b; converted to RGB)
    context: bool = False  # add the tile-wide mean of the bottleneck back to every cell
    ab_bins: int = 0  # lab only: 0 regresses a*b*; n classifies them into an n x n grid of bins
    ab_range: float = 0.55  # bins: the grid spans +-this in tanh units (x 110 = a*, b*)
    ab_temperature: float = 0.38  # bins: annealed mean's temperature (1 = the mean, towards 0 = the mode)

    def __post_init__(self) -> None:
        if self.ab_bins and (self.output_space != "lab" or self.depth < 3):
            raise ValueError("a*b* bins need output_space 'lab' and depth >= 3")

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def in_channels(self) -> int:
        return InputSpace(self.input_space).channels

    @property
    def multiple(self) -> int:
        """Tile sides must be multiples of this."""
        return 2**self.depth

    def bin_of(self, ab: torch.Tensor) -> torch.Tensor:
        """Bin index of each pixel of N x 2 x H x W a*b* (tanh units): N x H x W."""
        return bin_of(ab, self.ab_bins, self.ab_range)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels // 4) or 1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def _up(kind: str, c_in: int, c_out: int) -> nn.Module:
    if kind == "transpose":
        return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
    if kind == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1))
    raise ValueError(f"unknown upsample {kind!r}")


class UNetGenerator(nn.Module):
    """pix2pix U-Net: `depth` stride-2 encoder levels with skip connections."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        widths = [min(config.ngf * 2**i, config.ngf * 8) for i in range(config.depth)]
        self.down = nn.ModuleList()
        c_prev = config.in_channels
        for level, width in enumerate(widths):
            innermost, outermost = level == config.depth - 1, level == 0
            layers: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(c_prev, width, 4, stride=2, padding=1, bias=innermost or outermost))
            if not (innermost or outermost):
                layers.append(_norm(config.norm, width))
            self.down.append(nn.Sequential(*layers))
            c_prev = width
        self.up = nn.ModuleList()
        for level in reversed(range(config.depth)):
            innermost, outermost = level == config.depth - 1, level == 0
            c_in = widths[level] if innermost else widths[level] * 2
            c_out = (1 if config.ab_bins else 3) if outermost else widths[level - 1]
            layers = [nn.ReLU(), _up(config.upsample, c_in, c_out)]
            if not outermost:
                layers.append(_norm(config.norm, c_out))
                if config.dropout > 0 and level >= config.depth - 3:
                    layers.append(nn.Dropout(config.dropout))
            else:
                layers.append(nn.Tanh())
            self.up.append(nn.Sequential(*layers))
        if config.ab_bins:  # a*b* bin logits from the decoder's features at 1/BIN_STRIDE resolution
            self.bins_head = nn.Conv2d(2 * widths[1], config.ab_bins**2, 1)
            self.register_buffer("centres", bin_centres(config.ab_bins, config.ab_range), persistent=False)

    def forward_raw(self, x: torch.Tensor) -> torch.Tensor | BinsOutput:
        """Network output before colour conversion: RGB or LAB in [-1, 1]; with bins, L and the bin logits."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # innermost output feeds the decoder directly
        if self.config.context:
            x = x + x.mean(dim=(2, 3), keepdim=True)
        logits = None
        for level, block in zip(reversed(range(self.config.depth)), self.up, strict=True):
            x = block(x)
            if skips:
                x = torch.cat([x, skips.pop()], dim=1)
            if level == 2 and self.config.ab_bins:  # 1/4 resolution
                logits = self.bins_head(x)
        return BinsOutput(x, logits) if self.config.ab_bins else x

    def lab_raw(self, raw: torch.Tensor | BinsOutput) -> torch.Tensor:
        """(L, a, b) in tanh space from `forward_raw`'s output: bins decoded by their annealed mean, upsampled."""
        if not self.config.ab_bins:
            return raw
        ab = annealed_mean(raw.logits, self.centres, self.config.ab_temperature)
        ab = nn.functional.interpolate(ab, scale_factor=BIN_STRIDE, mode="bilinear", align_corners=False)
        return torch.cat([raw.lightness.float(), ab], dim=1)

    def forward(self, x: torch.Tensor, raw_output: bool = False) -> torch.Tensor:
        """RGB in [-1, 1]; with `raw_output` the pre-conversion output (LAB models' training)."""
        raw = self.forward_raw(x)
        if raw_output:
            return raw
        if self.config.output_space == "lab":
            return lab_raw_to_rgb(self.lab_raw(raw))
        return raw


def lab_raw_to_rgb(raw: torch.Tensor) -> torch.Tensor:
    """(L, a, b) in tanh space -> RGB in [-1, 1] (kornia, differentiable)."""
    scale = LAB_SCALE.to(raw.device, torch.float32).view(1, 3, 1, 1)
    offset = LAB_OFFSET.to(raw.device, torch.float32).view(1, 3, 1, 1)
    lab = raw.float() * scale + offset
    rgb = kornia.color.lab_to_rgb(lab, clip=True)
    return rgb * 2.0 - 1.0


def build_generator(config: GeneratorConfig) -> UNetGenerator:
    """A freshly initialised generator (pix2pix N(0, 0.02) init)."""
    model = UNetGenerator(config)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and module.weight is not None:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    return model
