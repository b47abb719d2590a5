"""The robustness corpus: hostile and awkward inputs, generated from real SAR where content matters.

`build_corpus(folder, real_sar)` writes every input and returns what each must do:
`refuse` entries name the `core.errors` type the library must raise; `work` entries
must produce a masked output. Checkpoint entries are in `build_bad_checkpoints`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.transform import from_bounds, from_origin

from core import errors
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig


@dataclass(frozen=True)
class Entry:
    """One corpus input and the outcome it must have."""

    name: str
    path: Path
    outcome: str  # refuse | work
    error: type[errors.SarColorError] | None = None
    georeferenced: bool = True


def _real_db(real_sar: Path, shape: tuple[int, int]) -> np.ndarray:
    """Real VV dB values tiled/cropped to `shape`."""
    with rasterio.open(real_sar) as src:
        vv = src.read(1)
    reps = (-(-shape[0] // vv.shape[0]), -(-shape[1] // vv.shape[1]))
    return np.tile(vv, reps)[: shape[0], : shape[1]].astype(np.float32)


def _write(path: Path, data: np.ndarray, crs=None, transform=None, **extra) -> Path:
    data = data if data.ndim == 3 else data[None]
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype,
    }
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    profile.update(extra)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


UTM33 = CRS.from_epsg(32633)


def _utm(width: int, height: int):
    return from_origin(404400, 5342400, 10, 10)


def _refuse(folder: Path, real_sar: Path) -> list[Entry]:
    e = errors
    out: list[Entry] = []

    def add(name: str, error: type[errors.SarColorError], make: Callable[[Path], object]) -> None:
        path = folder / name
        make(path)
        out.append(Entry(name, path, "refuse", error))

    real_bytes = real_sar.read_bytes()
    add("text_named.tif", e.NotARasterError, lambda p: p.write_text("station,lat,lon\nA,1,2\n"))
    add("html_named.png", e.NotARasterError, lambda p: p.write_text("<html><body>404</body></html>"))
    add("random_bytes.tif", e.NotARasterError, lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)))
    add("zero_bytes.tif", e.NotARasterError, lambda p: p.write_bytes(b""))
    add("truncated_header.tif", e.NotARasterError, lambda p: p.write_bytes(real_bytes[:200]))
    add("truncated_half.tif", e.NotARasterError, lambda p: p.write_bytes(real_bytes[: len(real_bytes) // 2]))
    add("pdf_named.tif", e.NotARasterError, lambda p: p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"))
    add("huge_header_100k.tif", e.RasterTooLargeError, lambda p: _write_sparse(p, 100_000, 100_000))
    db = _real_db(real_sar, (64, 64))
    add(
        "complex64_slc.tif",
        e.UnsupportedRasterError,
        lambda p: _write(p, (db + 1j * db).astype(np.complex64), UTM33, _utm(64, 64)),
    )
    add(
        "cint16_slc.tif",
        e.UnsupportedRasterError,
        lambda p: _write(p, (db + 1j * db).astype(np.complex64), UTM33, _utm(64, 64), dtype="complex_int16"),
    )
    add(
        "bool_mask_1bit.tif",
        e.UnsupportedRasterError,
        lambda p: _write(p, (db > -12).astype(np.uint8), UTM33, _utm(64, 64), nbits=1),
    )
    add(
        "all_nan.tif",
        e.EmptyRasterError,
        lambda p: _write(p, np.full((64, 64), np.nan, np.float32), UTM33, _utm(64, 64)),
    )
    add(
        "all_inf.tif",
        e.EmptyRasterError,
        lambda p: _write(p, np.full((64, 64), np.inf, np.float32), UTM33, _utm(64, 64)),
    )
    add(
        "all_nodata_declared.tif",
        e.EmptyRasterError,
        lambda p: _write(p, np.full((64, 64), -9999, np.float32), UTM33, _utm(64, 64), nodata=-9999),
    )
    add(
        "all_zero_uint16_dn.tif",
        e.EmptyRasterError,
        lambda p: _write(p, np.zeros((64, 64), np.uint16), UTM33, _utm(64, 64)),
    )
    add("five_bands.tif", e.UnsupportedRasterError, lambda p: _write(p, np.stack([db] * 5), UTM33, _utm(64, 64)))
    add(
        "twelve_bands_s2.tif",
        e.UnsupportedRasterError,
        lambda p: _write(p, np.stack([(db + 30) * 100] * 12).astype(np.uint16), UTM33, _utm(64, 64)),
    )
    add(
        "zero_bands.vrt.tif",
        e.UnsupportedRasterError,
        lambda p: p.write_text('<VRTDataset rasterXSize="64" rasterYSize="64"></VRTDataset>'),
    )
    return out


def _write_sparse(path: Path, width: int, height: int) -> None:
    """A valid GeoTIFF header claiming width x height px, with no pixel data written."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=UTM33,
        transform=from_origin(0, 0, 10, 10),
        tiled=True,
        sparse_ok=True,
        compress="deflate",
        BIGTIFF="YES",
    ):
        pass


def _work(folder: Path, real_sar: Path) -> list[Entry]:
    out: list[Entry] = []

    def add(name: str, make: Callable[[Path], object], georeferenced: bool = True) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        out.append(Entry(name, path, "work", None, georeferenced))

    add("one_pixel_1x1.tif", lambda p: _write(p, _real_db(real_sar, (1, 1)), UTM33, _utm(1, 1)))
    add("three_by_three.tif", lambda p: _write(p, _real_db(real_sar, (3, 3)), UTM33, _utm(3, 3)))
    add("strip_1x5000.tif", lambda p: _write(p, _real_db(real_sar, (1, 5000)), UTM33, _utm(5000, 1)))
    add("column_5000x1.tif", lambda p: _write(p, _real_db(real_sar, (5000, 1)), UTM33, _utm(1, 5000)))
    add("gcp_only_uint16.tif", lambda p: _gcp_only(p, real_sar))
    custom = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=14.3 +k=0.9993 +x_0=123456 +y_0=-42 +ellps=WGS84 +units=m")
    add(
        "crs_without_epsg.tif",
        lambda p: _write(p, _real_db(real_sar, (120, 120)), custom, from_origin(0, 600000, 10, 10)),
    )
    add(
        "antimeridian_4326.tif",
        lambda p: _write(
            p, _real_db(real_sar, (90, 180)), CRS.from_epsg(4326), from_bounds(179.9, -16.1, 180.1, -16.0, 180, 90)
        ),
    )
    add(
        "antimeridian_utm60.tif",
        lambda p: _write(p, _real_db(real_sar, (120, 120)), CRS.from_epsg(32660), from_origin(833000, 8230000, 10, 10)),
    )
    add(
        "near_polar_3413.tif",
        lambda p: _write(p, _real_db(real_sar, (120, 120)), CRS.from_epsg(3413), from_origin(-600, 600, 10, 10)),
    )
    add(
        "near_polar_4326_lat89.tif",
        lambda p: _write(
            p, _real_db(real_sar, (60, 200)), CRS.from_epsg(4326), from_bounds(10.0, 89.0, 12.0, 89.3, 200, 60)
        ),
    )
    add("mostly_nan_99pct.tif", lambda p: _write(p, _mostly_nan(real_sar, 0.99), UTM33, _utm(200, 200)))
    add("mostly_nodata_zero_border.tif", lambda p: _write(p, _zero_border(real_sar), UTM33, _utm(200, 200), nodata=0))
    add("name with spaces.tif", lambda p: _write(p, _real_db(real_sar, (64, 64)), UTM33, _utm(64, 64)))
    add("nón-ÁSCII_名前_σ0.tif", lambda p: _write(p, _real_db(real_sar, (64, 64)), UTM33, _utm(64, 64)))
    add("sub dir/../dot dot.tif", lambda p: _write(p, _real_db(real_sar, (64, 64)), UTM33, _utm(64, 64)))
    add("no_georef_plain.tif", lambda p: _write(p, _real_db(real_sar, (100, 130))), georeferenced=False)
    add(
        "linear_power_float.tif",
        lambda p: _write(p, 10 ** (_real_db(real_sar, (120, 120)) / 10), UTM33, _utm(120, 120)),
    )
    add("db_u8_png.png", lambda p: _u8_png(p, real_sar), georeferenced=False)
    return out


def _gcp_only(path: Path, real_sar: Path) -> None:
    """uint16 amplitude DN with GCPs in EPSG:4326 and no geotransform (raw GRD style)."""
    db = _real_db(real_sar, (120, 120))
    dn = np.clip(10 ** (db / 20) * 600, 1, 65535).astype(np.uint16)
    gcps = [
        GroundControlPoint(row, col, 14.0 + col * 1e-4, 48.2 - row * 1e-4)
        for row in (0, 60, 120)
        for col in (0, 60, 120)
    ]
    with rasterio.open(path, "w", driver="GTiff", width=120, height=120, count=1, dtype="uint16") as dst:
        dst.write(dn[None])
        dst.gcps = (gcps, CRS.from_epsg(4326))


def _mostly_nan(real_sar: Path, fraction: float) -> np.ndarray:
    db = _real_db(real_sar, (200, 200))
    db.reshape(-1)[: int(db.size * fraction)] = np.nan
    return db


def _zero_border(real_sar: Path) -> np.ndarray:
    dn = np.clip(10 ** (_real_db(real_sar, (200, 200)) / 20) * 600, 1, 65535).astype(np.uint16)
    dn[:, :170] = 0
    dn[:30] = 0
    return dn


def _u8_png(path: Path, real_sar: Path) -> None:
    from PIL import Image

    db = _real_db(real_sar, (120, 120))
    Image.fromarray(np.clip((db + 25) / 25 * 255, 0, 255).astype(np.uint8)).save(path)


def build_corpus(folder: Path, real_sar: Path) -> list[Entry]:
    """Write every corpus input under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return _refuse(folder, real_sar) + _work(folder, real_sar)


def build_bad_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints that must raise CheckpointError: corrupt, truncated, wrong architecture, foreign."""
    folder.mkdir(parents=True, exist_ok=True)
    good = save_checkpoint(folder / "good.pt", untrained_model(GeneratorConfig(ngf=8, depth=6)).generator)
    (folder / "random_bytes.pt").write_bytes(np.random.default_rng(1).bytes(2048))
    (folder / "truncated.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (folder / "empty.pt").write_bytes(b"")
    payload = torch.load(good, weights_only=True)
    payload["generator_config"]["ngf"] = 16  # weights no longer match the declared architecture
    torch.save(payload, folder / "wrong_architecture.pt")
    torch.save({"model": torch.zeros(3)}, folder / "foreign_torch_file.pt")
    payload = torch.load(good, weights_only=True)
    payload["generator_config"]["colour_mode"] = "hsv"  # unknown field
    torch.save(payload, folder / "unknown_field.pt")
    return [
        folder / n
        for n in (
            "random_bytes.pt",
            "truncated.pt",
            "empty.pt",
            "wrong_architecture.pt",
            "foreign_torch_file.pt",
            "unknown_field.pt",
        )
    ]
