"""Benchmarks: each prints a table and rewrites its section of bench/RESULTS.md."""
