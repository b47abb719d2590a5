"""Find a `.SAFE` product's files: a folder, its `manifest.safe`, or the `.zip` (read in place, never extracted)."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from core.errors import NotARasterError, UnsupportedRasterError

MANIFEST = "manifest.safe"
SCHEMAS = {  # manifest dataObject repID -> what the file holds
    "s1Level1MeasurementSchema": "measurement",
    "s1Level1ProductSchema": "annotation",
    "s1Level1CalibrationSchema": "calibration",
    "s1Level1NoiseSchema": "noise",
}
FILE_POLARISATION = re.compile(r"-(vv|vh|hh|hv)-", re.IGNORECASE)


def damaged_zip(name: str) -> NotARasterError:
    """The one message for a zip that cannot be read to the end."""
    return NotARasterError(f"{name} is damaged (truncated or corrupt zip): download it again.")


@dataclass(frozen=True)
class SafeFiles:
    """A `.SAFE` folder on disk, or inside a zip: its files read as bytes, its rasters through GDAL paths."""

    given: Path  # what the analyst named: the folder, its manifest or the zip
    root: str  # the .SAFE folder: a path on disk, or its member prefix inside the zip ('X.SAFE')
    zip_path: Path | None = None

    @property
    def name(self) -> str:
        return self.given.name

    @property
    def product_id(self) -> str:
        """The product's name without `.SAFE` (S1A_IW_GRDH_1SDV_...)."""
        return Path(self.root).name.removesuffix(".SAFE")

    def _member(self, relative: str) -> str:
        return f"{self.root}/{relative.removeprefix('./')}"

    def exists(self, relative: str) -> bool:
        if self.zip_path is None:
            return Path(self._member(relative)).is_file()
        with _open_zip(self.zip_path, self.name) as archive:
            return self._member(relative) in archive.NameToInfo

    def read_bytes(self, relative: str) -> bytes:
        if self.zip_path is None:
            return Path(self._member(relative)).read_bytes()
        with _open_zip(self.zip_path, self.name) as archive:
            try:
                return archive.read(self._member(relative))
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise damaged_zip(self.name) from exc

    def gdal_path(self, relative: str) -> str:
        """The path GDAL opens: the file itself, or `/vsizip/ZIP/MEMBER`."""
        member = self._member(relative)
        return member if self.zip_path is None else f"/vsizip/{self.zip_path.resolve()}/{member}"

    def xml(self, relative: str) -> ElementTree.Element:
        try:
            return ElementTree.fromstring(self.read_bytes(relative))
        except ElementTree.ParseError as exc:
            raise NotARasterError(f"{self.name}: {relative} is not readable XML; download the product again.") from exc


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise damaged_zip(name) from exc


def zip_members(path: Path) -> list[str]:
    """The member names of a zip; `NotARasterError` when it is truncated or corrupt."""
    with _open_zip(path, path.name) as archive:
        return archive.namelist()


def is_safe(path: Path) -> bool:
    """A .SAFE folder (with its manifest), a manifest.safe, or a zip holding one."""
    if path.is_dir():
        return (path / MANIFEST).is_file()
    if path.name.lower() == MANIFEST:
        return True
    return path.suffix.lower() == ".zip" and any(m.endswith(f".SAFE/{MANIFEST}") for m in zip_members(path))


def locate(path: Path) -> SafeFiles:
    """The product's files from a folder, its manifest or its zip (`is_safe` must hold)."""
    if path.is_dir():
        return SafeFiles(path, str(path))
    if path.name.lower() == MANIFEST:
        return SafeFiles(path, str(path.parent))
    manifests = [m for m in zip_members(path) if m.endswith(f".SAFE/{MANIFEST}")]
    if len(manifests) != 1:
        raise UnsupportedRasterError(f"{path.name} holds {len(manifests)} .SAFE products; give one product a zip.")
    return SafeFiles(path, manifests[0].removesuffix(f"/{MANIFEST}"), path)


def manifest_files(files: SafeFiles) -> dict[str, dict[str, str]]:
    """What the manifest lists: {'measurement' | 'annotation' | 'calibration' | 'noise': {polarisation: path}}."""
    listed: dict[str, dict[str, str]] = {kind: {} for kind in SCHEMAS.values()}
    for obj in _elements(files.xml(MANIFEST), "dataObject"):
        kind = SCHEMAS.get(obj.get("repID", ""))
        location = next(_elements(obj, "fileLocation"), None)
        if kind is None or location is None:
            continue
        href = location.get("href", "")
        found = FILE_POLARISATION.search(Path(href).name)
        if found:
            listed[kind][found.group(1).upper()] = href.removeprefix("./")
    return listed


def manifest_facts(files: SafeFiles) -> dict[str, str]:
    """Product type (GRD, SLC, OCN) and mode (IW, EW, SM, WV) as the manifest says."""
    facts: dict[str, str] = {}
    for tag in ("productType", "mode"):
        element = next(_elements(files.xml(MANIFEST), tag), None)
        if element is not None and element.text:
            facts[tag] = element.text.strip()
    return facts


def _elements(root: ElementTree.Element, local_name: str) -> Iterator[ElementTree.Element]:
    """Elements named `local_name` in any namespace, in document order."""
    return (e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == local_name)
