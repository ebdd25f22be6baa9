"""AdaptFormer on mmaction2's VideoMAE ViT (arXiv 2205.13535)."""
from mmaction.registry import MODELS

from .adaptformer import AdaptFormerMixin
from .tunable_video_vit import TunableVideoViT

__all__ = ['AdaptFormerVideoViT']


@MODELS.register_module()
class AdaptFormerVideoViT(AdaptFormerMixin, TunableVideoViT):
    """VideoMAE ViT with an AdaptMLP beside (or after) the MLP of each block.

    See :class:`~.adaptformer.AdaptFormerMixin` for the equations. Video
    default: adapter dropout 0.0 (the spec's video recipe). Under
    ``tuning='peft'`` the adapters, ``fc_norm`` and the head train.

    Args:
        adapter_cfg (dict | AdapterConfig): Overrides of ``bottleneck=64,
            scale=0.1, learnable_scale=False, layernorm='none', dropout=0.0,
            mode='parallel', layers=None``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.

    Shapes: as :class:`TunableVideoViT`.
    """
    default_adapter_dropout = 0.0
