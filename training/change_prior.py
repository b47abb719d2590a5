"""Learn where the SAR shows new water that the optical guide cannot explain: `python -m training.change_prior`.

Data: OMBRIA train (`../shared/data/ombria`, 624 flood sites). Per site the product's own guided fit
(`core.colour.guided.fit_guide`) learns the SAR after the flood against the optical before it, exactly as
`sarcolor colorize --guide before.jpg after.png` would; `core.colour.guided.guide_terms` and
`core.colour.change.change_features` then describe every cell. Truths, pooled to the product's cells:
the flood mask (`ombria/mask`, Copernicus EMS) for the probability of change, and the after-flood
optical's CIELAB on flooded cells for the water colour. `SAMPLE` cells are drawn from each site; the
MLP (`core.colour.change.prior_network`) is trained with binary cross-entropy plus L1 on the water
colour. Val sites are never read here. Writes `models/priors/change_prior.pt` (card: `change_prior.md` beside it).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rasterio.windows import Window

from core.colour.cells import pool
from core.colour.change import CHANGE_FEATURES, PRIOR_FILE, ChangePrior, change_features, prior_network
from core.colour.guide import open_guide
from core.colour.guided import fit_guide, guide_terms, read_block, reference_lab
from core.rasters.scene import opened_scene
from core.settings import PROJECT_ROOT, shared_data_dir

SAMPLE = 2000  # cells (4 x 4 px) drawn from each site (of 4,096)
STEPS, BATCH, LEARNING_RATE = 4000, 4096, 2e-3
WATER_WEIGHT = 1.0  # L1 on the normalised water colour beside the cross-entropy
SEED = 0


def sites(root: Path, split: str) -> list[str]:
    """Site ids ('train_0001') of OMBRIA's `split` ('train' or 'val') that have both halves and a mask."""
    with open(root / "ombria" / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == split]
    found = sorted({Path(r["sar"]).stem.rsplit("_", 1)[0] for r in rows})
    return [s for s in found if (root / "ombria" / "mask" / f"{s}.png").exists()]


def site_paths(root: Path, site: str) -> dict[str, Path]:
    """SAR after, optical before (the guide) and after (the truth), the flood mask."""
    base = root / "ombria"
    return {"sar": base / "sar" / f"{site}_after.png", "guide": base / "opt" / f"{site}_before.jpg",
            "truth": base / "opt" / f"{site}_after.jpg", "mask": base / "mask" / f"{site}.png"}  # fmt: skip


def read_rgb(path: Path) -> np.ndarray:
    """An 8-bit image as H x W x 3 RGB in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255.0


def read_mask(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L")) > 127


def site_pixels(root: Path, site: str, rng: np.random.Generator, count: int = SAMPLE) -> dict[str, np.ndarray]:
    """Change features, flood truth and after-flood CIELAB of `count` pixels of one site (the product's fit)."""
    paths = site_paths(root, site)
    with opened_scene(paths["sar"], encoding="db_minmax_u8") as scene:
        guide = open_guide(paths["guide"], scene.georef)
        try:
            fit = fit_guide(scene, guide, prior=None)
            block = read_block(scene, guide, Window(0, 0, scene.georef.width, scene.georef.height))
        finally:
            guide.close()
    cells = block.cells
    sar, median, guide_lab, covered, score = guide_terms(cells, fit, (slice(None), slice(None)))
    features = change_features(sar, guide_lab, median, score, fit.expected)
    truths = np.stack([read_mask(paths["mask"]).astype(np.float32), *read_rgb(paths["truth"]).transpose(2, 0, 1)])
    pooled, _ = pool(truths, np.ones(block.db.shape, bool))
    flooded, after = pooled[0] >= 0.5, reference_lab(pooled[1:])
    usable = np.flatnonzero((covered & cells.valid).ravel())
    picks = rng.choice(usable, min(count, len(usable)), replace=False)
    return {"features": features.reshape(-1, CHANGE_FEATURES)[picks], "flooded": flooded.ravel()[picks],
            "after": after.reshape(-1, 3)[picks]}  # fmt: skip


def train(features: np.ndarray, flooded: np.ndarray, after: np.ndarray, steps: int = STEPS) -> ChangePrior:
    """The MLP on pooled pixels: cross-entropy on flooded, L1 on the after-flood colour of flooded pixels."""
    torch.manual_seed(SEED)
    water = after[flooded]
    low, high = np.percentile(features, [0.5, 99.5], axis=0).astype(np.float32)
    features = np.clip(features, low, high)
    prior = ChangePrior(prior_network(), features.mean(0), features.std(0) + 1e-6, water.mean(0), water.std(0) + 1e-6,
                        low, high)  # fmt: skip
    x = torch.from_numpy(((features - prior.feature_mean) / prior.feature_std).astype(np.float32))
    y = torch.from_numpy(flooded.astype(np.float32))
    colour = torch.from_numpy(((after - prior.colour_mean) / prior.colour_std).astype(np.float32))
    optimiser = torch.optim.Adam(prior.network.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(steps):
        pick = torch.randint(0, len(x), (BATCH,), generator=generator)
        out = prior.network(x[pick])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], y[pick])
        wet = y[pick] > 0.5
        if wet.any():
            loss = loss + WATER_WEIGHT * (out[wet, 1:] - colour[pick][wet]).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    prior.network.eval()
    return prior


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--every", type=int, default=1, help="use every n-th train site (default: all)")
    parser.add_argument("--cache", type=Path, help="an .npz of the sampled pixels: written if absent, else read")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "priors" / PRIOR_FILE)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    chosen = sites(args.data, "train")[:: args.every]
    if args.cache and args.cache.exists():
        pooled = dict(np.load(args.cache))
    else:
        rng = np.random.default_rng(SEED)
        parts = []
        for index, site in enumerate(chosen):
            parts.append(site_pixels(args.data, site, rng))
            if index % 25 == 0:
                print(f"{index + 1} / {len(chosen)} sites, {time.perf_counter() - started:.0f} s", flush=True)
        pooled = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        if args.cache:
            np.savez(args.cache, **pooled)
    fitting = time.perf_counter()
    prior = train(pooled["features"], pooled["flooded"], pooled["after"])
    card = {"sites": len(chosen), "pixels": len(pooled["flooded"]), "flooded_share": float(pooled["flooded"].mean()),
            "steps": STEPS, "train_seconds": round(time.perf_counter() - fitting, 1),
            "total_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    prior.save(args.out, card)
    print(json.dumps(card))


if __name__ == "__main__":
    main()
