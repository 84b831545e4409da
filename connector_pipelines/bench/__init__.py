"""Benchmarks: each pipeline's runs against the sandbox, measured the same way (runner.py, harness.py)."""
