"""`sarcolor` command line: colorize a scene; train and evaluate delegate to training/."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from core.errors import SarColorError


def _colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.checkpoints import load_checkpoint
    from core.colorize import ColorizeOptions, colorize
    from core.settings import default_checkpoint

    model = load_checkpoint(args.model or default_checkpoint())
    options = ColorizeOptions(**{f.name: getattr(args, f.name) for f in fields(ColorizeOptions)})
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
    from core.colorize import ColorizeOptions
    from core.normalise import Encoding
    from core.scene import POLARISATIONS

    defaults = ColorizeOptions()
    parser = argparse.ArgumentParser(prog="sarcolor", description="Colorize Sentinel-1 SAR scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("colorize", help="SAR GeoTIFF/PNG/JPEG in, colour Cloud-Optimized GeoTIFF out")
    c.add_argument("input", type=Path)
    c.add_argument("output", type=Path)
    c.add_argument("--model", type=Path, help="checkpoint file (default: models/default.pt)")
    c.add_argument("--band", default=defaults.band, help="VV, VH or a 1-based band number (default VV)")
    c.add_argument(
        "--polarisation",
        default=defaults.polarisation,
        choices=["auto", *POLARISATIONS],
        help="of the chosen band, when neither its metadata nor the file name says (default auto)",
    )
    c.add_argument("--encoding", default=defaults.encoding, choices=["auto", *(e.value for e in Encoding)])
    c.add_argument("--tile", type=int, default=defaults.tile)
    c.add_argument("--overlap", type=int, default=defaults.overlap)
    c.add_argument("--batch", type=int, default=defaults.batch)
    c.add_argument("--device", default=defaults.device, choices=["auto", "cpu", "cuda"])
    c.add_argument("--precision", default=defaults.precision, choices=["auto", "bf16", "fp32"])
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
