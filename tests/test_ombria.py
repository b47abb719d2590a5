"""OMBRIA's flood-event pairs are read like every other source: rows, encoding, level, the CLI (issue 26)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from checks import run_cli
from PIL import Image

from core.rasters.normalise import ANCHOR_MEDIAN_DB, DB_MINMAX_SPAN_DB, Encoding, InputSpace, fixed_scale, to_db
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


def test_cli_colorizes_an_ombria_image_and_says_its_level_is_relative(shared_data: Path, tmp_path: Path) -> None:
    record = next(r for r in _ombria(shared_data) if flood_mask(r) is not None)
    out = tmp_path / "flood.tif"
    run = run_cli("colorize", record.sar, out, "--encoding", "db_minmax_u8", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "no trustworthy absolute backscatter level" in run.stdout + run.stderr
    assert np.asarray(Image.open(out)).shape[:2] == (256, 256)
