"""One log line instead of one warning per frozen tensor.

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


def patch_frozen_param_log() -> None:
    from mmengine.logging import MMLogger, print_log
    from mmengine.optim import DefaultOptimWrapperConstructor

    original = DefaultOptimWrapperConstructor.add_params
    if getattr(original, _MARK, False):
        return

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
    DefaultOptimWrapperConstructor.add_params = add_params
