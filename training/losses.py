"""Loss terms of the four variants. Images are N x 3 x H x W RGB in [-1, 1].

`has_colour` (N bools) marks RGB targets; grey targets supervise luminance only
(CIELAB L), never a grey RGB target.
"""

from __future__ import annotations

import kornia.color
import torch
import torch.nn.functional as F

from core.model.networks import BIN_STRIDE, LAB_OFFSET, LAB_SCALE, BinsOutput, GeneratorConfig


def to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] -> CIELAB (L in [0, 100], a/b about [-110, 110]), differentiable."""
    return kornia.color.rgb_to_lab(((rgb.float() + 1.0) * 0.5).clamp(0.0, 1.0))


def lab_to_raw(lab: torch.Tensor) -> torch.Tensor:
    """CIELAB -> the LAB generator's tanh space."""
    return (lab - LAB_OFFSET.to(lab.device).view(1, 3, 1, 1)) / LAB_SCALE.to(lab.device).view(1, 3, 1, 1)


def _split_mean(per_pixel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the selected samples (0 if none)."""
    if not mask.any():
        return per_pixel.new_zeros(())
    return per_pixel[mask].mean()


def supervised_l1(fake: torch.Tensor, real: torch.Tensor, has_colour: torch.Tensor) -> torch.Tensor:
    """L1 on RGB for colour targets, on L (scaled to [-1, 1] units) for grey ones, averaged per sample."""
    colour = _split_mean((fake - real).abs(), has_colour)
    grey = _split_mean(((to_lab(fake)[:, :1] - to_lab(real)[:, :1]) / 50.0).abs(), ~has_colour)
    share = has_colour.float().mean()
    return share * colour + (1 - share) * grey


def supervised_mse(fake: torch.Tensor, real: torch.Tensor, has_colour: torch.Tensor) -> torch.Tensor:
    """MSE counterpart of `supervised_l1`."""
    colour = _split_mean((fake - real) ** 2, has_colour)
    grey = _split_mean(((to_lab(fake)[:, :1] - to_lab(real)[:, :1]) / 50.0) ** 2, ~has_colour)
    share = has_colour.float().mean()
    return share * colour + (1 - share) * grey


def lab_gradient_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between forward-difference gradients of the CIELAB L channel (scaled by 1/100)."""
    lf, lr = to_lab(fake)[:, :1] / 100.0, to_lab(real)[:, :1] / 100.0
    dx = (lf[..., :, 1:] - lf[..., :, :-1]) - (lr[..., :, 1:] - lr[..., :, :-1])
    dy = (lf[..., 1:, :] - lf[..., :-1, :]) - (lr[..., 1:, :] - lr[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def lab_l1(
    raw_fake: torch.Tensor, real: torch.Tensor, has_colour: torch.Tensor, chroma_weight: float = 1.0
) -> torch.Tensor:
    """L->ab model: L1 in the generator's LAB tanh space, a/b weighted by `chroma_weight`; grey targets: L only."""
    target = lab_to_raw(to_lab(real))
    diff = (raw_fake.float() - target).abs()
    weights = diff.new_tensor([1.0, chroma_weight, chroma_weight]).view(1, 3, 1, 1)
    colour = _split_mean(diff * weights, has_colour)
    grey = _split_mean(diff[:, :1], ~has_colour)
    share = has_colour.float().mean()
    return share * colour + (1 - share) * grey


def flood_lightness_loss(raw_fake: torch.Tensor, real: torch.Tensor, flooded: torch.Tensor) -> torch.Tensor:
    """L1 of L (tanh units) over the flooded pixels of the batch (0 if none).

    Dark, smooth SAR is both water and dry dark ground; L1 paints such pixels at the median of both, so flood water
    comes out lighter than its truth. Weighting the pixels that OMBRIA's flood masks mark as water moves that median.
    """
    mask = flooded[:, 0]
    if not mask.any():
        return raw_fake.new_zeros(()).float()
    target = lab_to_raw(to_lab(real))[:, 0]
    return (raw_fake.float()[:, 0] - target).abs()[mask].mean()


def chroma_spread_loss(raw_fake: torch.Tensor, real: torch.Tensor, has_colour: torch.Tensor) -> torch.Tensor:
    """Per-image spread of a/b against the target's (tanh units), colour targets only.

    L1 alone pulls a/b towards the conditional median (a wash); this term asks each
    image's colours to vary as much as the truth's do, without saying where.
    """
    if not has_colour.any():
        return raw_fake.new_zeros(())
    target = lab_to_raw(to_lab(real[has_colour]))[:, 1:]
    fake = raw_fake[has_colour].float()[:, 1:]
    return (fake.std(dim=(2, 3)) - target.std(dim=(2, 3))).abs().mean()


def adversarial(logits: torch.Tensor, target: float) -> torch.Tensor:
    """BCE with logits against a constant (possibly smoothed) label."""
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits.float(), target))


class BinRebalancing:
    """Per-bin weights of the a*b* cross-entropy from the bin frequencies of the colour targets seen so far.

    Weight ∝ 1 / ((1 - mix) p + mix / bins), mean 1 under p (Zhang et al., 2016): the rare saturated greens
    and dark water count as much as the common tan, so the mode the network learns is not always tan.
    Counted as training goes (no pass over the data first); the counts travel in the trainer's state.
    """

    def __init__(self, bins: int, mix: float = 0.5) -> None:
        self.counts, self.mix = torch.ones(bins), mix

    def update(self, target_bins: torch.Tensor) -> torch.Tensor:
        """Count a batch's target bins; the weights for it."""
        self.counts += torch.bincount(target_bins.flatten().cpu(), minlength=len(self.counts)).float()
        return rebalanced(self.counts / self.counts.sum(), self.mix).to(target_bins.device)


def rebalanced(p: torch.Tensor, mix: float) -> torch.Tensor:
    """Per-bin weights ∝ 1 / ((1 - mix) p + mix / bins) for bin frequencies p, scaled to mean 1 under p."""
    weights = 1.0 / ((1 - mix) * p + mix / len(p))
    return weights / (weights * p).sum()


def lab_bins_loss(
    raw_fake: BinsOutput,
    real: torch.Tensor,
    has_colour: torch.Tensor,
    config: GeneratorConfig,
    rebalancing: BinRebalancing,
    chroma_weight: float = 1.0,
) -> torch.Tensor:
    """L1 on L (tanh units) for every target; for colour targets also the rebalanced cross-entropy of the
    bin of the true a*b* averaged over each BIN_STRIDE x BIN_STRIDE cell (x `chroma_weight`)."""
    target = lab_to_raw(to_lab(real))
    l1 = (raw_fake.lightness.float() - target[:, :1]).abs()
    if not has_colour.any():
        return l1.mean()
    bins = config.bin_of(F.avg_pool2d(target[has_colour, 1:], BIN_STRIDE))
    weights = rebalancing.update(bins)
    ce = F.cross_entropy(raw_fake.logits[has_colour].float(), bins, reduction="none") * weights[bins]
    share = has_colour.float().mean()
    return l1.mean() + share * chroma_weight * ce.mean()
