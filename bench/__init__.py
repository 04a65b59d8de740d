"""Gatehouse benchmarks: `python -m bench` prints each section's table (SPEC §15)."""
