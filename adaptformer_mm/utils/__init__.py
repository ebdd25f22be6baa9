"""Tooling helpers that are not part of a model: benchmarks.

Not imported by ``adaptformer_mm/__init__.py``: importing the package for a
config must not pay for tools it does not run.
"""
