"""Gatehouse benchmarks: `python -m bench` prints each section's table (docs/reference.md#performance-targets)."""

import os

# Functions run in this process, and Powertools' Logger takes its level once, at its first import
# (the first section that loads a function): a request log line per call would bury the tables.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
