"""Where AdaptMLP goes in a Swin block (AdaptFormer, arXiv 2205.13535, 3.2).

:class:`SwinAdaptFormerMixin` is :class:`~.adaptformer.AdaptFormerMixin`
(same placement, equations, scale and init as on ViT; its ``forward_block``
runs unchanged on the token grid of a Swin block) with one AdaptMLP width
per stage: an adapter of stage ``s`` has the stage's width ``d_s`` and
bottleneck ``r_s`` of
:class:`~adaptformer_mm.peft.swin_adapter.SwinAdapterConfig` (default
``d_s // 12``, the authors' advice for Swin, AdaptFormer issue #4).
Written once for Video Swin and image Swin.
"""
from typing import Tuple, Union

from adaptformer_mm.peft import AdapterConfig, AdaptMLP
from adaptformer_mm.peft.swin_adapter import SwinAdapterConfig
from .adaptformer import AdaptFormerMixin

__all__ = ['SwinAdaptFormerMixin', 'SwinAdapterConfig']


class SwinAdaptFormerMixin(AdaptFormerMixin):
    """An AdaptMLP beside (or after) the MLP of each chosen Swin block.

    With ``x' = x + DropPath(W-MSA(LN1(x)))`` (shifted windows in odd
    blocks): parallel (default)
    ``out = x' + MLP(LN2(x')) + s*Up(ReLU(Down(x')))``, sequential
    ``m = MLP(LN2(x'))``, ``out = x' + m + s*Up(ReLU(Down(m)))``
    (see :class:`~.adaptformer.AdaptFormerMixin`). ``up = 0`` at init: the
    model equals the pretrained one. Adapters are stored as
    ``<stage>.blocks.<j>.adaptmlp``; every stock key is unchanged.

    Args:
        adapter_cfg (dict | SwinAdapterConfig): Overrides of
            ``bottleneck=None`` (``width // 12`` per stage; an int for every
            stage, or a list with one per stage), ``scale=0.1,
            learnable_scale=False, layernorm='none', dropout=<backbone
            default>, mode='parallel', layers=None`` (None: every block;
            else block indices over all stages, stage 0 first). Swin-B with
            the default: 1,161,948 adapter parameters. Kept as the frozen
            ``self.adapter_cfg``; the resolved per-stage bottlenecks are
            ``self.adapter_bottlenecks``, the adapted blocks
            ``self.adapter_layers``.
        **kwargs: Arguments of the Swin backbone the mixin is combined with.
    """

    def __init__(self,
                 *,
                 adapter_cfg: Union[None, dict, AdapterConfig] = None,
                 **kwargs):
        super().__init__(
            adapter_cfg=SwinAdapterConfig.from_cfg(
                adapter_cfg, dropout=self.default_adapter_dropout),
            **kwargs)

    def build_method_modules(self) -> None:
        cfg = self.adapter_cfg
        self.adapter_bottlenecks: Tuple[int, ...] = cfg.stage_bottlenecks(
            self.stage_widths)
        self.adapter_layers = cfg.resolve_layers(len(self.tunable_blocks))
        stage_cfgs = [cfg.for_stage(r) for r in self.adapter_bottlenecks]
        for i in self.adapter_layers:
            s = self.block_stage[i]
            self.tunable_blocks[i].adaptmlp = AdaptMLP(
                self.stage_widths[s], stage_cfgs[s])
