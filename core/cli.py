"""`sarcolor` command line: colorize scenes; manage the dashboard's sign-in accounts."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from core.errors import JobCancelled, SarColorError


def _colorize(args: argparse.Namespace) -> int:
    """One scene to one file, or many scenes (files, folders, globs) into a folder."""
    from core.colour.sar_detail import check_rendering
    from core.options import ColorizeOptions

    *sources, destination = args.paths
    if not sources:
        raise SarColorError("Give at least one input and an output: sarcolor colorize INPUT... OUTPUT")
    if args.guide:
        args.guide = str(_guide_file(args.guide, args.guide_bands))
    options = ColorizeOptions(**{f.name: getattr(args, f.name) for f in fields(ColorizeOptions)})
    check_rendering(options.rendering)  # one 'error:' line, before the model loads
    one = Path(sources[0])
    is_input = one.is_file() or (one.is_dir() and one.suffix.upper() == ".SAFE")  # a file, or a .SAFE folder
    single = len(sources) == 1 and is_input and Path(destination).suffix.lower() in (".tif", ".tiff")
    if single and not Path(destination).is_dir():
        return _colorize_one(Path(sources[0]), Path(destination), options, args)
    return _colorize_many(sources, Path(destination), options, args)


def _guide_file(path: str, bands: tuple[int, int, int] | None) -> Path:
    """The optical guide's absolute path (batch workers may run elsewhere), its bands checked once, up front."""
    from core.colour.guide import check_guide_bands

    guide = Path(path)
    if not guide.is_file():
        raise SarColorError(f"No such optical guide: {path}")
    check_guide_bands(guide, bands)
    return guide.resolve()


def _guide_bands(text: str) -> tuple[int, int, int]:
    """'4,3,2' -> (4, 3, 2): the guide's red, green and blue bands (1-based)."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 3 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"expected three band numbers R,G,B such as 4,3,2 (got {text!r})")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _colorize_one(source: Path, output: Path, options, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.rasters.products import is_container
    from core.rasters.scene import open_scene
    from core.settings import default_checkpoint

    if not is_container(source):  # checked before torch loads; a product is checked as it is read (calibrated once)
        open_scene(source, options.band, options.encoding, polarisation=options.polarisation).close()
    from core.colorize import colorize
    from core.model.checkpoints import load_checkpoint

    model = load_checkpoint(args.model or default_checkpoint())
    with tqdm(total=None, unit="tile", disable=args.quiet, file=sys.stderr) as bar:

        stages = ["tiles"]

        def progress(done: int, total: int, stage: str = "tiles") -> None:
            if stage != stages[-1]:  # a new stage (the guide's fit, then the tiles): a fresh count
                stages.append(stage)
                bar.set_description_str(stage)
                bar.unit = "tile" if stage == "tiles" else "window"
                bar.reset(total)
            bar.total = total
            bar.update(done - bar.n)

        with _sigterm_stops_between_rows():
            result = colorize(source, output, model, options, progress=progress, cancelled=_stop_requested.is_set)
    facts = result.summary
    for warning in facts.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{result.output}: {facts.width}x{facts.height} px, {facts.band} {facts.encoding}, "
        f"{facts.seconds:.1f} s ({facts.megapixels_per_second:.2f} Mpx/s) on {facts.device}"
        + (f"; {facts.guide}" if facts.guide else "")
    )
    return 0


def _colorize_many(sources: list[str], output_dir: Path, options, args: argparse.Namespace) -> int:
    """The batch: serial, process pool or Dask; one progress bar; a summary printed and saved."""
    from tqdm import tqdm

    from core.colorize import check_options
    from core.service.batch import (
        SceneStatus,
        cached_model,
        expand_inputs,
        plan_tasks,
        run_dask,
        run_pool,
        run_serial,
        write_summary,
    )
    from core.settings import default_checkpoint

    checkpoint = Path(args.model or default_checkpoint()).resolve()
    check_options(options, cached_model(str(checkpoint)))  # bad settings or model fail once, not once per scene
    tasks = plan_tasks(expand_inputs(sources), output_dir.resolve())
    output_dir.mkdir(parents=True, exist_ok=True)
    if args.scheduler:
        outcomes = run_dask(tasks, checkpoint, options, args.overwrite, args.scheduler)
    elif args.workers == 1 or len(tasks) == 1:
        outcomes = run_serial(tasks, checkpoint, options, args.overwrite)
    else:
        outcomes = run_pool(tasks, checkpoint, options, args.overwrite, args.workers)
    done = []
    with tqdm(total=len(tasks), unit="scene", disable=args.quiet, file=sys.stderr) as bar:
        for outcome in outcomes:
            done.append(outcome)
            bar.set_postfix_str(f"{outcome.source.name}: {outcome.status}")
            bar.update()
    summary = write_summary(done, output_dir)
    for outcome in sorted(done, key=lambda o: str(o.source)):
        detail = outcome.message if outcome.status != SceneStatus.DONE else f"{outcome.seconds:.1f} s"
        print(f"{outcome.status:8s} {outcome.source}  {detail}")
    failed = sum(o.status == SceneStatus.FAILED for o in done)
    print(f"{len(done) - failed} of {len(done)} scenes colorized or already there; summary: {summary}")
    return 1 if failed else 0


def _users(args: argparse.Namespace) -> int:
    """`sarcolor users add|remove|list`: the dashboard's built-in accounts (bcrypt-hashed passwords)."""
    from core.service.users import Role, add_account, read_accounts, remove_account
    from core.settings import accounts_file

    path = args.file or accounts_file()
    if args.action == "list":
        accounts = read_accounts(path)
        for user_id, entry in accounts.items():
            print(f"{user_id:24s} {entry.get('role', Role.ANALYST):8s} {entry.get('name', '')}")
        print(f"{len(accounts)} account(s) in {path}" if accounts else f"no accounts in {path}: no sign-in")
        return 0
    if not args.name:
        raise SarColorError(f"Give the account name: sarcolor users {args.action} NAME")
    if args.action == "remove":
        remove_account(path, args.name)
        print(f"removed {args.name} from {path} (their jobs stay, visible to admins)")
        return 0
    role = Role.ADMIN if args.admin else Role.ANALYST
    user = add_account(path, args.name, _new_password(args.password_stdin), role, args.full_name or "")
    print(f"{user.id} ({user.role}) saved in {path}; the dashboard now asks everyone to sign in")
    return 0


def _new_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a prompt (never an argument)."""
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != password:
        raise SarColorError("The two passwords differ; nothing was changed.")
    return password


def build_parser() -> argparse.ArgumentParser:
    """`sarcolor colorize ...` and `sarcolor users ...`."""
    parser = argparse.ArgumentParser(prog="sarcolor", description="Colorize Sentinel-1 SAR scenes.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_colorize_command(sub)
    _add_users_command(sub)
    return parser


def _add_colorize_command(sub: argparse._SubParsersAction) -> None:
    """`sarcolor colorize PATH... OUTPUT`: one scene, or many into a folder."""
    from core.colour.sar_detail import RENDERINGS
    from core.options import ColorizeOptions
    from core.rasters.normalise import Encoding
    from core.rasters.scene import POLARISATIONS

    defaults = ColorizeOptions()
    c = sub.add_parser(
        "colorize",
        help="SAR GeoTIFF/PNG/JPEG in, colour Cloud-Optimized GeoTIFF out",
        description="INPUT OUTPUT.tif colorizes one scene. Several inputs, a folder or a glob (quoted) and an output "
        "folder colorize each scene into OUTPUT/<name>_colorized.tif, skipping outputs that already exist.",
    )
    c.add_argument("paths", nargs="+", metavar="PATH", help="the inputs (files, folders, globs), then the output")
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
    c.add_argument("--batch", type=int, default=defaults.batch, help="tiles a prediction call (raise it on a GPU)")
    c.add_argument("--device", default=defaults.device, choices=["auto", "cpu", "cuda"])
    c.add_argument("--precision", default=defaults.precision, choices=["auto", "bf16", "fp32"])
    c.add_argument(
        "--guide",
        metavar="OPTICAL",
        help="an optical image of the same place from another date (GeoTIFF, any CRS; RGB or Sentinel-2 bands): "
        "the result takes its colours where the SAR agrees with it and the SAR's colour where the SAR shows a "
        "change; outside it, the model's colour",
    )
    c.add_argument("--guide-bands", type=_guide_bands, metavar="R,G,B",
                   help="the guide's red, green and blue band numbers when its file does not say (e.g. 4,3,2)")
    c.set_defaults(guide_name=None, func=_colorize)  # the guide's own file name labels the result
    c.add_argument(
        "--rendering",
        default=defaults.rendering,
        metavar="{" + ",".join(RENDERINGS) + "}",
        help="model: the model's colours (default); sar-detail: the field's GIHS convention, the model's colours with "
        "the intensity detail of the speckle-filtered SAR (field edges, rivers, roads, towns)",
    )
    _add_run_arguments(c)


def _add_run_arguments(c: argparse.ArgumentParser) -> None:
    """How `sarcolor colorize` runs: progress, processes, a Dask cluster, existing outputs."""
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--workers", type=int, default=0, help="processes for many scenes (default: cores and memory allow)")
    c.add_argument("--scheduler", help="address of a Dask distributed scheduler (host:port) to run many scenes on")
    c.add_argument("--overwrite", action="store_true", help="redo scenes whose output already exists")


def _add_users_command(sub: argparse._SubParsersAction) -> None:
    """`sarcolor users add|remove|list [NAME]`: the dashboard's built-in sign-in accounts."""
    u = sub.add_parser(
        "users",
        help="the dashboard's sign-in accounts",
        description="Add (or change the password of), remove and list the accounts of the dashboard's built-in "
        "sign-in. Once an account exists, every visitor must sign in; with none, the app opens for one local user.",
    )
    u.add_argument("action", choices=["add", "remove", "list"])
    u.add_argument("name", nargs="?", help="account name (lower case letters, digits, . _ @ -)")
    u.add_argument("--admin", action="store_true", help="add: the account sees every analyst's jobs")
    u.add_argument("--full-name", help="add: the name the dashboard shows (default: the account name)")
    u.add_argument("--password-stdin", action="store_true", help="add: read the password from standard input")
    u.add_argument("--file", type=Path, help="account file (default: SARCOLOR_ACCOUNTS or var/accounts.json)")
    u.set_defaults(func=_users)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `kill`, a container stopping), raised like Ctrl-C so that every clean-up runs."""


_stop_requested = threading.Event()  # SIGTERM arrived
_stopping_between_rows = threading.Event()  # a colorize run is checking `_stop_requested` itself


def _terminate(signum: int, frame: object) -> None:
    _stop_requested.set()
    if not _stopping_between_rows.is_set():
        raise Terminated


@contextlib.contextmanager
def _sigterm_stops_between_rows() -> Iterator[None]:
    """While colorize runs, SIGTERM stops it through its own cancel check at the next tile row, not by an exception
    raised wherever the main thread happens to be: one raised while a worker thread was being started orphaned it,
    and it went on reading a scene that the clean-up had closed (a segmentation fault after the message)."""
    _stopping_between_rows.set()
    try:
        yield
    except JobCancelled:
        if _stop_requested.is_set():
            raise Terminated from None
        raise
    finally:
        _stopping_between_rows.clear()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():  # signal handlers belong to the main thread
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except SarColorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        stopped = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"error: {stopped}; no output was written.", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
