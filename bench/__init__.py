"""Benchmarks; results and how to rerun them are in docs/benchmarks.md."""
