"""Partial-k fine-tuning (VPT's "Partial-1") on mmaction2's VideoMAE ViT."""
from mmaction.registry import MODELS

from .partial import PartialMixin
from .tunable_video_vit import TunableVideoViT

__all__ = ['PartialVideoViT']


@MODELS.register_module()
class PartialVideoViT(PartialMixin, TunableVideoViT):
    """VideoMAE ViT whose last ``k`` blocks (``blocks.{L-k..L-1}``) and final
    norm (``fc_norm``) train; see :class:`~.partial.PartialMixin`. ViT-B,
    k=1: 7,087,104 block + 1,536 ``fc_norm`` parameters (+ the head).

    Args:
        partial_cfg (dict | PartialConfig): Overrides of ``num_blocks=1,
            final_norm=True``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.

    Shapes: as :class:`TunableVideoViT`.
    """
