"""Attentive probing on mmpretrain's image ViT."""
from typing import Tuple

from mmpretrain.registry import MODELS
from torch import Tensor

from .attentive_probe import AttentiveProbeMixin
from .tunable_vit import TunableViT

__all__ = ['AttentiveProbeViT']

#: Output types with one feature per image, which the pooler can replace.
POOLED_OUT_TYPES = ('cls_token', 'avg_featmap')


@MODELS.register_module()
class AttentiveProbeViT(AttentiveProbeMixin, TunableViT):
    """mmpretrain ViT whose feature is an attentive pool of its output
    tokens; see :class:`~.attentive_probe.AttentiveProbeMixin`.

    ``out_type='cls_token'`` (default): the pooler reads every token,
    ``[CLS, patches]``, after the final norm ``ln1``, and replaces the CLS
    readout. ``out_type='avg_featmap'``: it reads the patch tokens and
    replaces their mean (then ``ln2``, as stock). Under ``tuning='peft'``
    the pooler (and the neck/head of the classifier) train. ViT-B: 1,774,080
    pooler parameters.

    Args:
        probe_cfg (dict | AttentiveProbeConfig): Overrides of
            ``num_heads=None`` (the backbone's), ``dropout=0.0``.
        **kwargs: :class:`TunableViT` and mmpretrain ``VisionTransformer``
            arguments; ``out_type`` must be one of :data:`POOLED_OUT_TYPES`.

    Shapes: as :class:`TunableViT` (``(B, d)`` per ``out_indices``).
    """

    def build_method_modules(self) -> None:
        if self.out_type not in POOLED_OUT_TYPES:
            raise ValueError(
                f'out_type must be one of {POOLED_OUT_TYPES} with the '
                f'attentive probe (it pools the tokens into one feature), '
                f'got {self.out_type!r}')
        super().build_method_modules()

    def _format_output(self, x: Tensor, hw: Tuple[int, int]) -> Tensor:
        if self.out_type == 'cls_token':
            return self.pooler(x)
        return self.ln2(self.pooler(x[:, self.num_extra_tokens:]))
