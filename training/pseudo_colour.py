"""Plausible colour for the grey SEN1-2 targets, from the EuroSAT colouriser.

`python -m training.pseudo_colour --colouriser runs/colouriser.pt --out runs/pseudo_colour` first checks
the colouriser where the truth is known (the val sets' own optical images: their true lightness coloured,
scored against their true colour, beside grey and the flat a*b*), then writes one RGB PNG per grey
SEN1-2 train target: its own lightness, the colouriser's a*b*. Training reads them with
`--set pseudo_colour=runs/pseudo_colour` (`training.data.with_pseudo_colour`).

SEN1-2 renders land lighter in the mid-tones than EuroSAT on the footing (median L 40 against 35).
`--lightness-match` first maps each target's lightness onto EuroSAT's distribution (`LightnessMatch`, quantile
to quantile) for the colouriser to read; the written image keeps its own lightness. It finds more of sen12-accioy's
green on its truths, but no SAR model trained on the matched targets beat the default (models/README.md,
2026-12-02), so the default's targets are unmatched.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from core.scoring.metrics import pixel_colour, pooled_ratio
from core.settings import shared_data_dir
from training.colouriser import Colouriser, colourise, load_colouriser
from training.data import (
    PSEUDO_KIND,
    REFERENCE_SOURCE,
    PairRecord,
    bigearthnet_records,
    footing_samples,
    load_optical,
    load_target,
    measure_footing,
    read_manifest,
)

INDEX = "pseudo_colour.csv"  # pair_id -> file name, in the output folder
QUANTILES = np.linspace(0.0, 100.0, 201)


@dataclass(frozen=True)
class LightnessMatch:
    """Monotone map of CIELAB L from one rendering's distribution onto another's (quantile to quantile)."""

    source: np.ndarray
    reference: np.ndarray

    @classmethod
    def fit(cls, source_lightness: np.ndarray, reference_lightness: np.ndarray) -> LightnessMatch:
        return cls(np.percentile(source_lightness, QUANTILES), np.percentile(reference_lightness, QUANTILES))

    @classmethod
    def identity(cls) -> LightnessMatch:
        return cls(QUANTILES, QUANTILES)

    def __call__(self, lightness: np.ndarray) -> np.ndarray:
        return np.interp(lightness, self.source, self.reference)


UNMATCHED = LightnessMatch.identity()


def sen12_to_eurosat(data_root: Path, grey: list[PairRecord], every: int = 10) -> LightnessMatch:
    """The map from the grey SEN1-2 targets' lightness (every `every`-th) onto EuroSAT's on the footing."""
    from training.footing import EUROSAT_SOURCE, eurosat_pixels, footing_with_eurosat

    eurosat = footing_with_eurosat(data_root)[1][EUROSAT_SOURCE].apply(eurosat_pixels(data_root))
    sen12 = np.concatenate([lab_of(load_optical(r)[::4, ::4])[..., 0].ravel() for r in grey[::every]])
    return LightnessMatch.fit(sen12, lab_of(eurosat[None])[0, :, 0])


def lab_of(rgb01: np.ndarray) -> np.ndarray:
    """CIELAB of an H x W x 3 image in [0, 1]."""
    return rgb2lab(np.clip(rgb01, 0, 1).astype(np.float64))


def rgb_of(lab: np.ndarray) -> np.ndarray:
    """H x W x 3 RGB in [0, 1] of a CIELAB image (out-of-gamut colours clipped)."""
    return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32)


def colour_scores(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Per-pixel ΔE00 and the green counts of one image."""
    delta_e, counts = pixel_colour(prediction, truth)
    return {"pixel_delta_e": delta_e, **vars(counts)}


def colourise_matched(model: Colouriser, lightness: np.ndarray, match: LightnessMatch = UNMATCHED) -> np.ndarray:
    """CIELAB of a lightness image: its own L, the a*b* the colouriser gives its matched lightness."""
    return np.dstack([lightness, colourise(model, match(lightness))[..., 1:]])


def check_on_truths(
    model: Colouriser, records: list[PairRecord], footing: dict, match: LightnessMatch = UNMATCHED
) -> dict[str, dict]:
    """Per val set: the colouriser, grey and the flat a*b* on the truths' own lightness (mean ΔE00, pooled green)."""
    per_set: dict[str, dict[str, list[dict]]] = {}
    truths = {r.pair_id: load_target(r, footing) for r in records}
    flat_ab = np.mean([lab_of(t)[..., 1:].reshape(-1, 2).mean(0) for t in truths.values()], axis=0)
    for record in records:
        truth = truths[record.pair_id]
        lab = lab_of(truth)
        guesses = {
            "colouriser": rgb_of(colourise_matched(model, lab[..., 0], match)),
            "grey": rgb_of(np.dstack([lab[..., 0], np.zeros_like(lab[..., :2])])),
            "flat_ab": rgb_of(np.dstack([lab[..., 0], np.broadcast_to(flat_ab, lab[..., :2].shape)])),
        }
        for name, guess in guesses.items():
            per_set.setdefault(record.source, {}).setdefault(name, []).append(colour_scores(guess, truth))
    return {source: {name: _pool(rows) for name, rows in by_guess.items()} for source, by_guess in per_set.items()}


def _pool(rows: list[dict]) -> dict[str, float]:
    """Mean per-pixel ΔE00 and pooled green recall / false green over a set's images."""
    column = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    return {
        "pixel_delta_e": round(float(column["pixel_delta_e"].mean()), 2),
        "green_recall": round(pooled_ratio(column["green_hit_px"], column["green_px"]), 3),
        "false_green": round(pooled_ratio(column["other_green_px"], column["other_px"]), 3),
    }


def write_pseudo_colour(
    model: Colouriser, records: list[PairRecord], out: Path, match: LightnessMatch = UNMATCHED
) -> int:
    """One RGB PNG per grey target (its lightness, the colouriser's a*b*) and the index; returns the count."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for record in records:
        lightness = lab_of(load_optical(record))[..., 0]
        name = record.pair_id.replace("/", "__") + ".png"
        rgb = rgb_of(colourise_matched(model, lightness, match))
        Image.fromarray((rgb * 255).round().astype(np.uint8)).save(out / name)
        rows.append({"pair_id": record.pair_id, "file": name})
    with open(out / INDEX, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["pair_id", "file"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colouriser", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the pseudo-colour PNGs")
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--check-only", action="store_true", help="score on the val truths, colour nothing")
    parser.add_argument(
        "--lightness-match", action="store_true", help="read SEN1-2 lightness mapped onto EuroSAT's (see above)"
    )
    args = parser.parse_args(argv)
    model = load_colouriser(args.colouriser)
    records = read_manifest(args.data_root)
    footing = measure_footing(footing_samples([r for r in records if r.split == "train"]))
    val = [r for r in records if r.split == "val" and r.has_colour] + bigearthnet_records()[::2]  # one per patch
    grey = [r for r in records if r.source == REFERENCE_SOURCE and r.split == "train" and r.optical_kind != PSEUDO_KIND]
    match = sen12_to_eurosat(args.data_root, grey) if args.lightness_match else UNMATCHED
    check = check_on_truths(model, val, footing, match)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "colouriser_check.json").write_text(json.dumps(check, indent=1))
    print(json.dumps(check, indent=1))
    if args.check_only:
        return
    print(f"{write_pseudo_colour(model, grey, args.out, match)} grey targets coloured into {args.out}")


if __name__ == "__main__":
    main()
