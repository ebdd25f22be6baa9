"""VPT (visual prompt tuning, arXiv 2203.12119) on mmpretrain's Swin."""
from mmpretrain.registry import MODELS

from .swin_vpt import SwinVPTMixin
from .tunable_swin import TunableSwin

__all__ = ['VPTSwin']


@MODELS.register_module()
class VPTSwin(SwinVPTMixin, TunableSwin):
    """mmpretrain Swin with learnable prompt tokens in every window
    attention, as VPT runs Swin-B (see :mod:`~.swin_vpt` for each choice
    and its source in VPT's released code).

    Init: ``U(-v, v)``, ``v = sqrt(6 / (3 * 4 * 4 + d_0))`` (Swin-B,
    ``d_0 = 128``: v = 0.1846), VPT's bound for every stage.

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', layers=None``.
        **kwargs: :class:`TunableSwin` and mmpretrain ``SwinTransformer``
            arguments.

    Shapes: as :class:`TunableSwin`.
    """
