"""Benchmark: a year of backfill through the whole pipeline, side by side with a bare script.

It serves its mirror with the tests' NSE emulator (tests/nse_server.py), hence the path below.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
