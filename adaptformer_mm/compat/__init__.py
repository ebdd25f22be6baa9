"""Fixes for verified breakages of the pinned OpenMMLab stack on modern torch.

Each fix lives in its own module, is idempotent and is applied once when
``adaptformer_mm`` is imported, *before* ``mmaction.models`` is imported.
See ``README.md`` ("Why each pin") and ``tests/compat/`` for the failures
they address.
"""
from .checkpoint_loading import TRUST_ENV, patch_checkpoint_loader, safe_torch_load
from .mmaction_imports import patch_mmaction_imports
from .strict_loading import CheckpointMismatchError, patch_strict_loading

__all__ = [
    'apply_all', 'CheckpointMismatchError', 'patch_checkpoint_loader',
    'patch_mmaction_imports', 'patch_strict_loading', 'safe_torch_load',
    'TRUST_ENV'
]


def apply_all() -> None:
    patch_mmaction_imports()
    patch_checkpoint_loader()
    patch_strict_loading()
