"""Benchmarks that print numbers: speed and memory targets live here, not in timed tests."""
