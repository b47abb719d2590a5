"""Colour learned from EuroSAT: footing, colouriser, pseudo-colour targets and the colour prior, on real data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.scoring.metrics import GREEN_A_STAR
from training.colour_prior import PATCH, ColourPrior, random_crops
from training.colouriser import (
    Colouriser,
    ColouriserConfig,
    colourise,
    lab_batch,
    load_colouriser,
    rebalancing_weights,
    save_colouriser,
    train_colouriser,
)
from training.data import PSEUDO_KIND, TargetFooting, read_manifest, sampling_weights, with_pseudo_colour
from training.footing import EUROSAT_SOURCE, colour_statistics, eurosat_pixels, footing_statistics
from training.pseudo_colour import LightnessMatch, check_on_truths, lab_of, sen12_to_eurosat, write_pseudo_colour


@pytest.fixture(scope="module")
def eurosat_footing(shared_data: Path) -> TargetFooting:
    """EuroSAT on the product footing, measured against every 7th grey SEN1-2 target (the reference)."""
    from training.data import footing_samples, measure_footing

    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"][::7]  # all 5 terrains
    samples = footing_samples(grey) | {EUROSAT_SOURCE: [eurosat_pixels(shared_data, every=10)]}
    return measure_footing(samples)[EUROSAT_SOURCE]


def test_eurosat_haze_is_removed_and_brightness_matched(shared_data: Path, eurosat_footing: TargetFooting) -> None:
    pixels = eurosat_pixels(shared_data, every=10)
    before, after = colour_statistics(pixels), colour_statistics(eurosat_footing.apply(pixels))
    assert before["dark_rgb"][2] > before["dark_rgb"][0] + 0.1  # L1C blue path radiance
    assert max(after["dark_rgb"]) < 0.03  # dark objects near black, like SEN1-2's
    assert after["green"] >= before["green"] - 0.02  # the green does not go away
    table = footing_statistics({EUROSAT_SOURCE: [pixels]}, {EUROSAT_SOURCE: eurosat_footing})
    assert table[EUROSAT_SOURCE]["after"] == after


def test_colouriser_shapes_and_lightness_kept() -> None:
    model = Colouriser().eval()
    ab, logits = model(torch.rand(2, 1, 64, 64))
    assert ab.shape == (2, 2, 64, 64) and logits.shape == (2, 10)
    lightness = np.random.default_rng(0).uniform(0, 100, (50, 70))  # not a multiple of 8: padded and cropped
    lab = colourise(model, lightness)
    assert lab.shape == (50, 70, 3)
    np.testing.assert_array_equal(lab[..., 0], lightness)


def test_colour_bins_decode_and_rebalance(tmp_path) -> None:
    """A bin model decodes a confident bin to its centre and round-trips; rebalancing favours rare colours."""
    config = ColouriserConfig(ab_bins=22)
    save_colouriser(tmp_path / "bins.pt", Colouriser(config), TargetFooting(), {})
    model = load_colouriser(tmp_path / "bins.pt")
    assert model.config == config
    ab = torch.tensor([[-0.3], [0.2]]).view(1, 2, 1, 1)  # a* = -33, b* = 22: a green
    logits = torch.full((1, 22 * 22, 1, 1), -50.0)
    logits[0, config.bin_of(ab)[0, 0, 0]] = 50.0
    assert (model.ab(logits) - ab).abs().max() < 1 / 22 + 1e-6  # within half a bin
    rng = np.random.default_rng(0)
    common, rare = np.full((9, 8, 8, 3), 0.4, np.float32), np.zeros((1, 8, 8, 3), np.float32)
    rare[..., 1] = 0.5  # a saturated green, one patch in ten
    weights = rebalancing_weights(config, np.concatenate([common, rare]), rng)
    grey_bin, green_bin = (
        config.bin_of(lab_batch(torch.tensor(rgb).view(1, 3, 1, 1))[1])[0, 0, 0] for rgb in ([0.4] * 3, [0, 0.5, 0])
    )
    assert weights[green_bin] > 3 * weights[grey_bin]


@pytest.mark.slow
def test_colouriser_learns_green_from_eurosat(shared_data: Path, eurosat_footing: TargetFooting, tmp_path) -> None:
    """A minute of training on real EuroSAT already paints some forest and pasture green, and round-trips."""
    torch.set_num_threads(1)
    model, facts = train_colouriser(shared_data, eurosat_footing, 1.0, batch=16)
    assert facts["steps"] > 20 and np.isfinite(facts["final_colour_loss"])
    path = tmp_path / "colouriser.pt"
    save_colouriser(path, model, eurosat_footing, facts)
    loaded = load_colouriser(path)
    greens = []
    for land_cover in ("Forest", "Pasture"):
        for file in sorted((shared_data / "eurosat-rgb" / land_cover).glob("*.jpg"))[:5]:
            rgb = eurosat_footing.apply(np.asarray(Image.open(file).convert("RGB"), np.float32) / 255)
            greens.append((colourise(loaded, lab_of(rgb)[..., 0])[..., 1] < GREEN_A_STAR).mean())
    assert np.mean(greens) > 0.15, greens  # an untrained colouriser paints none (a*b* near 0)


def test_pseudo_colour_keeps_the_grey_truths_lightness(shared_data: Path, tmp_path) -> None:
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"][:2]
    assert write_pseudo_colour(Colouriser().eval(), grey, tmp_path) == 2
    swapped = with_pseudo_colour(grey + read_manifest(shared_data, ("val",))[:1], tmp_path)
    assert [r.optical_kind for r in swapped] == [PSEUDO_KIND, PSEUDO_KIND, swapped[2].optical_kind]
    assert swapped[2].optical_kind != PSEUDO_KIND
    assert all(r.has_colour and not r.real_colour for r in swapped[:2])
    original = np.asarray(Image.open(grey[0].optical).convert("RGB"), np.float32) / 255
    coloured = np.asarray(Image.open(swapped[0].optical).convert("RGB"), np.float32) / 255
    lightness_error = np.abs(lab_of(coloured)[..., 0] - lab_of(original)[..., 0])
    assert np.median(lightness_error) < 1.5  # only gamut clipping moves L


def test_lightness_match_maps_sen12_onto_eurosat(shared_data: Path) -> None:
    """SEN1-2's grey targets are lighter in the mid-tones than EuroSAT on the footing; the map is monotone."""
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"]
    match = sen12_to_eurosat(shared_data, grey, every=50)
    ramp = np.linspace(0.0, 100.0, 101)
    assert np.all(np.diff(match(ramp)) >= 0)
    assert match(np.array([match.source[100]]))[0] == pytest.approx(match.reference[100])  # median onto median
    assert match.source[100] > match.reference[100] + 2  # measured: 40 against 35
    assert np.array_equal(LightnessMatch.identity()(ramp), ramp)


def test_pseudo_colour_samples_with_the_grey_share(shared_data: Path, tmp_path) -> None:
    from training.data import PairDataset

    records = read_manifest(shared_data, ("train",))
    grey = [r for r in records if r.source == "sen12-gray"][:3]
    write_pseudo_colour(Colouriser().eval(), grey, tmp_path)
    mixed = with_pseudo_colour(grey, tmp_path) + [r for r in records if r.source == "tharun-scenes"][:1]
    weights = sampling_weights(PairDataset(mixed, {}, 256, augment=False), colour_fraction=0.3)
    assert weights[-1].item() == pytest.approx(0.3) and weights[:3].sum().item() == pytest.approx(0.7)


def test_colouriser_check_scores_grey_against_truth(shared_data: Path) -> None:
    """Grey (a* = b* = 0) on a green truth: recall 0, no false green; the flat a*b* and the model are scored too."""
    val = [r for r in read_manifest(shared_data, ("val",)) if r.source == "sen12-accioy"][:3]
    scores = check_on_truths(Colouriser().eval(), val, {})["sen12-accioy"]
    assert set(scores) == {"colouriser", "grey", "flat_ab"}
    assert scores["grey"]["green_recall"] == 0 and scores["grey"]["false_green"] == 0
    assert scores["grey"]["pixel_delta_e"] > 3


def test_colour_prior_critic_learns_eurosat_from_grey(shared_data: Path, eurosat_footing: TargetFooting) -> None:
    """The critic tells real EuroSAT colour from a grey image within a few steps, and its term reaches G."""
    torch.manual_seed(0)
    prior = ColourPrior(shared_data, eurosat_footing, lr=1e-3, betas=(0.5, 0.999))
    grey = torch.zeros(4, 3, 96, 96)
    grey[:, 0] = -0.2  # L = 40, a* = b* = 0
    for _ in range(30):
        fake = grey.clone().requires_grad_(True)
        loss_g, logged = prior.step(fake)
    assert logged["d_colour_prior"] < 0.6  # below chance (ln 2 = 0.69)
    loss_g.backward()
    assert fake.grad is not None and fake.grad[:, 1:].abs().sum() > 0  # it asks for colour
    assert random_crops(grey, PATCH, torch.Generator().manual_seed(0)).shape == (4, 3, PATCH, PATCH)


def test_sar_bins_generator_decodes_bins_and_speaks_rgb(tmp_path) -> None:
    """A bins generator outputs RGB, decodes a confident bin to its centre and survives a checkpoint round trip."""
    from core.model.checkpoints import load_checkpoint, save_checkpoint
    from core.model.networks import BinsOutput, GeneratorConfig, build_generator

    config = GeneratorConfig(ngf=8, depth=4, output_space="lab", input_space="fixed", ab_bins=6, context=True)
    generator = build_generator(config).eval()
    with torch.inference_mode():
        raw = generator(torch.zeros(1, 1, 32, 32), raw_output=True)
        rgb = generator(torch.zeros(1, 1, 32, 32))
    assert raw.lightness.shape == (1, 1, 32, 32) and raw.logits.shape == (1, 36, 8, 8)  # colour per 4 x 4 px
    assert rgb.shape == (1, 3, 32, 32) and rgb.abs().max() <= 1
    ab = torch.tensor([[-0.3], [0.2]]).view(1, 2, 1, 1)  # a* = -33, b* = 22: a green
    logits = torch.full((1, 36, 1, 1), -50.0)
    logits[0, config.bin_of(ab)[0, 0, 0]] = 50.0
    decoded = generator.lab_raw(BinsOutput(torch.zeros(1, 1, 4, 4), logits))[:, 1:]
    assert decoded.shape == (1, 2, 4, 4)
    assert (decoded - ab).abs().max() <= config.ab_range / 6 + 1e-6  # within half a bin
    save_checkpoint(tmp_path / "bins.pt", generator, {})
    assert load_checkpoint(tmp_path / "bins.pt").config == config
    with pytest.raises(ValueError, match="lab"):
        GeneratorConfig(ab_bins=6)


def test_bin_loss_rewards_the_true_bin_and_rebalances_rare_colours() -> None:
    """Rare target bins weigh more; the loss is lower when the logits point at the target's bin."""
    from core.model.networks import BinsOutput, GeneratorConfig
    from training.losses import BinRebalancing, lab_bins_loss, lab_to_raw, to_lab

    config = GeneratorConfig(ngf=8, depth=4, output_space="lab", input_space="fixed", ab_bins=6)
    rebalancing = BinRebalancing(36)
    weights = rebalancing.update(torch.tensor([0] * 90 + [35] * 10))
    assert weights[35] > 3 * weights[0]
    real = torch.zeros(1, 3, 4, 4)
    real[:, 1] = 0.2  # a green in [-1, 1] RGB
    target = lab_to_raw(to_lab(real))
    true_bin = config.bin_of(target[:, 1:])[0, 0, 0]

    def raw_pointing_at(index: int) -> BinsOutput:
        logits = torch.full((1, 36, 1, 1), -10.0)  # one colour per 4 x 4 px
        logits[:, index] = 10.0
        return BinsOutput(target[:, :1], logits)

    has_colour = torch.tensor([True])
    right = lab_bins_loss(raw_pointing_at(int(true_bin)), real, has_colour, config, BinRebalancing(36))
    wrong = lab_bins_loss(raw_pointing_at(int(true_bin) - 1), real, has_colour, config, BinRebalancing(36))
    assert right < 0.01 < wrong


@pytest.mark.slow
def test_training_runs_with_pseudo_colour_and_colour_prior(shared_data: Path, tmp_path) -> None:
    """Both issue-16 designs train end to end on small real data and log what they used."""
    from scenes import small_manifest

    from core.model.networks import GeneratorConfig
    from core.records.artefacts import FOOTING_STATISTICS, RecordKind, RunFolder, read_records, records_of
    from training.config import TrainConfig
    from training.train import load_data, train

    data = small_manifest(shared_data, tmp_path / "data", {"sen12-accioy": 2, "sen12-gray": 3, "volkov": 1}, 1)
    (data / "eurosat-rgb").symlink_to(shared_data / "eurosat-rgb")
    grey = [r for r in read_manifest(data, ("train",)) if r.source == "sen12-gray"]
    write_pseudo_colour(Colouriser().eval(), grey, tmp_path / "pseudo")
    generator = GeneratorConfig(ngf=8, depth=6, output_space="lab", input_space="fixed", context=True)
    common = {"variant": "lab_ab", "generator": generator, "data_root": data, "crop": 64, "batch": 2, "steps": 2}
    common |= {"steps_per_epoch": 2, "threads": 1, "output_dir": tmp_path / "runs", "precision": "fp32"}
    pseudo = TrainConfig(name="pseudo", pseudo_colour=str(tmp_path / "pseudo"), **common)
    loaded = load_data(pseudo, 0)
    assert sum(r.optical_kind == PSEUDO_KIND for r in loaded.train_set.records) == 3
    assert EUROSAT_SOURCE in loaded.facts[FOOTING_STATISTICS]
    prior = TrainConfig(name="prior", colour_prior_weight=0.05, **common)
    for config in (pseudo, prior):
        train(config)
        steps = records_of(read_records(RunFolder(config.run_dir).train_log), RecordKind.STEP)
        assert len(steps) == 2 and np.isfinite(steps[-1]["g_lab_l1"])
    assert "g_colour_prior" in steps[-1] and "d_colour_prior" in steps[-1]
    bins = TrainConfig(  # design C: the SAR model classifies a*b*, starting from design A's weights
        name="bins",
        pseudo_colour=str(tmp_path / "pseudo"),
        init_from=str(RunFolder(pseudo.run_dir).best_checkpoint),
        **(common | {"variant": "lab_bins", "generator": replace(generator, ab_bins=6)}),
    )
    train(bins)
    log = read_records(RunFolder(bins.run_dir).train_log)
    assert np.isfinite(records_of(log, RecordKind.STEP)[-1]["g_lab_bins"])
    assert "bins_head.weight" in log[0]["init_fresh_layers"] and "down.1.1.weight" not in log[0]["init_fresh_layers"]
