"""Measure what the guided product does with change and beyond its guide: `python -m training.evaluate_change`.

Every figure comes from the product's output: `sarcolor colorize SAR OUT --guide GUIDE` through the CLI's entry
point `core.cli.main` (`--in-process` calls `core.colorize.colorize` directly, the function the CLI calls).

1. Flood change (OMBRIA val, 70 sites never used to train the change prior): SAR = after the flood, guide =
   the optical before it, truth = the optical after it. On the flooded pixels (the site's mask): mean per-pixel
   CIEDE2000 of the output to the truth against that of the stale guide itself; mean difference with its 95 %
   bootstrap interval over sites, and the share of sites where the output is closer. Dry pixels beside it. The
   flooded pixels' L* error, bias and dry-minus-flooded contrast of both (issue 26's flood bar).
2. Dry sand is not water (sebastianelli-zone9, an arid zone, January <-> July): the share of pixels the
   confidence sidecar marks as change.
4. Temporal pairs (sebastianelli-zone9, the whole guide of the other date): guided, unguided and the stale
   optical itself against the target date's optical.
3. Beyond a partial guide (volkov val, the guide covers the left half, or 10 % of the scene as a block, or the
   whole scene but for holes): on the pixels the guide does not cover, PSNR and per-pixel CIEDE2000 of the
   guided output against those of the unguided output (the default model), both through the CLI.
Writes `models/eval/change.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio

from core.scoring.metrics import bootstrap_interval, flood_lightness, pixel_delta_e, psnr
from core.settings import PROJECT_ROOT, shared_data_dir
from training.change_prior import read_mask, read_rgb, site_paths, sites
from training.studies.evaluate_guided import write_guide

Colour = Callable[..., Path]  # colour(sar, out, guide=None, encoding=..., polarisation=...) -> out
VOLKOV_VAL = ("268", "269", "270", "271", "272", "273", "274", "280", "281", "282", "283", "294")
PARTIAL_GUIDES = ("left_half", "block_10pct", "holes")
SAND_PATCHES = range(0, 23)


def cli_colour(sar: Path, out: Path, guide: Path | None = None, **options: str) -> Path:
    """The product's command line as an analyst runs it (`core.cli.main`, what `python -m core.cli` runs; called
    in this process, which spares a Python start-up per scene)."""
    from core.cli import main as cli_main

    command = ["colorize", str(sar), str(out), "--quiet"] + [f"--{key}={value}" for key, value in options.items()]
    command += ["--guide", str(guide)] if guide else []
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(command)
    if code != 0:
        raise RuntimeError(f"sarcolor {' '.join(command)} exited with {code}")
    return out


def in_process_colour(sar: Path, out: Path, guide: Path | None = None, **options: str) -> Path:
    """`core.colorize.colorize`, the function the command line calls (quicker: no start-up per scene)."""
    from core.colorize import ColorizeOptions, colorize
    from core.model.checkpoints import load_checkpoint
    from core.settings import default_checkpoint

    model = in_process_colour.__dict__.setdefault("model", load_checkpoint(default_checkpoint()))
    colorize(sar, out, model, ColorizeOptions(guide=str(guide) if guide else None, **options))
    return out


def read_output(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read([1, 2, 3]).transpose(1, 2, 0).astype(np.float32) / 255.0


def read_sidecar(path: Path) -> np.ndarray:
    from core.colour.confidence import read_confidence, sidecar_path

    return read_confidence(sidecar_path(path))


def summary(values: list[float]) -> dict:
    array = np.asarray(values, np.float64)
    low, high = bootstrap_interval(array)
    return {"mean": round(float(array.mean()), 3), "ci95": [round(low, 3), round(high, 3)], "n": len(values)}


# 1. Flood change -------------------------------------------------------------------------------------------


def flood_site(root: Path, site: str, colour: Colour, workdir: Path) -> dict:
    """Output and stale guide against the after truth, on flooded and on dry pixels of one site."""
    paths = site_paths(root, site)
    out = colour(paths["sar"], workdir / f"{site}.tif", paths["guide"], encoding="db_minmax_u8")
    output, truth, stale = read_output(out), read_rgb(paths["truth"]), read_rgb(paths["guide"])
    flooded = read_mask(paths["mask"])
    change = read_sidecar(out)[2] / 100.0
    row = {"site": site, "flooded_share": round(float(flooded.mean()), 3)}
    valid = np.ones(flooded.shape, bool)
    row["lightness"] = {
        "output": flood_lightness(output, truth, valid, flooded),
        "stale_guide": flood_lightness(stale, truth, valid, flooded),
    }
    for part, mask in (("flooded", flooded), ("dry", ~flooded)):
        if mask.any():
            row[part] = {"output": pixel_delta_e(output, truth, mask), "stale_guide": pixel_delta_e(stale, truth, mask),
                         "change_share": float((change[mask] >= 0.5).mean())}  # fmt: skip
    return row


def flood_summary(rows: list[dict]) -> dict:
    """Mean output - stale ΔE00 on flooded pixels (negative: the output is closer), interval, share improved."""
    wet = [r for r in rows if "flooded" in r]
    gain = [r["flooded"]["stale_guide"] - r["flooded"]["output"] for r in wet]
    dry = [r["dry"]["stale_guide"] - r["dry"]["output"] for r in rows if "dry" in r]
    return {
        "flooded_output_delta_e": summary([r["flooded"]["output"] for r in wet]),
        "flooded_stale_guide_delta_e": summary([r["flooded"]["stale_guide"] for r in wet]),
        "flooded_closer_by": summary(gain),
        "sites_closer": round(float(np.mean(np.asarray(gain) > 0)), 3),
        "flooded_marked_change": summary([r["flooded"]["change_share"] for r in wet]),
        "dry_closer_by": summary(dry),
        "dry_marked_change": summary([r["dry"]["change_share"] for r in rows if "dry" in r]),
    } | lightness_summary(rows)


def lightness_summary(rows: list[dict]) -> dict:
    """Flooded pixels' L* error and bias, and the dry-minus-flooded contrast, of output and stale guide (the sites
    holding both flooded and dry pixels): issue 26's flood bar, scored on the guided output."""
    both = [r["lightness"] for r in rows if np.isfinite(r["lightness"]["output"]["flood_l_error"])]
    return {
        f"{name}_{key}": summary([site[name][key] for site in both])
        for name in ("output", "stale_guide")
        for key in ("flood_l_error", "flood_l_bias", "flood_contrast_pred")
    } | {"truth_flood_contrast": summary([site["output"]["flood_contrast_true"] for site in both])}


# 2. Dry sand -------------------------------------------------------------------------------------------------


def sand_pair_exists(root: Path, patch: int) -> bool:
    """Both dates of a patch have SAR and optical."""
    folder = root / "sebastianelli-zone9"
    return all((folder / kind / f"zone_9_{date}_patch{patch}.tif").exists() for kind in ("sar", "opt")
               for date in ("a_Jan", "b_Jul"))  # fmt: skip


def sand_patch(root: Path, patch: int, guide_date: str, target_date: str, colour: Colour, workdir: Path) -> dict:
    """The share of an arid patch that the product marks as change (it holds no water on either date)."""
    folder = root / "sebastianelli-zone9"
    sar = folder / "sar" / f"zone_9_{target_date}_patch{patch}.tif"
    guide = folder / "opt" / f"zone_9_{guide_date}_patch{patch}.tif"
    out = colour(sar, workdir / f"sand_{patch}_{target_date}.tif", guide, encoding="db")
    bands = read_sidecar(out)
    valid = bands[0] > 0
    return {"patch": patch, "target": target_date, "change_share": float((bands[2][valid] >= 50).mean())}


# 4. Temporal pairs, the whole guide ---------------------------------------------------------------------------


def temporal_pair(root: Path, patch: int, guide_date: str, target_date: str, colour: Colour, workdir: Path) -> dict:
    """One date's optical guides the other date's SAR; guided, unguided and the stale optical against its truth."""
    folder = root / "sebastianelli-zone9"
    sar = folder / "sar" / f"zone_9_{target_date}_patch{patch}.tif"
    guide = folder / "opt" / f"zone_9_{guide_date}_patch{patch}.tif"
    truth, stale = read_optical(folder / "opt" / f"zone_9_{target_date}_patch{patch}.tif"), read_optical(guide)
    guided = read_output(colour(sar, workdir / f"t{patch}_{target_date}.tif", guide, encoding="db"))
    unguided = read_output(colour(sar, workdir / f"u{patch}_{target_date}.tif", encoding="db"))
    return {"patch": patch, "guide": guide_date, "target": target_date} | {
        name: {"psnr": psnr(rgb, truth), "pixel_delta_e": pixel_delta_e(rgb, truth)}
        for name, rgb in (("guided", guided), ("unguided", unguided), ("stale_optical", stale))
    }


def read_optical(path: Path) -> np.ndarray:
    """A sebastianelli optical GeoTIFF as the dashboard renders it (RGB in [0, 1])."""
    from core.rasters.normalise import optical_to_unit

    with rasterio.open(path) as src:
        return optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)


def temporal_summary(rows: list[dict]) -> dict:
    return {name: {metric: summary([r[name][metric] for r in rows]) for metric in ("psnr", "pixel_delta_e")}
            for name in ("guided", "unguided", "stale_optical")}  # fmt: skip


# 3. Beyond a partial guide -----------------------------------------------------------------------------------


def partial_mask(shape: tuple[int, int], kind: str) -> np.ndarray:
    """Where a partial guide covers the scene: its left half, a centred block of 10 %, or all but 12 holes."""
    height, width = shape
    covered = np.zeros(shape, bool)
    if kind == "left_half":
        covered[:, : width // 2] = True
    elif kind == "block_10pct":
        side_y, side_x = int(height * 0.316), int(width * 0.316)
        top, left = (height - side_y) // 2, (width - side_x) // 2
        covered[top : top + side_y, left : left + side_x] = True
    else:  # holes: 12 cloud-like discs of 8 % of the side, the guide everywhere else
        covered[:] = True
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[:height, :width]
        for cy, cx in zip(rng.uniform(0.1, 0.9, 12) * height, rng.uniform(0.1, 0.9, 12) * width, strict=True):
            covered &= (yy - cy) ** 2 + (xx - cx) ** 2 > (0.08 * min(shape)) ** 2
    return covered


def partial_scene(root: Path, name: str, kind: str, colour: Colour, workdir: Path) -> dict:
    """Guided (partial guide) and unguided outputs of one volkov val scene, scored where the guide is absent."""
    sar, optical = root / "volkov" / "sar" / f"{name}.png", root / "volkov" / "opt" / f"{name}.jpg"
    truth = read_rgb(optical)
    options = {"encoding": "linear_u8", "polarisation": "VH"}
    unguided = read_output(colour(sar, workdir / f"{name}_model.tif", **options))
    height, width = min(unguided.shape[0], truth.shape[0]), min(unguided.shape[1], truth.shape[1])
    truth, unguided = truth[:height, :width], unguided[:height, :width]
    covered = partial_mask((height, width), kind)
    guide = write_guide(workdir / f"{name}_{kind}.tif", truth, covered)
    guided = read_output(colour(sar, workdir / f"{name}_{kind}.tif".replace(".tif", "_out.tif"), guide, **options))
    beyond = ~covered
    guided = guided[:height, :width]
    return {"scene": name, "guide": kind, "beyond_share": round(float(beyond.mean()), 3),
            "guided": {"psnr": psnr(guided, truth, beyond), "pixel_delta_e": pixel_delta_e(guided, truth, beyond)},
            "unguided": {"psnr": psnr(unguided, truth, beyond),
                         "pixel_delta_e": pixel_delta_e(unguided, truth, beyond)}}  # fmt: skip


def partial_summary(rows: list[dict]) -> dict:
    out = {}
    for kind in PARTIAL_GUIDES:
        part = [r for r in rows if r["guide"] == kind]
        if part:
            guided, unguided = [r["guided"] for r in part], [r["unguided"] for r in part]
            out[kind] = {
                "psnr_lift": summary([g["psnr"] - u["psnr"] for g, u in zip(guided, unguided, strict=True)]),
                "delta_e_drop": summary([u["pixel_delta_e"] - g["pixel_delta_e"]
                                         for g, u in zip(guided, unguided, strict=True)]),
                "scenes_lower_delta_e": sum(g["pixel_delta_e"] < u["pixel_delta_e"]
                                            for g, u in zip(guided, unguided, strict=True)),
                "scenes": len(part),
            }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "eval" / "change.json")
    parser.add_argument("--in-process", action="store_true", help="call colorize() instead of the CLI")
    parser.add_argument("--parts", default="flood,sand,partial,temporal")
    parser.add_argument("--sites", type=int, default=0, help="only the first n val sites (0: all)")
    parser.add_argument("--guides", default=",".join(PARTIAL_GUIDES), help="partial guides to score (comma separated)")
    args = parser.parse_args(argv)
    colour = in_process_colour if args.in_process else cli_colour
    parts = args.parts.split(",")
    through = "colorize() in process" if args.in_process else "core.cli.main: sarcolor colorize --guide"
    report: dict = {"through": through}
    if args.out.exists():  # re-scoring some parts keeps the others
        report = json.loads(args.out.read_text()) | report
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if "flood" in parts:
            chosen = sites(args.data, "val")[: args.sites or None]
            rows = [flood_site(args.data, s, colour, workdir) for s in chosen]
            report["flood"] = {"summary": flood_summary(rows), "sites": rows}
            print(json.dumps(report["flood"]["summary"]), flush=True)
        if "sand" in parts:
            rows = [sand_patch(args.data, p, g, t, colour, workdir) for p in SAND_PATCHES
                    for g, t in (("a_Jan", "b_Jul"), ("b_Jul", "a_Jan"))
                    if sand_pair_exists(args.data, p)]  # fmt: skip
            report["sand"] = {"change_share": summary([r["change_share"] for r in rows]), "patches": rows}
            print(json.dumps(report["sand"]["change_share"]), flush=True)
        if "partial" in parts:
            kinds = [k for k in PARTIAL_GUIDES if k in args.guides.split(",")]
            rows = [partial_scene(args.data, n, k, colour, workdir) for k in kinds for n in VOLKOV_VAL]
            report["partial"] = {"summary": partial_summary(rows), "scenes": rows}
            print(json.dumps(report["partial"]["summary"]), flush=True)
        if "temporal" in parts:
            rows = [temporal_pair(args.data, p, g, t, colour, workdir) for p in SAND_PATCHES
                    for g, t in (("a_Jan", "b_Jul"), ("b_Jul", "a_Jan")) if sand_pair_exists(args.data, p)]  # fmt: skip
            report["temporal"] = {"summary": temporal_summary(rows), "pairs": rows}
            print(json.dumps(report["temporal"]["summary"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"{args.out} written")


if __name__ == "__main__":
    main()
