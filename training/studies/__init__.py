"""Studies: measurements run once to decide something, apart from the training recipe."""
