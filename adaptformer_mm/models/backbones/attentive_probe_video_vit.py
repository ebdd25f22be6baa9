"""Attentive probing on mmaction2's VideoMAE ViT."""
from typing import Tuple

from mmaction.registry import MODELS
from torch import Tensor

from .attentive_probe import AttentiveProbeMixin
from .tunable_video_vit import TunableVideoViT

__all__ = ['AttentiveProbeVideoViT']


@MODELS.register_module()
class AttentiveProbeVideoViT(AttentiveProbeMixin, TunableVideoViT):
    """VideoMAE ViT whose feature is an attentive pool of its patch tokens:
    ``fc_norm(pooler(tokens))`` instead of ``fc_norm(mean(tokens))``; see
    :class:`~.attentive_probe.AttentiveProbeMixin`. Under ``tuning='peft'``
    the pooler, ``fc_norm`` and the head train. ViT-B: 1,774,080 pooler
    parameters. ``return_feat_map=True`` returns the stock token map (no
    pooling, so no pooler).

    Args:
        probe_cfg (dict | AttentiveProbeConfig): Overrides of
            ``num_heads=None`` (the backbone's), ``dropout=0.0``.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.

    Shapes: as :class:`TunableVideoViT`.
    """

    def pool(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        if self.return_feat_map:
            return super().pool(x, grid)
        x = self.pooler(self.norm(x))
        return self.fc_norm(x) if self.fc_norm is not None else x
