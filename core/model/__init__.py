"""The model: networks, checkpoints, batched inference."""
