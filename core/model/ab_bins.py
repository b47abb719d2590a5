"""A square grid of CIELAB a*b* bins: colour as a class, for models that pick a colour instead of averaging them.

a*b* are in tanh units (x 110 = a*, b*); the grid spans +-`span` on both axes in `bins` steps. A pixel's
colour is one bin; a prediction (logits over the bins) is decoded by the annealed mean, which sits
between the distribution's mean (temperature 1) and its mode (towards 0) (Zhang et al., 2016).
"""

from __future__ import annotations

import torch


def bin_centres(bins: int, span: float) -> torch.Tensor:
    """(bins * bins) x 2 a*b* centres, tanh units."""
    edges = torch.linspace(-span, span, bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    return torch.stack(torch.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)


def bin_of(ab: torch.Tensor, bins: int, span: float) -> torch.Tensor:
    """Bin index of each pixel of N x 2 x H x W a*b* (outside the grid: its edge bin): N x H x W."""
    unit = (ab.clamp(-span, span * (1 - 1e-6)) + span) / (2 * span)
    index = (unit * bins).long()
    return index[:, 0] * bins + index[:, 1]


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float) -> torch.Tensor:
    """a*b* (N x 2 x H x W) from bin logits (N x K x H x W) and the K x 2 centres."""
    weights = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("nkhw,kc->nchw", weights, centres)
