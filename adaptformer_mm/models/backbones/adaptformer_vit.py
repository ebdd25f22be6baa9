"""AdaptFormer on mmpretrain's image ViT (arXiv 2205.13535)."""
from mmpretrain.registry import MODELS

from .adaptformer import AdaptFormerMixin
from .tunable_vit import TunableViT

__all__ = ['AdaptFormerViT']


@MODELS.register_module()
class AdaptFormerViT(AdaptFormerMixin, TunableViT):
    """mmpretrain ViT with an AdaptMLP beside (or after) the MLP of each
    ``layers.{i}`` (stored as ``layers.{i}.adaptmlp``).

    See :class:`~.adaptformer.AdaptFormerMixin` for the equations. Image
    default: adapter dropout 0.1 (the spec's image recipe). Under
    ``tuning='peft'`` only the adapters (and the neck/head of the classifier)
    train; the final norm ``ln1`` stays frozen unless ``train_final_norm``.

    Args:
        adapter_cfg (dict | AdapterConfig): Overrides of ``bottleneck=64,
            scale=0.1, learnable_scale=False, layernorm='none', dropout=0.1,
            mode='parallel', layers=None``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.

    Shapes: as :class:`TunableViT`.
    """
    default_adapter_dropout = 0.1
