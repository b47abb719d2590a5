"""Whole real scenes through the product, side by side: `python -m training.studies.whole_scenes --checkpoint A.pt ...`.

Each scene goes through `core.colorize.colorize` (the CLI's pipeline) once per checkpoint, at its full size; the
sheet shows, per scene, SAR | one column per checkpoint | the optical truth where one exists, each scaled to
`SIDE` px on its long side, and is written to `models/eval/whole_scenes.png`. These are pictures to look at, not
scores: the scenes are whole products or fragments, most of them never seen in training.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw

from core.colorize import ColorizeOptions, colorize
from core.colour.sar_detail import MODEL, SAR_DETAIL
from core.model.checkpoints import load_checkpoint
from core.records.artefacts import ModelsFolder
from core.service.display import sar_raster
from core.settings import models_dir, shared_data_dir
from training.data import PairRecord, bigearthnet_records, flood_mask, load_optical, load_sar, read_manifest

SIDE = 360  # px on the long side of each panel
TITLE_PX = 34
OPERA_VV = (
    "s1-products/opera-rtc/2021-11-19/"
    "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z_20250830T120333Z_S1A_30_v1.0_VV.tif"
)
SCENES = (  # pair ids of the manifests: whole scenes and fragments of several kinds, most unseen in training
    "tharun-scenes/scene-1",  # 2500 x 1733 8-bit rendering, not in training
    "volkov/050",  # 1024 x 1024 Texas fragment, linear_u8 VH, val
    "sebastianelli-zone9/zone_9_a_Jan_patch10",  # the arid zone, calibrated dB, not in training
    "bigearthnet/35VPK_69_24_VV",  # calibrated dB, open water (dark in its truth), val
)


@dataclass(frozen=True)
class Scene:
    """One input: its SAR file, how to read it, and its truth (or None)."""

    name: str
    sar: Path
    options: ColorizeOptions
    record: PairRecord | None


def scenes(data_root: Path) -> list[Scene]:
    """The sheet's scenes: the picked manifest pairs, the first OMBRIA val flood site, a real OPERA RTC burst."""
    records = {r.pair_id: r for r in read_manifest(data_root) + bigearthnet_records()}
    flood = min(
        (r for r in records.values() if r.source == "ombria" and r.split == "val" and flood_mask(r) is not None),
        key=lambda r: r.pair_id,
    )
    picked = [records[p] for p in SCENES if p in records] + [flood]
    listed = [Scene(r.pair_id, r.sar, _options(r), r) for r in picked]
    opera = data_root / OPERA_VV
    if opera.is_file():
        listed.append(Scene("OPERA RTC-S1 VV burst (γ0, linear)", opera, ColorizeOptions(), None))
    return listed


def _options(record: PairRecord) -> ColorizeOptions:
    polarisation = record.polarisation if record.polarisation in ("VV", "VH") else "auto"
    return ColorizeOptions(band=str(record.band), polarisation=polarisation, encoding=record.encoding.value)


def _panel(rgb: np.ndarray, title: str) -> Image.Image:
    """An H x W x 3 image in [0, 1] scaled to `SIDE` px on its long side, under a title strip."""
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))
    scale = SIDE / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
    panel = Image.new("RGB", (SIDE, SIDE + TITLE_PX), "white")
    panel.paste(image, (0, TITLE_PX))
    ImageDraw.Draw(panel).multiline_text((3, 2), title, fill="black", spacing=1)
    return panel


def _colorized(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        rgba = src.read()
    rgb = rgba[:3].transpose(1, 2, 0).astype(np.float32) / 255.0
    rgb[rgba[3] == 0] = 1.0  # nodata shown white
    return rgb


def _sar_grey(scene: Scene) -> np.ndarray:
    """The SAR in the scene's own dB stretch, as grey RGB in [0, 1]."""
    if scene.record is not None:
        grey = (load_sar(scene.record)[0] + 1) / 2
    else:
        grey = sar_raster(scene.sar).values[0].astype(np.float32) / 255.0
    return np.repeat(grey[..., None], 3, axis=2)


def scene_row(scene: Scene, runs: list[tuple[Path, str]], workdir: Path) -> Image.Image:
    """SAR | each (checkpoint, rendering)'s colours | truth, for one scene."""
    panels = [_panel(_sar_grey(scene), f"{scene.name[:44]}\nSAR")]
    for checkpoint, rendering in runs:
        out = workdir / f"{checkpoint.stem}_{rendering}.tif"
        colorize(scene.sar, out, load_checkpoint(checkpoint), replace(scene.options, rendering=rendering))
        panels.append(_panel(_colorized(out), f"{checkpoint.stem}\n(sarcolor colorize --rendering {rendering})"))
    if scene.record is not None:
        panels.append(_panel(load_optical(scene.record), "optical truth\n(not seen by the model)"))
    row = Image.new("RGB", (SIDE * (len(runs) + 2), SIDE + TITLE_PX), "white")
    for index, panel in enumerate(panels):
        row.paste(panel, (index * SIDE, 0))
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Whole real scenes through the product, side by side.")
    parser.add_argument("--checkpoint", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--out", type=Path, default=ModelsFolder(models_dir()).eval.path / "whole_scenes.png")
    parser.add_argument("--sar-detail", action="store_true", help="add the last checkpoint's SAR-detail rendering")
    args = parser.parse_args(argv)
    runs = [(checkpoint, MODEL) for checkpoint in args.checkpoint]
    runs += [(args.checkpoint[-1], SAR_DETAIL)] if args.sar_detail else []
    with tempfile.TemporaryDirectory() as tmp:
        rows = [scene_row(scene, runs, Path(tmp)) for scene in scenes(args.data_root)]
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    for index, row in enumerate(rows):
        sheet.paste(row, (0, index * row.height))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
