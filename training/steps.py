"""The Trainer: G (and D), their optimisers, and one optimisation step of the configured variant."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from core.records.artefacts import discriminator_loss, generator_loss
from training.colour_prior import ColourPrior
from training.config import TrainConfig
from training.losses import (
    BinRebalancing,
    adversarial,
    chroma_spread_loss,
    flood_lightness_loss,
    lab_bins_loss,
    lab_gradient_loss,
    lab_l1,
    supervised_l1,
    supervised_mse,
)
from training.variants import Loss


class Trainer:
    """Holds G (and D), their optimisers and the variant's step."""

    def __init__(
        self,
        config: TrainConfig,
        generator: nn.Module,
        discriminator: nn.Module | None,
        device: torch.device,
        use_bf16: bool,
        colour_prior: ColourPrior | None = None,
    ) -> None:
        self.config, self.generator, self.discriminator = config, generator, discriminator
        self.colour_prior = colour_prior
        self.variant = config.variant_spec
        self.device, self.use_bf16 = device, use_bf16
        bins = config.generator.ab_bins
        self.rebalancing = BinRebalancing(bins**2) if bins else None
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_d = (
            torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas) if discriminator else None
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16)

    def step(
        self, sar: torch.Tensor, real: torch.Tensor, has_colour: torch.Tensor, flooded: torch.Tensor | None = None
    ) -> dict[str, float]:
        """Run one step of the configured variant; returns the logged loss components."""
        if self.variant.adversarial:
            return self._gan_step(sar, real, has_colour)
        return self._regression_step(sar, real, has_colour, flooded)

    def supervised_loss(self, output, real: torch.Tensor, has_colour: torch.Tensor) -> torch.Tensor:
        """The variant's supervised loss of the generator's raw output (`forward_raw`), computed in float32."""
        cfg = self.config
        match self.variant.loss:
            case Loss.L1:
                return supervised_l1(output, real, has_colour)
            case Loss.MSE:
                return supervised_mse(output, real, has_colour)
            case Loss.LAB_L1:
                loss = lab_l1(output, real, has_colour, cfg.chroma_weight)
                if cfg.chroma_spread_weight:
                    loss = loss + cfg.chroma_spread_weight * chroma_spread_loss(output, real, has_colour)
                return loss
            case Loss.LAB_BINS:
                return lab_bins_loss(output, real, has_colour, cfg.generator, self.rebalancing, cfg.chroma_weight)

    def _regression_step(self, sar, real, has_colour, flooded) -> dict[str, float]:
        with self._autocast():
            raw = self.generator(sar, raw_output=True)
            supervised = self.supervised_loss(raw, real, has_colour)
        loss, logged = supervised, {self.variant.log_key: supervised.item()}
        if self.config.flood_weight and flooded is not None:
            flood = flood_lightness_loss(raw, real, flooded)
            loss, logged = loss + self.config.flood_weight * flood, logged | {generator_loss("flood_l"): flood.item()}
        if self.colour_prior:
            prior, prior_logged = self.colour_prior.step(unwrap(self.generator).lab_raw(raw))
            loss, logged = loss + self.config.colour_prior_weight * prior, logged | prior_logged
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return logged

    def _gan_step(self, sar, real, has_colour) -> dict[str, float]:
        cfg = self.config
        with self._autocast():
            fake = self.generator(sar)
        # Discriminator: one forward over fakes and the real pairs whose target has colour (DDP-safe).
        n_fake = len(sar)
        with self._autocast():
            logits = self.discriminator(
                torch.cat([sar, sar[has_colour]]), torch.cat([fake.detach(), real[has_colour].to(fake.dtype)])
            )
        loss_d_fake = adversarial(logits[:n_fake], cfg.fake_label)
        has_real = bool(has_colour.any())
        loss_d_real = adversarial(logits[n_fake:], cfg.real_label) if has_real else loss_d_fake.new_zeros(())
        loss_d = 0.5 * (loss_d_real + loss_d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # Generator: fool D, stay close to the target, keep L-channel edges.
        with self._autocast():
            g_adv = adversarial(unwrap(self.discriminator)(sar, fake), 1.0)  # no D gradient sync needed
        fake32 = fake.float()
        g_supervised = self.supervised_loss(fake32, real, has_colour)
        g_grad = lab_gradient_loss(fake32, real) if cfg.lambda_grad > 0 else fake32.new_zeros(())
        loss_g = g_adv + cfg.lambda_l1 * g_supervised + cfg.lambda_grad * g_grad
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {
            generator_loss("adv"): g_adv.item(),
            self.variant.log_key: g_supervised.item(),
            generator_loss("grad"): g_grad.item(),
            generator_loss("total"): loss_g.item(),
            discriminator_loss("real"): loss_d_real.item(),
            discriminator_loss("fake"): loss_d_fake.item(),
        }

    def set_learning_rates(self, lr_g: float, lr_d: float) -> None:
        """Apply learning rates (e.g. a lower one when resuming to fine-tune)."""
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups if self.opt_d else []:
            group["lr"] = lr_d

    def state_dict(self) -> dict:
        state = {"generator": unwrap(self.generator).state_dict(), "opt_g": self.opt_g.state_dict()}
        if self.discriminator is not None:
            state.update(discriminator=unwrap(self.discriminator).state_dict(), opt_d=self.opt_d.state_dict())
        if self.colour_prior is not None:
            state.update(colour_prior=self.colour_prior.state_dict())
        if self.rebalancing is not None:
            state.update(bin_counts=self.rebalancing.counts)
        return state

    def load_state_dict(self, state: dict) -> None:
        unwrap(self.generator).load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.discriminator is not None:
            unwrap(self.discriminator).load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        if self.colour_prior is not None:
            self.colour_prior.load_state_dict(state["colour_prior"])
        if self.rebalancing is not None:
            self.rebalancing.counts = state["bin_counts"]


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if hasattr(module, "module") else module
