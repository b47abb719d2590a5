"""Rasters in and out: open a SAR scene, normalise it, tile and blend it, write the COG."""
