"""Benchmarks: `python -m bench` runs them all, prints a table each and writes bench/results/*.json."""
