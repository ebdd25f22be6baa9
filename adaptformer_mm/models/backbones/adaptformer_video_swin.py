"""AdaptFormer (arXiv 2205.13535) on mmaction2's Video Swin Transformer."""
from mmaction.registry import MODELS

from .swin_adaptformer import SwinAdaptFormerMixin
from .tunable_video_swin import TunableVideoSwin

__all__ = ['AdaptFormerVideoSwin']


@MODELS.register_module()
class AdaptFormerVideoSwin(SwinAdaptFormerMixin, TunableVideoSwin):
    """Video Swin with an AdaptMLP beside (or after) the MLP of each block
    (stored as ``layers.{s}.blocks.{j}.adaptmlp``).

    See :class:`~.swin_adaptformer.SwinAdaptFormerMixin` for the equations
    and the per-stage bottleneck. Video default: adapter dropout 0.0 (the
    spec's video recipe). Under ``tuning='peft'`` only the adapters (and the
    recognizer's head) train.

    Args:
        adapter_cfg (dict | SwinAdapterConfig): Overrides of
            ``bottleneck=None`` (``width // 12`` per stage), ``scale=0.1,
            learnable_scale=False, layernorm='none', dropout=0.0,
            mode='parallel', layers=None``.
        **kwargs: :class:`TunableVideoSwin` and mmaction2
            ``SwinTransformer3D`` arguments.

    Shapes: as :class:`TunableVideoSwin`.
    """
    default_adapter_dropout = 0.0
