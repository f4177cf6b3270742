"""Benchmarks: scripts that print timings and ratios measured in one run (see README, Benchmarks)."""
