"""Measure guided colour (core.colour.guided) on real data: `python -m training.studies.evaluate_guided`.

Nothing here trains on the data it scores; the guided fit learns at run time from the scene at hand.

1. Temporal pairs (`sebastianelli-zone9`, the same 256 px patches in January and July; the default
   model never saw this source): the optical of one date guides the colour of the other date's SAR,
   scored against that date's optical, both directions. Beside it: the default model, the stale
   optical itself as the answer, the model's flat colour. The SAR's share where reference and SAR
   agree is swept; each patch's score with the share chosen on the other patches (leave one patch
   out) checks that the product's share is not fitted to the patches it is scored on. The patches
   "whose SAR changed most" are the third with the lowest correlation of the two dates' dB.
2. Spatial hold-out (volkov val): the guide covers the left half of a scene; the colour the fit gives
   the SAR (what a change is painted with) is scored on the right half, beside the default model,
   the flat colour and the guide's own mean colour. The fitting methods compared (MLP, gradient
   boosting, a short fine-tune of the default) are scored here too, with their times.
3. Planted change: SAR of a lake pasted over forest in volkov scene 253 (its guide shows forest there,
   and the lake elsewhere); the pasted block must come out as water. Also pasted into val scenes whose
   guide shows no water anywhere (the limit: the fit has never seen water's colour there).

Truths are the optical images as the analyst's files render them (`core.rasters.normalise.optical_to_unit`,
the dashboard's rule). The default model paints on its training footing (SEN1-2's brightness), so it
is also scored against each truth brightness-matched to it (peeking), to show how much of its gap is
brightness alone. Writes `models/eval/guided.json`, `guided.png` (SAR | guide | guided | default | truth) and
`guided_planted.png` (`--pictures-only` redraws the pictures from the JSON's cases).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from PIL import Image
from rasterio.windows import Window
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

from core.colorize import ColorizeOptions, colorize
from core.colour.cells import POOL, pool
from core.colour.colour_fit import ColourFit, sar_features
from core.colour.guide import open_guide
from core.colour.guided import SAR_SHARE, fit_guide, guided_colours, read_block
from core.model.checkpoints import LoadedModel, load_checkpoint
from core.rasters.normalise import Encoding, optical_to_unit, sar_to_model_input, to_db
from core.rasters.scene import opened_scene
from core.records.artefacts import FLAT_COLOUR
from core.scoring.metrics import bootstrap_interval, pixel_delta_e, psnr
from core.settings import default_checkpoint, models_dir, shared_data_dir

PAIRS_SOURCE = "sebastianelli-zone9"
DATES = ("a_Jan", "b_Jul")
SHARES = tuple(round(0.1 * i, 1) for i in range(11))
CHANGED_FRACTION = 1 / 3  # the patches whose two SAR dates correlate least
VOLKOV_VAL = ("268", "269", "270", "271", "272", "273", "274", "280", "281", "282", "283", "294")
PLANT_HOST, PLANT_SIDE = "253", 160  # lake scene (train split: the guided fit trains on nothing offline)
PLANT_LAKE = (240, 752)  # (row, col): the 160 px block of 253 most covered by lake (L* < 35: 92 %)
PLANT_AT = (832, 224)  # (row, col): forest in 253's guide, 90 % land
PLANT_VAL_HOSTS = {"273": (320, 288), "294": (384, 576)}  # val scenes without water: the most land-covered block
FINETUNE_SECONDS = 30.0
Rgb = np.ndarray  # H x W x 3 float32 in [0, 1]


def read_optical(path: Path) -> Rgb:
    """An optical file as the analyst's file renders it (RGB in [0, 1])."""
    if path.suffix.lower() in (".tif", ".tiff"):
        with rasterio.open(path) as src:
            return optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def read_cog(path: Path) -> Rgb:
    with rasterio.open(path) as src:
        return src.read([1, 2, 3]).transpose(1, 2, 0).astype(np.float32) / 255.0


def scores(prediction: Rgb, truth: Rgb, mask: np.ndarray | None = None) -> dict[str, float]:
    """PSNR (dB) and mean per-pixel ΔE00 over `mask`."""
    return {"psnr": psnr(prediction, truth, mask), "pixel_delta_e": pixel_delta_e(prediction, truth, mask)}


def brightness_matched(truth: Rgb, prediction: Rgb, mask: np.ndarray | None = None) -> Rgb:
    """The truth scaled so its mean luminance equals the prediction's (peeks: a diagnostic, not a baseline)."""
    keep = np.ones(truth.shape[:2], bool) if mask is None else mask
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    gain = float((prediction[keep] @ luma).mean() / max((truth[keep] @ luma).mean(), 1e-6))
    return np.clip(truth * gain, 0.0, 1.0)


def summary(values: list[float]) -> dict:
    """Mean and 95 % bootstrap interval."""
    array = np.asarray(values, np.float64)
    low, high = bootstrap_interval(array)
    return {"mean": round(float(array.mean()), 3), "ci95": [round(low, 3), round(high, 3)], "n": len(values)}


def paired(a: list[float], b: list[float]) -> dict:
    """Mean of a - b with its 95 % bootstrap interval (paired by image)."""
    return summary(list(np.asarray(a) - np.asarray(b)))


def colorized(model: LoadedModel, sar: Path, workdir: Path, **options) -> tuple[Rgb, dict]:
    """The product's output for `sar` (guided when options name a guide) and its tags."""
    out = workdir / "out.tif"
    colorize(sar, out, model, ColorizeOptions(**options))
    with rasterio.open(out) as src:
        tags = src.tags()
    return read_cog(out), tags


# 1. Temporal pairs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalCase:
    """Guide with the optical of `guide_date`, colour the SAR of `target_date`, score against its optical."""

    patch: int
    guide_date: str
    target_date: str
    root: Path

    def path(self, kind: str, date: str) -> Path:
        return self.root / PAIRS_SOURCE / kind / f"zone_9_{date}_patch{self.patch}.tif"

    @property
    def name(self) -> str:
        return f"patch{self.patch} {self.guide_date[2:]}->{self.target_date[2:]}"


def temporal_cases(root: Path, patches: list[int] | None = None) -> list[TemporalCase]:
    """Every patch with both dates, both directions."""
    folder = root / PAIRS_SOURCE / "sar"
    found = sorted({int(p.stem.split("patch")[1]) for p in folder.glob("zone_9_*_patch*.tif")})
    both = [p for p in found if all((folder / f"zone_9_{d}_patch{p}.tif").exists() for d in DATES)]
    return [
        TemporalCase(p, guide, target, root)
        for p in (patches or both)
        for guide, target in (DATES, DATES[::-1])
    ]


def sar_correlation(case: TemporalCase) -> float:
    """Pearson correlation of the two dates' dB: low = the SAR changed."""
    values = []
    for date in DATES:
        with rasterio.open(case.path("sar", date)) as src:
            values.append(src.read(1).ravel())
    return float(np.corrcoef(*values)[0, 1])


def guided_sweep(case: TemporalCase, shares: tuple[float, ...] = SHARES) -> dict[float, Rgb]:
    """The guided colour of the whole patch at each SAR share (the product's own functions and fit)."""
    with opened_scene(case.path("sar", case.target_date), encoding="db") as scene:
        guide = open_guide(case.path("opt", case.guide_date), scene.georef)
        try:
            fit = fit_guide(scene, guide)
            block = read_block(scene, guide, Window(0, 0, scene.georef.width, scene.georef.height))
            return {share: guided_colours(block, fit, share).rgb.transpose(1, 2, 0) for share in shares}
        finally:
            guide.close()


def run_temporal_case(case: TemporalCase, model: LoadedModel, workdir: Path, sweep: bool = True) -> dict:
    """Every prediction of one case scored against the target date's optical."""
    truth = read_optical(case.path("opt", case.target_date))
    stale = read_optical(case.path("opt", case.guide_date))
    started = time.perf_counter()
    guided, tags = colorized(model, case.path("sar", case.target_date), workdir, encoding="db",
                             guide=str(case.path("opt", case.guide_date)))  # fmt: skip
    seconds = time.perf_counter() - started
    default, _ = colorized(model, case.path("sar", case.target_date), workdir, encoding="db")
    flat = np.broadcast_to(np.asarray(model.metadata[FLAT_COLOUR], np.float32), truth.shape)
    row = {
        "case": case.name,
        "patch": case.patch,
        "guide": case.guide_date,
        "target": case.target_date,
        "sar_correlation": round(sar_correlation(case), 3),
        "label": tags.get("SARCOLOR_GUIDE", ""),
        "guided_seconds": round(seconds, 2),
        "guided": scores(guided, truth),
        "default": scores(default, truth),
        "default_brightness_matched": scores(default, brightness_matched(truth, default)),
        "stale_optical": scores(stale, truth),
        "flat": scores(flat, truth),
    }
    if sweep:
        row["sweep"] = {str(s): scores(rgb, truth) for s, rgb in guided_sweep(case).items()}
    return row


def leave_one_patch_out(rows: list[dict], metric: str = "psnr") -> dict:
    """Each patch scored at the share that is best (mean `metric`) on the other patches; the shares chosen."""
    chosen, picked = {}, []
    for patch in sorted({r["patch"] for r in rows}):
        others = [r for r in rows if r["patch"] != patch]
        best = max(SHARES, key=lambda s: np.mean([r["sweep"][str(s)][metric] for r in others]))
        chosen[patch] = best
        picked += [{"case": r["case"], **r["sweep"][str(best)]} for r in rows if r["patch"] == patch]
    return {"share_per_patch": chosen, "rows": picked}


def temporal_summary(rows: list[dict]) -> dict:
    """Means with intervals per direction and overall, paired differences, the changed subset, LOPO, the sweep."""
    by_corr = sorted({(r["sar_correlation"], r["patch"]) for r in rows})
    changed = [p for _, p in by_corr[: max(1, round(len(by_corr) * CHANGED_FRACTION))]]
    subsets = {
        "all": rows,
        "jan_guides_jul": [r for r in rows if r["guide"] == DATES[0]],
        "jul_guides_jan": [r for r in rows if r["guide"] == DATES[1]],
        "sar_changed_most": [r for r in rows if r["patch"] in changed],
        "sar_changed_most_jan_guides_jul": [r for r in rows if r["patch"] in changed and r["guide"] == DATES[0]],
        "sar_changed_most_jul_guides_jan": [r for r in rows if r["patch"] in changed and r["guide"] == DATES[1]],
    }
    lopo = leave_one_patch_out(rows) if "sweep" in rows[0] else None
    out: dict = {"changed_patches": changed, "changed_rule": (
        f"the {CHANGED_FRACTION:.0%} of patches whose two SAR dates correlate least (Pearson r of dB): "
        + ", ".join(f"patch{p} r={c:.2f}" for c, p in by_corr))}  # fmt: skip
    for name, subset in subsets.items():
        part: dict = {}
        for metric in ("psnr", "pixel_delta_e"):
            part[metric] = {k: summary([r[k][metric] for r in subset]) for k in
                            ("guided", "default", "default_brightness_matched", "stale_optical", "flat")}  # fmt: skip
            part[metric]["guided_minus"] = {k: paired([r["guided"][metric] for r in subset],
                                                      [r[k][metric] for r in subset])
                                            for k in ("default", "stale_optical", "flat")}  # fmt: skip
            if lopo:
                cases = {r["case"] for r in subset}
                part[metric]["guided_share_chosen_leave_one_patch_out"] = summary(
                    [r[metric] for r in lopo["rows"] if r["case"] in cases])
        part["beats"] = _beats(part)
        out[name] = part
    if lopo:
        out["leave_one_patch_out_shares"] = lopo["share_per_patch"]
        out["sweep_mean"] = {str(s): {m: round(float(np.mean([r["sweep"][str(s)][m] for r in rows])), 3)
                                      for m in ("psnr", "pixel_delta_e")} for s in SHARES}  # fmt: skip
    return out


def _beats(part: dict) -> dict:
    """Which baselines the guided output beats on this subset: mean better and the paired interval clear of 0."""
    result = {}
    for baseline in ("default", "stale_optical", "flat"):
        psnr_gain = part["psnr"]["guided_minus"][baseline]
        de_gain = part["pixel_delta_e"]["guided_minus"][baseline]
        result[baseline] = {
            "psnr": psnr_gain["mean"] > 0 and psnr_gain["ci95"][0] > 0,
            "pixel_delta_e": de_gain["mean"] < 0 and de_gain["ci95"][1] < 0,
        }
    return result


# 2. Spatial hold-out and the fitting methods -------------------------------------------------------------


def volkov_paths(root: Path, name: str) -> tuple[Path, Path]:
    return root / "volkov" / "sar" / f"{name}.png", root / "volkov" / "opt" / f"{name}.jpg"


def write_guide(path: Path, rgb: Rgb, covered: np.ndarray | None = None) -> Path:
    """An ungeoreferenced RGBA GeoTIFF of `rgb`; alpha 0 where not `covered`."""
    alpha = np.full(rgb.shape[:2], 255, np.uint8) if covered is None else covered.astype(np.uint8) * 255
    data = np.concatenate([np.rint(rgb * 255).astype(np.uint8).transpose(2, 0, 1), alpha[None]])
    profile = {"driver": "GTiff", "width": rgb.shape[1], "height": rgb.shape[0], "count": 4, "dtype": "uint8",
               "photometric": "RGB", "alpha": "YES"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def _hold_out(root: Path, name: str, workdir: Path) -> tuple[Path, Rgb, np.ndarray, Path]:
    """SAR path, truth, the right-half mask (scored) and a guide covering the left half."""
    sar, optical = volkov_paths(root, name)
    truth = read_optical(optical)
    with Image.open(sar) as image:
        height, width = min(image.height, truth.shape[0]), min(image.width, truth.shape[1])
    truth = truth[:height, :width]
    right = np.zeros((height, width), bool)
    right[:, width // 2 :] = True
    return sar, truth, right, write_guide(workdir / f"{name}_left.tif", truth, ~right)


def fitted_colour(model: LoadedModel, sar: Path, guide: Path, workdir: Path) -> tuple[Rgb, float]:
    """The product's guided output (beyond the guide: the colour fitted where it covers), and its seconds."""
    started = time.perf_counter()
    rgb, _ = colorized(model, sar, workdir, encoding="linear_u8", polarisation="VH", guide=str(guide))
    return rgb, time.perf_counter() - started


def lab_to_rgb(lab: np.ndarray) -> Rgb:
    lab = lab.copy()
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(lab2rgb(lab), 0, 1).astype(np.float32)


def run_hold_out(root: Path, model: LoadedModel, workdir: Path) -> list[dict]:
    """Per volkov val scene: the fitted colour, the default, the flat and the guide's mean colour on the unseen half."""
    footing = model.metadata.get("target_footing", {}).get("volkov")
    rows = []
    for name in VOLKOV_VAL:
        sar, truth, right, guide = _hold_out(root, name, workdir)
        fitted, seconds = fitted_colour(model, sar, guide, workdir)
        default, _ = colorized(model, sar, workdir, encoding="linear_u8", polarisation="VH")
        h, w = truth.shape[:2]
        fitted, default = fitted[:h, :w], default[:h, :w]
        flat = np.broadcast_to(np.asarray(model.metadata[FLAT_COLOUR], np.float32), truth.shape)
        guide_mean = np.broadcast_to(truth[~right].mean(0), truth.shape)
        row = {"scene": name, "fit_seconds": round(seconds, 2), "fitted": scores(fitted, truth, right),
               "default": scores(default, truth, right), "flat": scores(flat, truth, right),
               "guide_mean_colour": scores(guide_mean, truth, right)}  # fmt: skip
        if footing:  # the default against the truth on its own training footing (training.evaluate's truth)
            on_footing = np.clip((truth - np.asarray(footing["haze"], np.float32)) * footing["gain"], 0, 1)
            row["default_on_its_footing"] = scores(default, on_footing, right)
        rows.append(row)
    return rows


def hold_out_summary(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    out = {}
    for metric in ("psnr", "pixel_delta_e"):
        out[metric] = {k: summary([r[k][metric] for r in rows]) for k in keys}
        out[metric]["fitted_minus"] = {
            k: paired([r["fitted"][metric] for r in rows], [r[k][metric] for r in rows])
            for k in keys if k != "fitted"
        }
    return out


def _gbm_fit(features: np.ndarray, lab: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    models = [HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=31, early_stopping=False, random_state=0)
              .fit(features, lab[:, i]) for i in range(3)]  # fmt: skip
    return lambda x: np.stack([m.predict(x.reshape(-1, x.shape[-1])) for m in models], -1).reshape(*x.shape[:-1], 3)


def _mlp_fit(features: np.ndarray, lab: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    fitted = ColourFit.fit(features, lab)
    return lambda x: fitted.predict(x)[0]


def _finetune(model: LoadedModel, sar_input: np.ndarray, truth: Rgb, left: int) -> LoadedModel:
    """The default U-Net fine-tuned for `FINETUNE_SECONDS` on 256 px crops of the guide's half (L1 on RGB)."""
    generator = copy.deepcopy(model.generator).float().train()
    for module in generator.modules():  # batch statistics stay as trained (batches of two crops)
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    optimiser = torch.optim.Adam(generator.parameters(), 2e-4)
    x = torch.from_numpy(sar_input).float()
    y = torch.from_numpy(truth.transpose(2, 0, 1) * 2 - 1).float()
    rng, side, started = np.random.default_rng(0), 256, time.perf_counter()
    while time.perf_counter() - started < FINETUNE_SECONDS:
        ys, xs = rng.integers(0, y.shape[1] - side, 2), rng.integers(0, left - side, 2)
        inputs = torch.stack([x[:, a : a + side, b : b + side] for a, b in zip(ys, xs, strict=True)])
        targets = torch.stack([y[:, a : a + side, b : b + side] for a, b in zip(ys, xs, strict=True)])
        loss = (generator(inputs) - targets).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    generator.eval()
    return LoadedModel(generator, model.config, model.normalisation, model.metadata)


def run_methods(root: Path, model: LoadedModel, workdir: Path, scenes: tuple[str, ...] = VOLKOV_VAL) -> dict:
    """Fitting methods on the same hold-out pixels: quality on the unseen half, fit and prediction time."""
    rows: dict[str, list[dict]] = {"mlp": [], "gbm": [], "finetune": []}
    for name in scenes:
        sar, truth, right, _ = _hold_out(root, name, workdir)
        h, w = truth.shape[:2]
        with Image.open(sar) as image:
            values = np.asarray(image.convert("L"))[:h, :w]
        db = to_db(values, Encoding.LINEAR_U8)
        finite = np.isfinite(db)
        clean = np.where(finite, db, 0.0).astype(np.float32)
        cells, _ = pool([clean, clean * clean], finite)
        features = np.repeat(np.repeat(sar_features(*cells), POOL, 0), POOL, 1)[:h, :w]  # the product's cells
        lab = rgb2lab(truth).astype(np.float32)
        rng = np.random.default_rng(0)
        picks = rng.choice(np.flatnonzero(~right.ravel()), 200_000, replace=False)
        x, y = features.reshape(-1, features.shape[-1])[picks], lab.reshape(-1, 3)[picks]
        for method, fitter in (("mlp", _mlp_fit), ("gbm", _gbm_fit)):
            started = time.perf_counter()
            predict = fitter(x, y)
            fitted = time.perf_counter() - started
            started = time.perf_counter()
            rgb = lab_to_rgb(np.asarray(predict(features[:, w // 2 :]), np.float32))
            predicted = time.perf_counter() - started
            full = np.zeros_like(truth)
            full[:, w // 2 :] = rgb
            rows[method].append({"scene": name, **scores(full, truth, right), "fit_seconds": round(fitted, 2),
                                 "predict_seconds_per_mpx": round(predicted / (h * (w - w // 2) / 1e6), 2)})
        started = time.perf_counter()
        sar_input = sar_to_model_input(values, Encoding.LINEAR_U8, model.config.input_space, "VH")
        tuned = _finetune(model, sar_input, truth, w // 2)
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        rgb, _ = colorized(tuned, sar, workdir, encoding="linear_u8", polarisation="VH", precision="fp32")
        predicted = time.perf_counter() - started
        rows["finetune"].append({"scene": name, **scores(rgb[:h, :w], truth, right), "fit_seconds": round(fitted, 2),
                                 "predict_seconds_per_mpx": round(predicted / (h * w / 1e6), 2)})  # fmt: skip
    return {
        method: {key: summary([r[key] for r in method_rows])
                 for key in ("psnr", "pixel_delta_e", "fit_seconds", "predict_seconds_per_mpx")}
        | {"per_scene": method_rows}
        for method, method_rows in rows.items()
    }  # fmt: skip


# 3. Planted change -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedScene:
    """A volkov scene with a block of lake SAR pasted in: its SAR, its guide (no water there) and the water's truth."""

    sar: Path
    guide: Path
    water: Rgb  # the lake's optical where its SAR came from, side x side
    block: tuple[slice, slice]


def planted_water_scene(
    root: Path, folder: Path, host: str = PLANT_HOST, at: tuple[int, int] = PLANT_AT
) -> PlantedScene:
    """Paste `PLANT_SIDE` px of 253's lake SAR at `at` in `host`'s SAR; its unchanged optical is the guide."""
    lake_sar, lake_optical = volkov_paths(root, PLANT_HOST)
    host_sar, host_optical = volkov_paths(root, host)
    (ly, lx), (y, x), side = PLANT_LAKE, at, PLANT_SIDE
    with Image.open(lake_sar) as image:
        water_sar = np.asarray(image.convert("L"))[ly : ly + side, lx : lx + side]
    with Image.open(host_sar) as image:
        sar = np.asarray(image.convert("L")).copy()
    sar[y : y + side, x : x + side] = water_sar
    sar_path = folder / f"{host}_planted_lake.png"
    Image.fromarray(sar).save(sar_path)
    guide = write_guide(folder / f"{host}_optical.tif", read_optical(host_optical))
    water = read_optical(lake_optical)[ly : ly + side, lx : lx + side]
    return PlantedScene(sar_path, guide, water, (slice(y, y + side), slice(x, x + side)))


def mean_delta_e(a: Rgb, b: Rgb) -> float:
    """Mean per-pixel ΔE00 of two same-size images."""
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def run_planted(root: Path, model: LoadedModel, workdir: Path, host: str = PLANT_HOST,
                at: tuple[int, int] = PLANT_AT) -> dict:  # fmt: skip
    """In the pasted block: how far the guided output is from the water, and from the land the guide shows."""
    planted = planted_water_scene(root, workdir, host, at)
    guided, _ = colorized(model, planted.sar, workdir, encoding="linear_u8", polarisation="VH",
                          guide=str(planted.guide))  # fmt: skip
    default, _ = colorized(model, planted.sar, workdir, encoding="linear_u8", polarisation="VH")
    land = read_optical(planted.guide)[planted.block]
    out, base = guided[planted.block], default[planted.block]
    return {
        "host": host,
        "block": [planted.block[0].start, planted.block[1].start, PLANT_SIDE],
        "guided_to_water": round(mean_delta_e(out, planted.water), 2),
        "guided_to_guide_land": round(mean_delta_e(out, land), 2),
        "guide_land_to_water": round(mean_delta_e(land, planted.water), 2),
        "default_to_water": round(mean_delta_e(base, planted.water), 2),
        "guided_mean_rgb": [round(float(v), 3) for v in out.reshape(-1, 3).mean(0)],
        "water_mean_rgb": [round(float(v), 3) for v in planted.water.reshape(-1, 3).mean(0)],
        "guide_land_mean_rgb": [round(float(v), 3) for v in land.reshape(-1, 3).mean(0)],
        "painted_as_water": mean_delta_e(out, planted.water) < mean_delta_e(out, land),
    }


# Report -----------------------------------------------------------------------------------------------------


def contact_sheet(rows: list[tuple[str, list[Rgb]]], path: Path, side: int = 160) -> Path:
    """Rows of equally sized tiles (e.g. SAR | guide | guided | default | truth)."""
    tiles = [[np.asarray(Image.fromarray((np.clip(t, 0, 1) * 255).astype(np.uint8)).resize((side, side)))
              for t in images] for _, images in rows]  # fmt: skip
    sheet = np.concatenate([np.concatenate(row, 1) for row in tiles], 0)
    Image.fromarray(sheet).save(path)
    return path


def _pictures(root: Path, model: LoadedModel, rows: list[dict], workdir: Path, path: Path) -> Path:
    """SAR | guide (other date) | guided | default | truth for the changed patches and two others, Jan -> Jul."""
    picks = sorted(rows, key=lambda r: r["sar_correlation"])
    chosen = [r for r in picks if r["guide"] == DATES[0]]
    chosen = chosen[:2] + chosen[-2:]
    sheet = []
    for row in chosen:
        case = TemporalCase(row["patch"], row["guide"], row["target"], root)
        with rasterio.open(case.path("sar", case.target_date)) as src:
            grey = np.clip((src.read(1) + 25.0) / 25.0, 0, 1)
        guided, _ = colorized(model, case.path("sar", case.target_date), workdir, encoding="db",
                              guide=str(case.path("opt", case.guide_date)))  # fmt: skip
        default, _ = colorized(model, case.path("sar", case.target_date), workdir, encoding="db")
        sheet.append((case.name, [np.repeat(grey[..., None], 3, 2), read_optical(case.path("opt", case.guide_date)),
                                  guided, default, read_optical(case.path("opt", case.target_date))]))  # fmt: skip
    return contact_sheet(sheet, path)


def _planted_picture(root: Path, model: LoadedModel, workdir: Path, path: Path) -> Path:
    """The planted lake: SAR with the pasted block | the guide (forest there) | guided | default, block outlined."""
    planted = planted_water_scene(root, workdir)
    guided, _ = colorized(model, planted.sar, workdir, encoding="linear_u8", polarisation="VH",
                          guide=str(planted.guide))  # fmt: skip
    default, _ = colorized(model, planted.sar, workdir, encoding="linear_u8", polarisation="VH")
    with Image.open(planted.sar) as image:
        grey = np.asarray(image.convert("L"), np.float32) / 255.0
    images = [np.repeat(grey[..., None], 3, 2), read_optical(planted.guide), guided, default]
    rows, cols = planted.block
    for image in images:  # a yellow outline around the pasted block
        inside = image[rows, cols].copy()
        image[rows.start - 3 : rows.stop + 3, cols.start - 3 : cols.stop + 3] = (1.0, 0.85, 0.0)
        image[rows, cols] = inside
    return contact_sheet([("planted", images)], path, side=400)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure guided colour: temporal pairs, volkov, a planted change.")
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint())
    parser.add_argument("--out", type=Path, default=models_dir() / "eval" / "guided.json")
    parser.add_argument("--skip-methods", action="store_true", help="leave out the slower method comparison")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pictures-only", action="store_true", help="redraw the pictures from --out's cases")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint)
    if args.pictures_only:
        with tempfile.TemporaryDirectory() as tmp:
            rows = json.loads(args.out.read_text())["temporal"]["cases"]
            _pictures(args.data_root, model, rows, Path(tmp), args.out.with_suffix(".png"))
            _planted_picture(args.data_root, model, Path(tmp), args.out.with_name(f"{args.out.stem}_planted.png"))
        return
    report: dict = {"checkpoint": args.checkpoint.name, "sar_share": SAR_SHARE, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = [run_temporal_case(case, model, workdir) for case in temporal_cases(args.data_root)]
        report["temporal"] = {"summary": temporal_summary(rows), "cases": rows}
        print(json.dumps(report["temporal"]["summary"]["all"]["psnr"]["guided"]), flush=True)
        hold = run_hold_out(args.data_root, model, workdir)
        report["hold_out"] = {"summary": hold_out_summary(hold), "scenes": hold}
        report["planted"] = [run_planted(args.data_root, model, workdir)] + [
            run_planted(args.data_root, model, workdir, host, at) for host, at in PLANT_VAL_HOSTS.items()
        ]
        if not args.skip_methods:
            report["methods"] = run_methods(args.data_root, model, workdir)
        _pictures(args.data_root, model, rows, workdir, args.out.with_suffix(".png"))
        _planted_picture(args.data_root, model, workdir, args.out.with_name(f"{args.out.stem}_planted.png"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"{args.out} written")


if __name__ == "__main__":
    main()
