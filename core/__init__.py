"""sarcolor core: turn a Sentinel-1 SAR scene into a georeferenced colour COG."""

import warnings

from rasterio.errors import NotGeoreferencedWarning

# core reports a missing georeference itself (SarScene.warnings, ColorizeResult.warnings);
# rasterio's own warning is noise here, and silencing it per call with catch_warnings()
# would change process-wide state from concurrent jobs.
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
