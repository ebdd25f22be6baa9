"""Helpers for reading pipeline configs, shared by the datasets and the
benchmarks (so that neither imports the other for them)."""


def step_name(transform) -> str:
    """A pipeline step's type without its scope (``'mmaction.Resize'`` ->
    ``'Resize'``), from its config dict or the built transform."""
    if isinstance(transform, dict):
        return str(transform.get('type', '')).split('.')[-1]
    return type(transform).__name__


#: Dataset wrappers whose ``dataset`` holds the files and the pipeline: clips
#: per decoded video (``RepeatedAugDataset``) and a data-scale subset
#: (``ClassBalancedSubset``).
DATASET_WRAPPERS = ('RepeatedAugDataset', 'ClassBalancedSubset')


def innermost_dataset_cfg(dataset_cfg: dict) -> dict:
    """The dataset config inside every :data:`DATASET_WRAPPERS` wrapper (the
    same dict object, so that changing it changes ``dataset_cfg``)."""
    while step_name(dataset_cfg) in DATASET_WRAPPERS:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg
