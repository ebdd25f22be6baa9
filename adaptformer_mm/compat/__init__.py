"""Fixes for verified breakages of the pinned OpenMMLab stack on modern torch.

A fix here makes the pinned stack do what it was meant to do; it is not a
behaviour this project chose (those live in :mod:`adaptformer_mm.engine` and
are switched on from the config). Each fix lives in its own module, is
idempotent, names the versions it was written for
(:func:`~._guard.version_guard`: one ``StackVersionWarning`` on any
other version) and is applied once when ``adaptformer_mm`` is imported: the
import fixes before ``mmaction.models`` is imported, the fixes of mmaction2
classes right after. See ``docs/stack.md`` and ``tests/compat/`` for
the failures they address.
"""
import warnings

from .checkpoint_argument import patch_checkpoint_argument
from .checkpoint_loading import patch_checkpoint_loader
from .head_loss_dtype import patch_head_loss_dtype
from .mmaction_imports import patch_mmaction_imports
from .optim_param_groups import patch_optim_param_groups
from ._guard import StackVersionWarning, version_guard

__all__ = [
    'apply_all', 'patch_checkpoint_argument', 'patch_checkpoint_loader',
    'patch_head_loss_dtype', 'patch_mmaction_imports',
    'patch_optim_param_groups', 'StackVersionWarning', 'version_guard'
]


def apply_all() -> None:
    patch_mmaction_imports()
    patch_checkpoint_loader()
    patch_checkpoint_argument()
    patch_optim_param_groups()
    with warnings.catch_warnings():
        # mmcv-lite has no compiled ops; mmcv warns about deformable
        # attention, which nothing here uses.
        warnings.filterwarnings('ignore', message='Fail to import ``MultiScale')
        import mmaction.models  # noqa: F401  (needs the import fixes above)
    patch_head_loss_dtype()
