"""A training run's artefacts, defined once, and their tolerant readers."""
