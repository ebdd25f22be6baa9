"""Fixes for verified breakages of the pinned OpenMMLab stack on modern torch
(and one for its log: ``frozen_param_log``).

Each fix lives in its own module, is idempotent and is applied once when
``adaptformer_mm`` is imported: the import fixes before ``mmaction.models`` is
imported, the fixes of mmaction2 classes right after.
See ``README.md`` ("Why each pin") and ``tests/compat/`` for the failures
they address.
"""
import warnings

from .checkpoint_loading import (TRUST_ENV, patch_checkpoint_loader,
                                 safe_torch_load)
from .frozen_param_log import FrozenParamFilter, patch_frozen_param_log
from .head_loss_dtype import patch_head_loss_dtype
from .mmaction_imports import patch_mmaction_imports
from .optim_param_groups import patch_optim_param_groups
from .strict_loading import CheckpointMismatchError, patch_strict_loading

__all__ = [
    'apply_all', 'CheckpointMismatchError', 'FrozenParamFilter',
    'patch_checkpoint_loader', 'patch_frozen_param_log',
    'patch_head_loss_dtype', 'patch_mmaction_imports',
    'patch_optim_param_groups', 'patch_strict_loading',
    'safe_torch_load', 'TRUST_ENV'
]


def apply_all() -> None:
    patch_mmaction_imports()
    patch_checkpoint_loader()
    patch_strict_loading()
    patch_optim_param_groups()
    patch_frozen_param_log()
    with warnings.catch_warnings():
        # mmcv-lite has no compiled ops; mmcv warns about deformable
        # attention, which nothing here uses.
        warnings.filterwarnings('ignore', message='Fail to import ``MultiScale')
        import mmaction.models  # noqa: F401  (needs the import fixes above)
    patch_head_loss_dtype()
