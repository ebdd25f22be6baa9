"""One log line instead of one warning per frozen tensor.

A choice of this project, not a fix: switched on by the config key
``fold_frozen_param_warnings = True`` (set in
``configs/_base_/default_runtime.py`` and the image runtime) through
:func:`~.choices.runtime_choices`, which ``tools/train.py`` enters
around the run; other code uses the :func:`fold_frozen_param_warnings`
context manager. ``fold_frozen_param_warnings = False`` keeps mmengine's
warning per tensor.

With ``paramwise_cfg`` set, mmengine's ``DefaultOptimWrapperConstructor``
leaves every ``requires_grad=False`` parameter out of the optimizer and logs
a warning for each one (``backbone.blocks.3.attn.qkv.weight is skipped since
its requires_grad=False``): about 150 lines for a frozen ViT-B, more for a
ViT-L, in every training log, burying the warnings that matter. For a
parameter-efficient run a frozen backbone is the intent, not a problem.

While ``add_params`` runs, a :class:`FrozenParamFilter` on the current
MMLogger drops exactly those records (a WARNING whose whole text is that
sentence, with ``False``) and counts them; then one INFO line says how many
tensors were left out. Every other record, that constructor's other warnings
included, passes; the filter is removed when ``add_params`` returns. What
does train is listed by ``TunableSummaryHook``.
"""
import functools
import logging
import re
from contextlib import contextmanager
from typing import Iterator
from unittest import mock

__all__ = ['FrozenParamFilter', 'SKIPPED', 'fold_frozen_param_warnings',
           'summary_line']

_MARK = '_adaptformer_mm_frozen_param_summary'
_BUSY = '_adaptformer_mm_adding_params'  # set on the constructor meanwhile
# mmengine's text: f'{prefix}.{name} is skipped since its requires_grad=...'
SKIPPED = re.compile(r'^\S* is skipped since its requires_grad=False$')


class FrozenParamFilter(logging.Filter):
    """Drops mmengine's per-tensor ``requires_grad=False`` warnings and
    counts them in ``dropped``."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.levelno == logging.WARNING
                and SKIPPED.match(record.getMessage())):
            self.dropped += 1
            return False
        return True


def summary_line(dropped: int, frozen_params: int) -> str:
    return (f'optimizer: {dropped} frozen parameter tensors ('
            f'{frozen_params:,} parameters, requires_grad=False) left out; '
            'TunableSummaryHook lists what trains')


@contextmanager
def fold_frozen_param_warnings() -> Iterator[None]:
    """``DefaultOptimWrapperConstructor.add_params`` folds its frozen-tensor
    warnings into one line inside; mmengine's own method is back on leaving.
    Re-entrant (an inner use changes nothing)."""
    from mmengine.optim import DefaultOptimWrapperConstructor

    original = DefaultOptimWrapperConstructor.add_params
    if getattr(original, _MARK, False):
        yield
        return
    with mock.patch.object(DefaultOptimWrapperConstructor, 'add_params',
                           _folding(original)):
        yield


def _folding(original):
    """``original`` (mmengine's ``add_params``) with a
    :class:`FrozenParamFilter` on the current logger while it runs."""
    from mmengine.logging import MMLogger, print_log

    @functools.wraps(original)
    def add_params(self, params, module, *args, **kwargs):
        if getattr(self, _BUSY, False):  # add_params recurses into children
            return original(self, params, module, *args, **kwargs)
        logger = MMLogger.get_current_instance()
        folded = FrozenParamFilter()
        logger.addFilter(folded)
        setattr(self, _BUSY, True)
        try:
            return original(self, params, module, *args, **kwargs)
        finally:
            setattr(self, _BUSY, False)
            logger.removeFilter(folded)
            if folded.dropped:
                frozen = sum(p.numel() for p in module.parameters()
                             if not p.requires_grad)
                print_log(summary_line(folded.dropped, frozen),
                          logger=logger, level=logging.INFO)

    setattr(add_params, _MARK, True)
    return add_params
