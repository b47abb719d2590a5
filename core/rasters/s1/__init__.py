"""Sentinel-1 products as analysts receive them: GRD `.SAFE` (folder, manifest or zip), OPERA and HyP3 RTC files.

`safe` finds a product's files, `annotation` parses its XML, `calibrate` turns DN into sigma0 with thermal
noise removed, `rtc` recognises terrain-corrected files and their polarisation pairs. `core.rasters.products`
is the one door in front of them.
"""
