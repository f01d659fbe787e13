"""Benchmark: a year of backfill through the whole pipeline, side by side with a bare script."""
