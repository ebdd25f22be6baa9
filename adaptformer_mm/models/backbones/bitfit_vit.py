"""Bias tuning (BitFit) on mmpretrain's image ViT."""
from mmpretrain.registry import MODELS

from .bitfit import BitFitMixin
from .tunable_vit import TunableViT

__all__ = ['BitFitViT']


@MODELS.register_module()
class BitFitViT(BitFitMixin, TunableViT):
    """mmpretrain ViT whose biases train: the patch embedding's, and per
    block ``ln1``, ``attn.qkv``, ``attn.proj``, ``ln2``, ``ffn.layers.0.0``,
    ``ffn.layers.1``; plus the final norm's bias. See
    :class:`~.bitfit.BitFitMixin`. ViT-B: 102,912 biases (+ the neck/head).

    Args:
        bitfit_cfg (dict | BitFitConfig): Overrides of ``norm_bias=True``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.

    Shapes: as :class:`TunableViT`.
    """
