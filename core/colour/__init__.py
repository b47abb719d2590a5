"""Colour sources: the model, or an optical guide's colours fitted to the scene."""
