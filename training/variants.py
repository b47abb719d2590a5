"""The training variants, each described once: adversarial or not, supervised loss, log key, output space."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.records.artefacts import generator_loss


class Loss(StrEnum):
    """The generator's supervised loss (`training.losses`)."""

    L1 = "l1"  # RGB L1 for colour targets, CIELAB L for grey ones (supervised_l1)
    MSE = "mse"  # its squared counterpart (supervised_mse)
    LAB_L1 = "lab_l1"  # L1 in the LAB generator's tanh space, plus the optional a/b spread term (lab_l1)
    LAB_BINS = "lab_bins"  # L1 on L, rebalanced cross-entropy over a*b* bins (lab_bins_loss)


@dataclass(frozen=True)
class Variant:
    """One way of training the generator."""

    name: str
    adversarial: bool  # a PatchGAN discriminator trains beside the generator
    loss: Loss
    output_space: str  # the generator's output space (`core.model.networks.GeneratorConfig.output_space`)
    bins: bool = False  # the generator classifies a*b* into bins (`GeneratorConfig.ab_bins` > 0)

    def __post_init__(self) -> None:
        if self.adversarial and self.output_space != "rgb":
            raise ValueError(f"variant {self.name!r}: the discriminator judges RGB, so the generator must output rgb")

    @property
    def log_key(self) -> str:
        """The step record's key of the supervised loss."""
        return generator_loss(self.loss)


VARIANTS = {
    v.name: v
    for v in (
        Variant("pix2pix", adversarial=True, loss=Loss.L1, output_space="rgb"),
        Variant("cgan_lab_grad", adversarial=True, loss=Loss.L1, output_space="rgb"),  # + L-gradient, smoothed labels
        Variant("unet_mse", adversarial=False, loss=Loss.MSE, output_space="rgb"),
        Variant("lab_ab", adversarial=False, loss=Loss.LAB_L1, output_space="lab"),
        Variant("lab_bins", adversarial=False, loss=Loss.LAB_BINS, output_space="lab", bins=True),
    )
}


def get_variant(name: str) -> Variant:
    """The variant of that name; a ValueError naming the choices otherwise."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name]
