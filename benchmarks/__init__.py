"""Benchmark scripts for linclf (not part of the installed package)."""
