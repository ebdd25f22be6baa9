"""Helpers for reading pipeline configs, shared by the datasets and the
benchmarks (so that neither imports the other for them)."""


def step_name(transform) -> str:
    """A pipeline step's type without its scope (``'mmaction.Resize'`` ->
    ``'Resize'``), from its config dict or the built transform."""
    if isinstance(transform, dict):
        return str(transform.get('type', '')).split('.')[-1]
    return type(transform).__name__
