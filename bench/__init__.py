"""Benchmarks: each module prints a table. Not part of the test run; results go to docs/benchmarks.md."""
