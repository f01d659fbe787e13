"""Benchmark: a year of backfill through the whole pipeline, side by side with a bare script.

It serves its mirror with the tests' NSE emulator (tests.nse_server): run it from the repository
root (`python -m bench`), where the `tests` package is importable.
"""
