"""Attentive probing on a frozen ViT, written once for video and image.

The probe is a backbone option, not a head: it reads the token sequence,
which only the backbone has (the video backbone averages it away in
``pool``; mmaction2's recognizer hands its head whatever the backbone
returns). As part of the backbone it replaces the readout (mean of patch
tokens / CLS token) and everything downstream stays as in the recipe: the
same heads (``BNLinearHead``, the image neck and head), the same feature
shape ``(B, d)``, the contract suite, tunable-only checkpoints and task
files.
"""
from adaptformer_mm.peft import AttentiveProbeConfig, AttentivePooler

from .tunable_base import method_config_mixin

__all__ = ['AttentiveProbeMixin', 'AttentiveProbeConfig']


class AttentiveProbeMixin(method_config_mixin(AttentiveProbeConfig)):
    """An :class:`~adaptformer_mm.peft.AttentivePooler` (one learned query
    cross-attending to the output tokens) as the backbone's readout; the
    stock model is frozen, the pooler trains. It runs after the last block,
    so with ``skip_frozen_grad`` no block records a graph.

    Args:
        probe_cfg (dict | AttentiveProbeConfig): Overrides of
            ``num_heads=None`` (the backbone's), ``dropout=0.0``. Kept as the
            frozen ``self.probe_cfg``; the module is ``self.pooler``.
        **kwargs: Arguments of the backbone the mixin is combined with.
    """

    def build_method_modules(self) -> None:
        super().build_method_modules()
        heads = self.probe_cfg.num_heads or \
            self.tunable_blocks[0].attn.num_heads
        self.pooler = AttentivePooler(self.embed_dims, heads, self.probe_cfg)
