"""Gatehouse benchmarks: `python -m bench` prints each section's table (docs/reference.md#performance-targets)."""
