"""Benchmarks that print their figures and ratios (``python -m bench``)."""
