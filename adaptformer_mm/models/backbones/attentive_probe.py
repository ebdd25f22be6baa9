"""Attentive probing on a frozen backbone, on every family.

The probe is a backbone option, not a head: it reads the tokens, which only
the backbone has (the video ViT averages them away; mmaction2's recognizer
hands its head whatever the backbone returns). As part of the backbone it
replaces the pooling of the family's ``readout`` (the mean of patch tokens,
the CLS token, a Swin's feature map) and everything downstream stays as in
the recipe: the same heads, the contract suite, tunable-only checkpoints and
task files. The settings and their defaults are
:class:`~adaptformer_mm.peft.AttentiveProbeConfig` (``probe_cfg``).
"""
from typing import Any, Callable, Optional

from torch import Tensor

from adaptformer_mm.peft import AttentiveProbeConfig, AttentivePooler

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'AttentiveProbeMixin', 'AttentiveProbeVideoViT', 'AttentiveProbeViT',
    'AttentiveProbeVideoSwin', 'AttentiveProbeSwin',
    'AttentiveProbeUniFormerV2'
]


class AttentiveProbeMixin(method_config_mixin(AttentiveProbeConfig)):
    """An :class:`~adaptformer_mm.peft.AttentivePooler` (one learned query
    cross-attending to the output tokens) in place of the readout's
    pooling; the stock model is frozen, the pooler trains. It runs after the
    last block, so with ``skip_frozen_grad`` no block records a graph.

    What it reads, per family: the VideoMAE ViT's normed patch tokens, then
    ``fc_norm``; the image ViT's tokens after ``ln1``, CLS first
    (``out_type='cls_token'``), or its patch tokens, then ``ln2``
    (``'avg_featmap'``); a Swin's last-stage tokens after its output norm,
    returned as a ``(B, C, 1, ...)`` map that the stock neck / head pooling
    passes through. On width ``d``: ``d + 2d + (2d^2 + 2d) + (d^2 + d)``
    parameters (ViT-B: 1,774,080; Swin-B, d=1024: 3,151,872).

    Args:
        probe_cfg (dict | AttentiveProbeConfig): Overrides of the defaults
            of :class:`~adaptformer_mm.peft.AttentiveProbeConfig`
            (``num_heads=None``: the last block's). Kept as the frozen
            ``self.probe_cfg``; the module is ``self.pooler``.
        **kwargs: Arguments of the family.
    """

    method_name = 'AttentiveProbe'

    def build_method_modules(self) -> None:
        self.check_pool_readout('the attentive probe')
        super().build_method_modules()
        heads = self.probe_cfg.num_heads or self.readout_heads
        self.pooler = AttentivePooler(self.stage_widths[-1], heads,
                                      self.probe_cfg)

    def readout(self, x: Tensor, ctx: Any, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None):
        return super().readout(x, ctx, index, pool=self.pool_tokens)

    def pool_tokens(self, tokens: Tensor, prefix: int) -> Tensor:
        """``(B, n, d) -> (B, d)`` through the pooler (every token, the
        prefix included)."""
        return self.pooler(tokens)


AttentiveProbeVideoViT = method_class(AttentiveProbeMixin, TunableVideoViT)
AttentiveProbeViT = method_class(AttentiveProbeMixin, TunableViT)
AttentiveProbeVideoSwin = method_class(AttentiveProbeMixin, TunableVideoSwin)
AttentiveProbeSwin = method_class(AttentiveProbeMixin, TunableSwin)
AttentiveProbeUniFormerV2 = method_class(AttentiveProbeMixin,
                                         TunableUniFormerV2)
