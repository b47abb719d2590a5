"""OMBRIA's flood-event pairs are read like every other source: rows, encoding, level, the CLI (issue 26)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from checks import run_cli
from PIL import Image

from core.rasters.normalise import ANCHOR_MEDIAN_DB, DB_MINMAX_SPAN_DB, Encoding, InputSpace, fixed_scale, to_db
from core.rasters.scene import open_scene, stretched_to_own_range
from training.data import flood_mask, load_sar, read_manifest


def _ombria(shared_data: Path) -> list:
    return [r for r in read_manifest(shared_data) if r.source == "ombria"]


def test_ombria_rows_are_read_from_their_own_manifest(shared_data: Path) -> None:
    records = _ombria(shared_data)
    assert Counter(r.split for r in records) == {"train": 1248, "val": 140}
    assert {r.encoding for r in records} == {Encoding.DB_MINMAX_U8}
    halves = Counter(r.group for r in records)
    assert set(halves.values()) == {2}  # before and after of a site in one group: one side of any split
    assert sum(flood_mask(r) is not None for r in records) == 694  # a mask for every after-flood image


def test_db_minmax_u8_spans_its_measured_range_and_is_anchored(shared_data: Path) -> None:
    """8-bit 0..255 covers `DB_MINMAX_SPAN_DB`; the fixed input puts the image's median at the anchor level."""
    db = to_db(np.array([0, 255], np.uint8), Encoding.DB_MINMAX_U8)
    assert db[1] - db[0] == DB_MINMAX_SPAN_DB
    record = next(r for r in _ombria(shared_data) if r.split == "val")
    values = load_sar(record, InputSpace.FIXED)[0]
    assert np.median(values) == float(fixed_scale(np.array([ANCHOR_MEDIAN_DB], np.float32))[0])


def test_an_untagged_8bit_image_stretched_to_its_own_range_is_read_as_db_minmax(
    shared_data: Path, tmp_path: Path
) -> None:
    """OMBRIA's bytes touch 0 and 255 with a pixel or two each (a min-max stretch); SEN1-2's pile up at a clip."""
    ombria = _ombria(shared_data)[::10]
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"][::10]

    def stretched(record) -> bool:
        return stretched_to_own_range(np.asarray(Image.open(record.sar).convert("L"), float))

    assert np.mean([stretched(r) for r in ombria]) > 0.8 and np.mean([stretched(r) for r in grey]) < 0.02
    record = next(r for r in ombria if stretched(r))
    path = tmp_path / "untagged.png"
    Image.open(record.sar).convert("L").save(path)
    scene = open_scene(path)
    try:
        assert (scene.encoding, scene.encoding_detected) == (Encoding.DB_MINMAX_U8, True)
    finally:
        scene.close()


def test_cli_colorizes_an_ombria_image_and_says_its_level_is_relative(shared_data: Path, tmp_path: Path) -> None:
    record = next(r for r in _ombria(shared_data) if flood_mask(r) is not None)
    out = tmp_path / "flood.tif"
    run = run_cli("colorize", record.sar, out, "--encoding", "db_minmax_u8", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "no trustworthy absolute backscatter level" in run.stdout + run.stderr
    assert np.asarray(Image.open(out)).shape[:2] == (256, 256)


def test_flood_masks_travel_with_their_crops_and_weigh_only_flooded_pixels(shared_data: Path) -> None:
    """A train crop's flood mask is cut, turned and mirrored with its SAR; the flood term sees only those pixels."""
    import torch

    from training.data import PairDataset
    from training.losses import flood_lightness_loss, lab_to_raw, to_lab

    after = next(r for r in _ombria(shared_data) if flood_mask(r) is not None and flood_mask(r).mean() > 0.1)
    dry = next(r for r in _ombria(shared_data) if flood_mask(r) is None)
    dataset = PairDataset([after, dry], {}, crop=128)
    mask = dataset.floods[0]
    dataset.pairs[0] = (mask[None].astype(np.float32), dataset.pairs[0][1])  # the SAR becomes the mask itself
    for _ in range(8):
        sample = dataset[0]
        assert torch.equal(sample.sar[0] > 0.5, sample.flooded[0])
    assert sample.flooded.any() and not dataset[1].flooded.any()
    target = sample.target[None]
    exact = lab_to_raw(to_lab(target))
    assert flood_lightness_loss(exact, target, sample.flooded[None]).item() < 1e-5
    off_dry = exact.clone()
    off_dry[:, 0][~sample.flooded] += 0.5  # an error on dry pixels only: not the flood term's business
    assert flood_lightness_loss(off_dry, target, sample.flooded[None]).item() < 1e-5
    off_wet = exact.clone()
    off_wet[:, 0][sample.flooded] += 0.5
    assert abs(flood_lightness_loss(off_wet, target, sample.flooded[None]).item() - 0.5) < 1e-4
