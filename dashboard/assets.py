"""Leaflet's JavaScript and CSS, served by the app itself so the map works offline.

The files are copied at setup time (`python -m dashboard.assets`, run by `make setup`)
from the installed PyPI package `folium-offline`, which bundles them, into
`dashboard/static/vendor/` (git-ignored). Streamlit serves `dashboard/static/`
under `/app/static/` when `server.enableStaticServing` is on.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
URL_PREFIX = "/app/static/vendor"
LEAFLET_VERSION = "1.9.3"
ASSETS = {
    "leaflet.js": f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js",
    "leaflet.css": f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css",
}


def asset_url(name: str) -> str:
    """Same-origin URL of a vendored asset."""
    return f"{URL_PREFIX}/{name}"


def ensure_assets(target: Path = VENDOR_DIR) -> list[Path]:
    """Copy the assets from the installed package if they are missing; returns the files."""
    paths = [target / name for name in ASSETS]
    if all(p.is_file() and p.stat().st_size > 0 for p in paths):
        return paths
    from offlinefolium.elements import _res as bundled  # folium-offline keeps them keyed by CDN URL

    target.mkdir(parents=True, exist_ok=True)
    for path, url in zip(paths, ASSETS.values(), strict=True):
        path.write_text(bundled[url], encoding="utf-8")
    return paths


if __name__ == "__main__":
    for path in ensure_assets():
        print(path)
