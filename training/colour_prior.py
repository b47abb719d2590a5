"""Unpaired colour prior: a small patch critic that knows what land looks like in (L, a*, b*).

The critic sees 64 x 64 patches in the LAB generator's tanh space: EuroSAT patches on the product's footing
as real, random crops of the generator's output as fake. Its adversarial term, added to the generator's
loss with `colour_prior_weight`, pulls the output's colours towards real land cover while the supervised
loss keeps lightness (and the paired colour) tied to the targets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.records.artefacts import discriminator_loss, generator_loss
from training.colouriser import augment
from training.data import TargetFooting
from training.eurosat import EUROSAT_DIR, read_eurosat
from training.losses import adversarial, lab_to_raw, to_lab

PATCH = 64  # EuroSAT's patch side, and the side of the generator crops the critic sees
PRIOR = "colour_prior"  # its log keys: g_colour_prior, d_colour_prior


class ColourCritic(nn.Module):
    """Logits for overlapping ~22 px patches of an N x 3 x H x W LAB (tanh space) image."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 4, 1, 1),
        )

    def forward(self, lab_raw: torch.Tensor) -> torch.Tensor:
        return self.net(lab_raw)


def random_crops(images: torch.Tensor, side: int, generator: torch.Generator) -> torch.Tensor:
    """One random `side` x `side` crop of each image (N x C x H x W)."""
    h, w = images.shape[2:]
    ys = torch.randint(0, h - side + 1, (len(images),), generator=generator).tolist()
    xs = torch.randint(0, w - side + 1, (len(images),), generator=generator).tolist()
    return torch.stack([img[:, y : y + side, x : x + side] for img, y, x in zip(images, ys, xs, strict=True)])


class ColourPrior:
    """The critic, its optimiser and the footed EuroSAT patches it takes as real."""

    def __init__(self, data_root: Path, footing: TargetFooting, lr: float, betas: tuple[float, float]) -> None:
        images, _, _ = read_eurosat(data_root / EUROSAT_DIR)
        self.patches = (footing.apply(images.astype(np.float32) / 255.0) * 255).round().astype(np.uint8)
        self.critic = ColourCritic()
        self.optimiser = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas)
        self.rng, self.crop_rng = np.random.default_rng(0), torch.Generator().manual_seed(0)

    def real_batch(self, size: int) -> torch.Tensor:
        """`size` EuroSAT patches in the LAB tanh space (N x 3 x 64 x 64)."""
        rgb = augment(self.patches[self.rng.integers(0, len(self.patches), size)], self.rng)
        rgb = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 255.0
        return lab_to_raw(to_lab(rgb * 2.0 - 1.0))

    def step(self, raw_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Train the critic on one real and one fake batch; returns the generator's term and the log values."""
        fake = random_crops(raw_fake.float(), PATCH, self.crop_rng)
        real = self.real_batch(len(fake)).to(fake.device)
        self.critic.train()
        loss_d = 0.5 * (adversarial(self.critic(real), 1.0) + adversarial(self.critic(fake.detach()), 0.0))
        self.optimiser.zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimiser.step()
        loss_g = adversarial(self.critic(fake), 1.0)
        return loss_g, {generator_loss(PRIOR): loss_g.item(), discriminator_loss(PRIOR): loss_d.item()}

    def state_dict(self) -> dict:
        return {"critic": self.critic.state_dict(), "optimiser": self.optimiser.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.optimiser.load_state_dict(state["optimiser"])
