"""AdaptFormer (arXiv 2205.13535, Sec. 3.2): an AdaptMLP beside the MLP of
each chosen block, on every family.

:class:`AdaptFormerMixin` is the method, written once: it needs the family's
blocks, ``attn_branch`` / ``mlp_branch`` and the width of each stage (a ViT
has one; a Swin doubles it per stage and gets one bottleneck per stage,
:class:`~adaptformer_mm.peft.swin_adapter.SwinAdapterConfig`). Its settings
and their defaults are :class:`~adaptformer_mm.peft.AdapterConfig`
(``adapter_cfg`` in configs); a family may change a default (the image
families' adapter dropout 0.1, the spec's image recipe).
"""
from typing import Optional

from torch import Tensor, nn

from adaptformer_mm.peft import AdapterConfig, AdaptMLP

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'AdaptFormerMixin', 'AdaptFormerVideoViT', 'AdaptFormerViT',
    'AdaptFormerVideoSwin', 'AdaptFormerSwin',
    'AdaptFormerUniFormerV2'
]


class AdaptFormerMixin(method_config_mixin(AdapterConfig)):
    """An AdaptMLP beside (or after) the MLP of each chosen block.

    With ``x' = x + Attn(LN1(x))`` (the residual stream after attention;
    shifted-window attention on Swin):

    * ``mode='parallel'`` (paper default, Eq. 3 as the released code runs it):
      ``out = x' + MLP(LN2(x')) + s * Up(ReLU(Down(x')))``;
    * ``mode='sequential'``: ``m = MLP(LN2(x'))``,
      ``out = x' + m + s * Up(ReLU(Down(m)))``.

    The adapter reads ``x'``, not ``LN2(x')`` (the authors confirmed the code
    is the method) and gets no drop-path. With ``up = 0`` at init the model
    equals the pretrained one. Adapters are stored as ``<block>.adaptmlp``;
    every stock key is unchanged.

    Args:
        adapter_cfg (dict | AdapterConfig): Overrides of the defaults of
            :class:`~adaptformer_mm.peft.AdapterConfig` (Swin:
            :class:`~adaptformer_mm.peft.swin_adapter.SwinAdapterConfig`).
            Kept as the frozen ``self.adapter_cfg``; the adapted blocks,
            resolved against the depth, are ``self.adapter_layers``, the
            bottleneck of each stage ``self.adapter_bottlenecks``.
        **kwargs: Arguments of the family.
    """

    method_name = 'AdaptFormer'

    def build_method_modules(self) -> None:
        super().build_method_modules()
        cfg = self.adapter_cfg
        blocks = self.tunable_blocks
        stage_cfgs = cfg.stage_configs(self.stage_widths)
        self.adapter_bottlenecks = tuple(c.bottleneck for c in stage_cfgs)
        self.adapter_layers = cfg.resolve_layers(len(blocks))
        for i in self.adapter_layers:
            s = self.block_stage[i]
            blocks[i].adaptmlp = AdaptMLP(self.stage_widths[s], stage_cfgs[s])

    def adapter(self, index: int) -> Optional[nn.Module]:
        """The AdaptMLP of block ``index``, or None if it is not adapted."""
        return getattr(self.tunable_blocks[index], 'adaptmlp', None)

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        adapter = self.adapter(index)
        if adapter is None:
            return super().forward_block(index, x)
        block = self.tunable_blocks[index]
        x = x + self.attn_branch(block, x)
        mlp = self.mlp_branch(block, x)
        if self.adapter_cfg.mode == 'parallel':
            return x + mlp + adapter(x)
        return x + mlp + adapter(mlp)


AdaptFormerVideoViT = method_class(AdaptFormerMixin, TunableVideoViT)
AdaptFormerViT = method_class(AdaptFormerMixin, TunableViT)
AdaptFormerVideoSwin = method_class(AdaptFormerMixin, TunableVideoSwin)
AdaptFormerSwin = method_class(AdaptFormerMixin, TunableSwin)
AdaptFormerUniFormerV2 = method_class(AdaptFormerMixin, TunableUniFormerV2)
