"""sarcolor core: turn a Sentinel-1 SAR scene into a georeferenced colour COG."""
