"""EuroSAT's RGB patches (`data/eurosat-rgb`): 64 x 64 px Sentinel-2 true colour, ten land-cover classes."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
from PIL import Image

EUROSAT_DIR = "eurosat-rgb"  # under the data root


@functools.cache
def read_eurosat(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """EuroSAT patches (N x 64 x 64 x 3 uint8), class indices (N) and class names, from `classes.csv`.

    Read once per process (92 MB): a training run's footing and its colour prior both need them.
    """
    with open(root / "classes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = sorted({row["class"] for row in rows})
    images = np.stack([np.asarray(Image.open(root / row["file"]).convert("RGB")) for row in rows])
    images.setflags(write=False)  # shared by every caller
    return images, np.array([names.index(row["class"]) for row in rows]), names
