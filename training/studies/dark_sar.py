"""What the darkest SAR means in each source: is it water (dark in the truth) or bright bare land?

`python -m training.studies.dark_sar` measures, per source, the share of pixels whose smoothed VV-equivalent level (the
model's fixed input space, `core.rasters.normalise`) is below `DARK_DB`, and the truth's CIELAB lightness there and
elsewhere. Open water is the darkest thing in calibrated SAR, and the textbook Sentinel-1 water mask is such a
threshold; if dark SAR is as often bright sand or bare soil in the data, neither a threshold nor a model trained
on that data can paint water dark from the level alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from core.rasters.normalise import InputSpace, fixed_scale
from core.records.artefacts import ModelsFolder
from core.settings import models_dir, shared_data_dir
from training.data import PairRecord, align, bigearthnet_records, load_optical, load_sar, read_manifest
from training.pseudo_colour import lab_of

DARK_DB = -20.0  # VV-equivalent dB: below it, open water in the textbook threshold
SMOOTH_PX = 2.0  # Gaussian sigma against speckle


def dark_and_lightness(record: PairRecord) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: whether the smoothed VV-equivalent level is below `DARK_DB`, and the truth's lightness."""
    sar, optical = align(load_sar(record, InputSpace.FIXED)[0], load_optical(record))
    dark = gaussian_filter(sar, SMOOTH_PX) < fixed_scale(np.array([DARK_DB], np.float32))[0]  # in model units
    return dark, lab_of(np.clip(optical, 0.0, 1.0))[..., 0]


def dark_sar_table(records: list[PairRecord]) -> dict:
    """Share of dark pixels and mean truth lightness inside and outside them, pooled over the records."""
    dark, lightness = zip(*(dark_and_lightness(r) for r in records), strict=True)
    mask, values = np.concatenate([d.ravel() for d in dark]), np.concatenate([v.ravel() for v in lightness])
    return {
        "images": len(records),
        "dark_share": float(mask.mean()),
        "lightness_dark": float(values[mask].mean()) if mask.any() else None,
        "lightness_other": float(values[~mask].mean()),
        "images_with_dark": int(sum(d.mean() > 0.01 for d in dark)),
    }


def sources(data_root: Path, every_grey: int) -> dict[str, list[PairRecord]]:
    """The sources with an absolute or 8-bit dB level: BigEarthNet (VV), the arid zone, SEN1-2 (grey, val)."""
    records = read_manifest(data_root)
    return {
        "bigearthnet": [r for r in bigearthnet_records() if r.polarisation == "VV"],
        "sebastianelli-zone9": [r for r in records if r.source == "sebastianelli-zone9"],
        "sen12-gray": [r for r in records if r.source == "sen12-gray"][::every_grey],
        "sen12-accioy": [r for r in records if r.source == "sen12-accioy"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--every-grey", type=int, default=4, help="every n-th grey SEN1-2 target")
    parser.add_argument("--out", type=Path, default=ModelsFolder(models_dir()).eval.path / "dark_sar.json")
    args = parser.parse_args(argv)
    result = {name: dark_sar_table(recs) for name, recs in sources(args.data_root, args.every_grey).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in result.items():
        inside = "-" if row["lightness_dark"] is None else f"{row['lightness_dark']:.1f}"
        print(
            f"{name} ({row['images']}): {row['dark_share']:.1%} of pixels below {DARK_DB:.0f} dB "
            f"({row['images_with_dark']} images); truth L* there {inside}, elsewhere {row['lightness_other']:.1f}"
        )


if __name__ == "__main__":
    main()
