"""Scores of a result against an optical reference."""
