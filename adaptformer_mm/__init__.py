"""adaptformer_mm: AdaptFormer and VPT for VideoMAE / ViT on OpenMMLab.

Importing this package (or ``custom_imports=dict(imports=['adaptformer_mm'])``
in a config) first repairs the pinned stack (see :mod:`adaptformer_mm.compat`),
then registers every model, dataset, hook and model wrapper the project adds.
It changes nothing else in mmengine: the project's choices (strict checkpoint
loading, one log line for frozen tensors) are switched on by a config's keys
around a run (see :mod:`adaptformer_mm.engine.choices`).
"""
from .compat import apply_all as _apply_compat_fixes
from .version import __version__

_apply_compat_fixes()

from . import datasets, engine, models  # noqa: F401,E402

__all__ = ['__version__']
