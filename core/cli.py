"""`sarcolor` command line: colorize a scene; train and evaluate delegate to training/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import SarColorError


def _colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.checkpoints import load_checkpoint
    from core.colorize import ColorizeOptions, colorize
    from core.settings import default_checkpoint

    model = load_checkpoint(args.model or default_checkpoint())
    options = ColorizeOptions(
        band=args.band,
        encoding=args.encoding,
        tile=args.tile,
        overlap=args.overlap,
        batch=args.batch,
        device=args.device,
        precision=args.precision,
    )
    with tqdm(total=None, unit="tile", disable=args.quiet, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = colorize(args.input, args.output, model, options, progress=progress)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{result.output}: {result.georef.width}x{result.georef.height} px, {result.band} {result.encoding}, "
        f"{result.seconds:.1f} s ({result.megapixels_per_second:.2f} Mpx/s) on {result.device}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sarcolor", description="Colorize Sentinel-1 SAR scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("colorize", help="SAR GeoTIFF/PNG/JPEG in, colour Cloud-Optimized GeoTIFF out")
    c.add_argument("input", type=Path)
    c.add_argument("output", type=Path)
    c.add_argument("--model", type=Path, help="checkpoint file (default: models/default.pt)")
    c.add_argument("--band", default="VV", help="VV, VH or a 1-based band number (default VV)")
    c.add_argument("--encoding", default="auto", choices=["auto", "db", "linear", "amplitude", "db_u8", "linear_u8"])
    c.add_argument("--tile", type=int, default=256)
    c.add_argument("--overlap", type=int, default=64)
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_colorize)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SarColorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no output was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
