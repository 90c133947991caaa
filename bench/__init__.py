"""Benchmarks of seer-backfill; `bench/run.py` is the entry point."""
