"""Bias tuning (BitFit) on mmaction2's VideoMAE ViT."""
from mmaction.registry import MODELS

from .bitfit import BitFitMixin
from .tunable_video_vit import TunableVideoViT

__all__ = ['BitFitVideoViT']


@MODELS.register_module()
class BitFitVideoViT(BitFitMixin, TunableVideoViT):
    """VideoMAE ViT whose biases train: the patch embedding's, and per block
    ``norm1``, ``attn.q_bias``, ``attn.v_bias`` (VideoMAE has no k bias),
    ``attn.proj``, ``norm2``, ``mlp.layers.0.0``, ``mlp.layers.1``; plus
    ``fc_norm`` (weight and bias, as in every video recipe here). See
    :class:`~.bitfit.BitFitMixin`. ViT-B: 94,464 trainable backbone
    parameters (93,696 biases, ``fc_norm``'s included, + its weight).

    Args:
        bitfit_cfg (dict | BitFitConfig): Overrides of ``norm_bias=True``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.

    Shapes: as :class:`TunableVideoViT`.
    """
