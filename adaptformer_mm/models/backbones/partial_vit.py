"""Partial-k fine-tuning (VPT's "Partial-1") on mmpretrain's image ViT."""
from mmpretrain.registry import MODELS

from .partial import PartialMixin
from .tunable_vit import TunableViT

__all__ = ['PartialViT']


@MODELS.register_module()
class PartialViT(PartialMixin, TunableViT):
    """mmpretrain ViT whose last ``k`` blocks (``layers.{L-k..L-1}``) and
    final norm (``ln1``, or ``ln2`` with ``out_type='avg_featmap'``) train;
    see :class:`~.partial.PartialMixin`. ViT-B, k=1: 7,087,872 block + 1,536
    norm parameters (+ the neck/head).

    Args:
        partial_cfg (dict | PartialConfig): Overrides of ``num_blocks=1,
            final_norm=True``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments.

    Shapes: as :class:`TunableViT`.
    """
