"""AdaptFormer (arXiv 2205.13535) on mmpretrain's Swin Transformer."""
from mmpretrain.registry import MODELS

from .swin_adaptformer import SwinAdaptFormerMixin
from .tunable_swin import TunableSwin

__all__ = ['AdaptFormerSwin']


@MODELS.register_module()
class AdaptFormerSwin(SwinAdaptFormerMixin, TunableSwin):
    """mmpretrain Swin with an AdaptMLP beside (or after) the MLP of each
    block (stored as ``stages.{s}.blocks.{j}.adaptmlp``).

    See :class:`~.swin_adaptformer.SwinAdaptFormerMixin` for the equations
    and the per-stage bottleneck. Image default: adapter dropout 0.1 (the
    spec's image recipe). Under ``tuning='peft'`` only the adapters (and the
    classifier's neck / head) train.

    Args:
        adapter_cfg (dict | SwinAdapterConfig): Overrides of
            ``bottleneck=None`` (``width // 12`` per stage), ``scale=0.1,
            learnable_scale=False, layernorm='none', dropout=0.1,
            mode='parallel', layers=None``.
        **kwargs: :class:`TunableSwin` and mmpretrain ``SwinTransformer``
            arguments.

    Shapes: as :class:`TunableSwin`.
    """
    default_adapter_dropout = 0.1
