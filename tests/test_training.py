"""Training: data honours the manifest, every variant learns on real pairs, metrics are right."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import kornia.color
import numpy as np
import pytest
import torch
from scenes import small_manifest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.model.checkpoints import load_checkpoint
from core.model.networks import GeneratorConfig
from core.records.artefacts import ModelsFolder, RecordKind, RunFolder, read_records, records_of, val_metric
from core.records.reports import read_summary
from core.scoring.metrics import psnr, ssim
from training.config import TrainConfig, load_config
from training.data import PairDataset, read_manifest
from training.discriminator import PatchDiscriminator, receptive_field
from training.losses import chroma_spread_loss, lab_to_raw, supervised_l1, to_lab
from training.steps import Trainer
from training.train import train
from training.variants import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
SMALL_GENERATOR = {"ngf": 8, "depth": 6}  # 64 px crops keep these tests fast


def _mini_manifest(shared_data: Path, folder: Path) -> Path:
    """A manifest of a few real rows: colour and grey train pairs, and val pairs."""
    picks = {"sen12-accioy": 2, "sen12-gray": 3, "volkov": 1}  # volkov's first rows are train
    return small_manifest(shared_data, folder, picks, val_to_train=1)


def test_manifest_splits_are_honoured(shared_data: Path) -> None:
    test_rows = read_manifest(shared_data, ("test",))
    assert test_rows and {r.split for r in test_rows} == {"test"}
    assert {r.source for r in test_rows} == {"sen12-test"}
    train_rows = read_manifest(shared_data, ("train",))
    assert not {r.pair_id for r in train_rows} & {r.pair_id for r in test_rows}


def test_grey_targets_supervise_luminance_only(shared_data: Path) -> None:
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.optical_kind == "gray_u8"][:2]
    dataset = PairDataset(grey, {}, crop=64, augment=False)
    _, target, has_colour, _ = dataset[0]
    assert has_colour is False
    # Same CIELAB L but a strong green-red tint: costs almost nothing on a grey target...
    lab = to_lab(target[None])
    lab[:, 1] += 20.0
    tinted = kornia.color.lab_to_rgb(lab, clip=True) * 2 - 1
    assert (tinted - target[None]).abs().mean() > 0.05  # the tint is really there
    flags = torch.tensor([False])
    loss_tint = supervised_l1(tinted, target[None], flags)
    # ...while a darker prediction costs clearly more.
    loss_dark = supervised_l1((target[None] - 0.4).clamp(-1, 1), target[None], flags)
    assert loss_dark > 3 * loss_tint


def test_dataset_crops_and_augments_pairs_consistently(shared_data: Path) -> None:
    records = [r for r in read_manifest(shared_data, ("val",)) if r.source == "volkov"][:1]
    dataset = PairDataset(records, {}, crop=128)
    sar, target, has_colour, _ = dataset[0]
    assert sar.shape == (1, 128, 128) and target.shape == (3, 128, 128) and has_colour
    assert float(sar.min()) >= -1.0 and float(sar.max()) <= 1.0
    assert dataset.crops_in(0) == 64  # 1024 px / 128 px crops, squared


def test_level_jitter_moves_level_and_contrast_within_bounds(shared_data: Path) -> None:
    from core.rasters.normalise import FIXED_DB_RANGE, InputSpace
    from training.data import LevelJitter

    record = next(r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray")
    sar = PairDataset([record], {}, crop=256, augment=False, space=InputSpace.FIXED)[0][0].numpy()
    rng = np.random.default_rng(0)
    assert LevelJitter()(sar, rng) is sar
    unit = 2.0 / (FIXED_DB_RANGE[1] - FIXED_DB_RANGE[0])
    shifts = []
    for _ in range(20):
        moved = LevelJitter(level_db=3.0)(sar, rng)
        inside = (np.abs(moved) < 1) & (np.abs(sar) < 1)
        shift = moved[inside] - sar[inside]
        assert np.ptp(shift) < 1e-5 and abs(shift[0]) <= 3.0 * unit + 1e-6  # one shift for the whole crop
        shifts.append(shift[0])
    assert np.std(shifts) > unit  # and it really varies
    stretched = LevelJitter(contrast=0.25)(sar, rng)
    assert np.median(stretched) == pytest.approx(np.median(sar), abs=1e-6)
    assert stretched.min() >= -1 and stretched.max() <= 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_learns_on_real_pairs(variant: str, shared_data: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    records = [r for r in read_manifest(shared_data, ("val",)) if r.source == "sen12-accioy"][:4]
    dataset = PairDataset(records, {}, crop=64, augment=False)
    sar = torch.stack([dataset[i][0] for i in range(4)])
    real = torch.stack([dataset[i][1] for i in range(4)])
    has_colour = torch.tensor([True, True, False, True])
    output_space = VARIANTS[variant].output_space
    config = TrainConfig(
        variant=variant,
        generator={**SMALL_GENERATOR, "output_space": output_space, "ab_bins": 6 if variant == "lab_bins" else 0},
        ndf=16,
        lr_g=3e-3 if variant == "lab_bins" else 1e-3,  # Adam moves each bin logit by about lr per step
    )
    from core.model.networks import build_generator

    generator = build_generator(config.generator)
    discriminator = PatchDiscriminator(ndf=16) if config.variant_spec.adversarial else None
    trainer = Trainer(config, generator, discriminator, torch.device("cpu"), use_bf16=False)
    steps = 30 if variant == "lab_bins" else 12  # a fresh bins head starts from near-uniform logits
    history = [trainer.step(sar, real, has_colour)[config.variant_spec.log_key] for _ in range(steps)]
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3]), history


def test_patchgan_sees_70px() -> None:
    assert receptive_field(PatchDiscriminator()) == 70


def test_metrics_agree_with_scikit_image() -> None:
    rng = np.random.default_rng(0)
    clean = rng.random((64, 64, 3))
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    assert psnr(noisy, clean) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=1.0))
    expected = structural_similarity(
        clean, noisy, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ssim(noisy, clean) == pytest.approx(expected)
    assert psnr(np.clip(clean + 0.1, 0, 1), np.clip(clean, 0, 0.9)) == pytest.approx(20.0, abs=1e-6)
    assert ssim(clean, clean) == pytest.approx(1.0)


def test_configs_load() -> None:
    for variant in VARIANTS:
        name = {"lab_bins": "lab_pseudo_bins"}.get(variant, variant)  # its one config is a fine-tune design
        config = load_config(ROOT / "training" / "configs" / f"{name}.toml")
        assert config.variant == variant
    assert load_config(ROOT / "training/configs/lab_ab.toml").generator.output_space == "lab"
    assert load_config(ROOT / "training/configs/cgan_lab_grad.toml").real_label == 0.9


def _tiny_config(data: Path, out: Path, variant: str = "pix2pix", **generator) -> TrainConfig:
    return TrainConfig(
        name=f"tiny_{variant}",
        variant=variant,
        generator=GeneratorConfig(**SMALL_GENERATOR, output_space=VARIANTS[variant].output_space, **generator),
        ndf=16,
        data_root=data,
        crop=64,
        batch=2,
        steps=4,
        steps_per_epoch=2,
        log_every=1,
        threads=1,
        output_dir=out,
    )


def test_training_run_writes_log_samples_and_loadable_checkpoint(shared_data: Path, tmp_path: Path) -> None:
    config = _tiny_config(_mini_manifest(shared_data, tmp_path / "data"), tmp_path / "runs")
    best = train(config)
    model = load_checkpoint(best)
    assert model.metadata["variant"] == "pix2pix" and model.config.depth == 6
    run = RunFolder(config.run_dir)
    records = read_records(run.train_log)
    steps, epochs = records_of(records, RecordKind.STEP), records_of(records, RecordKind.EPOCH)
    assert len(steps) == 4 and len(epochs) == 2
    assert {"g_adv", "g_l1", "d_real", "d_fake", "lr_g", "images_per_s"} <= set(steps[0])
    assert val_metric("psnr") in epochs[0] and val_metric("psnr", "sen12-accioy") in epochs[0]
    assert run.sample_grid(1).is_file() and run.sample_grid(2).is_file()
    # Resume continues from the saved step instead of starting over.
    config.steps = 6
    train(config, resume=True)
    assert [r["step"] for r in records_of(read_records(run.train_log), RecordKind.STEP)][-2:] == [5, 6]


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(shared_data: Path, tmp_path: Path) -> None:
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun not installed beside this Python")
    data = _mini_manifest(shared_data, tmp_path / "data")
    config = tmp_path / "tiny.toml"
    config.write_text(
        'name = "ddp"\nvariant = "pix2pix"\nndf = 16\ncrop = 64\nbatch = 2\nlog_every = 1\n'
        "[generator]\nngf = 8\ndepth = 6\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        str(Path(sys.executable).parent / "torchrun"),
        "--nproc_per_node",
        "2",
        "--master_port",
        "29731",
        "-m",
        "training.train",
        "--config",
        str(config),
        "--data-root",
        str(data),
        "--output-dir",
        str(tmp_path / "runs"),
        "--steps",
        "2",
        "--steps-per-epoch",
        "2",
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run = RunFolder(tmp_path / "runs" / "ddp")
    assert records_of(read_records(run.train_log), RecordKind.CONFIG)[0]["world_size"] == 2
    assert load_checkpoint(run.best_checkpoint).metadata["step"] == 2


@pytest.mark.parametrize(
    "config",
    [
        {"input_space": "fixed+stretch", "norm": "group", "context": True},
        {"upsample": "resize", "norm": "instance", "dropout": 0.5},
    ],
)
def test_generator_options_build_and_keep_shapes(config: dict) -> None:
    from core.model.networks import build_generator

    generator = build_generator(GeneratorConfig(**SMALL_GENERATOR, **config)).eval()
    with torch.inference_mode():
        out = generator(torch.zeros(2, generator.config.in_channels, 64, 64))
    assert out.shape == (2, 3, 64, 64) and float(out.abs().max()) <= 1.0


def test_publish_goes_from_a_run_to_a_card_with_measured_numbers(shared_data: Path, tmp_path: Path) -> None:
    from training.publish import publish, set_default, write_card

    data = _mini_manifest(shared_data, tmp_path / "data")
    config = _tiny_config(data, tmp_path / "runs", variant="lab_ab", input_space="fixed")
    train(config)
    models = ModelsFolder(tmp_path / "models")
    models.eval.path.mkdir(parents=True)
    earlier = "model,split,source,group,pair_id,psnr,ssim,delta_e,chroma_pred,chroma_true\n"
    models.eval.per_image.write_text(earlier + "older,test,sen12-test,g,t/1,12.5,0.2,20.0,0.01,0.05\n")
    [checkpoint] = publish([config.run_dir], models.path, data)
    assert checkpoint == models.checkpoint("tiny_lab_ab") and models.training_log("tiny_lab_ab").is_file()
    card = models.card("tiny_lab_ab").read_text()
    assert "| val/sen12-accioy | tiny_lab_ab |" in card and "| val/bigearthnet | baseline_flat_colour |" in card
    assert "Input space** `fixed`" in card and "haze" in card and "no discriminator" in card
    assert models.samples("tiny_lab_ab").resolve() == models.eval.grid("tiny_lab_ab", "val").resolve()
    summary = read_summary(models.eval)
    assert summary["models"]["older"]["test/sen12-test"]["psnr_mean"] == 12.5  # earlier scores kept
    assert summary["splits"] == ["val", "test"]
    assert write_card("tiny_lab_ab", models.path).read_text() == card
    data_line = next(line for line in card.splitlines() if line.startswith("- **Data**"))
    assert "train split (" in data_line and "selection on val only (" in data_line  # what the run's log recorded
    log = models.training_log("tiny_lab_ab")
    lines = log.read_text().splitlines()
    older = {k: v for k, v in json.loads(lines[0]).items() if k != "data_used"}  # a log from before 2026-12-07
    log.write_text("\n".join([json.dumps(older), *lines[1:]]) + "\n")
    assert data_line in write_card("tiny_lab_ab", models.path).read_text().splitlines()  # the earlier card's words
    assert load_checkpoint(set_default("tiny_lab_ab", models.path)).config.input_space == "fixed"


def test_set_overrides_any_config_field() -> None:
    settings = ['generator.input_space="stretch"', "batch=4", "lr_schedule=cosine"]
    config = load_config(ROOT / "training/configs/lab_context.toml", settings)
    assert config.generator.input_space == "stretch" and config.batch == 4 and config.lr_schedule == "cosine"
    assert config.learning_rates(0.5)[0] == pytest.approx(config.lr_g / 2)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_config(ROOT / "training/configs/lab_context.toml", ["batch"])


def test_variant_table_drives_config_validation() -> None:
    for name, variant in VARIANTS.items():
        generator = {"output_space": variant.output_space, "ab_bins": 6 if variant.bins else 0}
        config = TrainConfig(variant=name, generator=generator)
        assert config.variant_spec is variant
    with pytest.raises(ValueError, match="choose one of pix2pix, cgan_lab_grad, unet_mse, lab_ab, lab_bins"):
        TrainConfig(variant="cyclegan")
    with pytest.raises(ValueError, match="output_space 'lab'"):
        TrainConfig(variant="lab_ab")  # an RGB generator cannot be trained with the LAB loss
    with pytest.raises(ValueError, match=r"needs generator\.ab_bins"):
        TrainConfig(variant="lab_bins", generator={"output_space": "lab"})
    with pytest.raises(ValueError, match="regresses"):
        TrainConfig(variant="lab_ab", generator={"output_space": "lab", "ab_bins": 6})
    assert [v.log_key for v in VARIANTS.values()] == ["g_l1", "g_l1", "g_mse", "g_lab_l1", "g_lab_bins"]
    assert [v.name for v in VARIANTS.values() if v.adversarial] == ["pix2pix", "cgan_lab_grad"]


def test_chroma_spread_term_is_zero_for_the_truth_and_pulls_a_wash_apart(shared_data: Path) -> None:
    dataset = PairDataset([r for r in read_manifest(shared_data) if r.source == "volkov"][:2], {}, 64, augment=False)
    real = torch.stack([dataset[i][1] for i in range(2)])
    has_colour = torch.tensor([True, True])
    truth_raw = lab_to_raw(to_lab(real))
    assert chroma_spread_loss(truth_raw, real, has_colour).item() < 1e-5
    mean = truth_raw.mean(dim=(2, 3), keepdim=True)
    wash = (mean + 0.2 * (truth_raw - mean)).requires_grad_(True)  # the right colours, a fifth of their spread
    loss = chroma_spread_loss(wash, real, has_colour)
    assert loss.item() > 0.005
    loss.backward()
    assert wash.grad[:, 0].abs().sum() == 0  # a/b only, never L
    stepped = (wash - 0.1 * wash.grad).detach()
    assert (stepped[:, 1:].std(dim=(2, 3)) > wash[:, 1:].detach().std(dim=(2, 3))).all()  # pulled apart


def test_init_from_starts_a_run_at_a_published_generator(shared_data: Path, tmp_path: Path) -> None:
    data = _mini_manifest(shared_data, tmp_path / "data")
    first = _tiny_config(data, tmp_path / "runs", "lab_ab")
    seed = load_checkpoint(train(first))
    tuned = _tiny_config(data, tmp_path / "runs", "lab_ab")
    tuned.name, tuned.init_from, tuned.steps, tuned.lr_g = "tuned", str(seed.path), 2, 0.0  # lr 0: weights stay put
    tuned_weights = dict(load_checkpoint(train(tuned)).generator.named_parameters())
    for name, value in seed.generator.named_parameters():  # (batch-norm running statistics do move)
        assert torch.equal(value, tuned_weights[name]), name
